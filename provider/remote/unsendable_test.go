package remote

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
)

// TestUnsendableRequestIsATransformFailure: an outgoing transform whose result
// cannot be sent (a method that is no HTTP token, a header name or value net/http
// refuses: a value built from data holding a line break) failed as a transform, not as
// the vendor: README "Errors" has it FAILED with "transform failed (see log)". Before,
// net/http's refusal was taken for a vendor fault: the reason said the vendor, a result
// poll answered PENDING until the deadline turned it into TIMEOUT, and the vendor's URL
// was counted a failure (ejected after three) though no request ever left.
func TestUnsendableRequestIsATransformFailure(t *testing.T) {
	for _, c := range []struct{ name, outgoing string }{
		{"a method that is no token", `{"method": "GE T"}`},
		{"a header value with a line break", `{"header": header.put("x-user", body.attributes.username + "\r\nx-admin: 1")}`},
		{"a header name that is no token", `{"header": {"x user": "a"}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			hits := 0
			v := newVendor(t, func(r *http.Request, _ string) (int, string) {
				if strings.HasSuffix(r.URL.Path, "/start") {
					return 200, `{"txid":"vendor-tx"}`
				}
				hits++
				return 200, `{"status":"SUCCESS"}`
			})
			e, err := New(Options{Webhook: &Webhook{URLs: []string{v.srv.URL}, Resources: map[string]Resource{
				"initiate": {Suffix: "/start", Transform: Transform{Incoming: `{"body": {"status": "PENDING", "transactionId": body.txid}}`}},
				"validate": {Suffix: "/v", Transform: Transform{Outgoing: c.outgoing}},
				"result":   {Suffix: "/status", Method: "GET", Transform: Transform{Outgoing: c.outgoing}},
			}}, Provider: "acme", Store: testdb.SQLite(t), ChallengeLifetime: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			ctx := context.Background()

			out, err := e.Validate(ctx, req("totp", "", "1"))
			if err != nil || out.Status != provider.StatusFailed || out.Reason != reasonTransform {
				t.Errorf("validate: %+v %v, want FAILED, %q", out, err, reasonTransform)
			}
			started, err := e.Initiate(ctx, req("push", "", ""))
			if err != nil || started.Status != provider.StatusPending {
				t.Fatalf("initiate: %+v %v", started, err)
			}
			out, err = e.Result(ctx, req("push", started.TransactionID, ""))
			if err != nil || out.Status != provider.StatusFailed {
				t.Errorf("result: %+v %v, want FAILED (a transform that fails), not a vendor left undecided", out, err)
			}
			if hits != 0 {
				t.Errorf("the vendor was called %d times", hits)
			}
			if n := e.urls.state[0].fails.Load(); n != 0 {
				t.Errorf("the vendor's URL was counted %d failures for requests that never left", n)
			}
			if n := e.stats.VendorErrors.Load(); n != 0 {
				t.Errorf("%d vendor errors counted, want 0", n)
			}
		})
	}
}
