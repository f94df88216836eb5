package remote

import (
	"context"
	"net/http"
	"testing"

	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/provider"
)

// TestVendorCallOutlivesVerifyHangingUp: Verify hung up (its own timeout, a broken
// connection) while the vendor was starting a push. The call was cut short and the
// initiate answered FAILED, the answer Verify's retry then got from the record, while the
// vendor's push was on its way to the phone. The call now runs to its end (bounded by the
// request's deadline): PENDING, with the transaction that follows the vendor's.
func TestVendorCallOutlivesVerifyHangingUp(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	v := newVendor(t, func(r *http.Request, _ string) (int, string) {
		close(entered)
		<-release
		return 200, `{"status":"PENDING","transactionId":"vendor-tx-1"}`
	})
	e := newEngine(t, &Webhook{URLs: []string{v.srv.URL}, Resources: map[string]Resource{
		"initiate": {Suffix: "/start"},
	}})
	ctx, hangUp := context.WithCancel(context.Background())
	var out provider.Outcome
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		out, err = e.Initiate(ctx, req("push", "", ""))
	}()
	testwait.Recv(t, "the initiate to reach the vendor", entered)
	hangUp()
	close(release)
	testwait.Recv(t, "the initiate to end once the vendor answered", done)
	if err != nil || out.Status != provider.StatusPending || out.TransactionID == "" {
		t.Fatalf("initiate when Verify hung up during the vendor call: %+v, %v; want PENDING with a transaction", out, err)
	}
}
