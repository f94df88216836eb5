package remote

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
)

// TestValidateTimeoutEndsTransaction: a vendor that answers a validate within a
// transaction TIMEOUT ended the challenge: emfa remembers it, and a later validate or
// poll of that transaction answers TIMEOUT without asking the vendor, whatever the
// vendor would say by then.
func TestValidateTimeoutEndsTransaction(t *testing.T) {
	var mu sync.Mutex
	says := `{"status":"TIMEOUT"}`
	v := newVendor(t, func(r *http.Request, _ string) (int, string) {
		if strings.HasSuffix(r.URL.Path, "/start") {
			return 200, `{"status":"PENDING","transactionId":"vendor-tx"}`
		}
		mu.Lock()
		defer mu.Unlock()
		return 200, says
	})
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	e, err := New(Options{Webhook: &Webhook{URLs: []string{v.srv.URL}, Resources: map[string]Resource{
		"initiate": {Suffix: "/start"}, "validate": {Suffix: "/check"}, "result": {Suffix: "/status"},
	}}, Provider: "acme", Store: testdb.SQLite(t), ChallengeLifetime: time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	out, err := e.Initiate(ctx, req("smsotp", "", ""))
	if err != nil || out.Status != provider.StatusPending {
		t.Fatalf("initiate: %+v %v", out, err)
	}
	tx := out.TransactionID
	if got, err := e.Validate(ctx, req("smsotp", tx, "123456")); err != nil || got.Status != provider.StatusTimeout {
		t.Fatalf("first validate: %+v %v, want TIMEOUT", got, err)
	}
	mu.Lock()
	says = `{"status":"SUCCESS"}`
	mu.Unlock()
	if got, err := e.Validate(ctx, req("smsotp", tx, "123456")); err != nil || got.Status != provider.StatusTimeout {
		t.Fatalf("validate after TIMEOUT: %+v %v, want TIMEOUT", got, err)
	}
	if got, err := e.Result(ctx, req("smsotp", tx, "")); err != nil || got.Status != provider.StatusTimeout {
		t.Fatalf("result after TIMEOUT: %+v %v, want TIMEOUT", got, err)
	}
}
