package remote

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// A user emfa knows and has disabled signs in through no provider, a vendor's included
// (contract §4): no enrollments, and every initiate, validate and result FAILED without
// the vendor being asked. A user emfa does not know is the vendor's alone.
func TestDisabledUserSignsInThroughNoVendor(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		v := newVendor(t, func(r *http.Request, _ string) (int, string) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/enrollments"):
				return 200, `[{"capability":"push","id":"dev-1","attributes":{}}]`
			case strings.HasSuffix(r.URL.Path, "/start"):
				return 200, `{"status":"PENDING","transactionId":"tx-1"}`
			}
			return 200, `{"status":"SUCCESS"}`
		})
		e, err := New(Options{Webhook: &Webhook{URLs: []string{v.srv.URL}, Resources: map[string]Resource{
			"enrollments": {Suffix: "/enrollments"},
			"initiate":    {Suffix: "/start"},
			"validate":    {Suffix: "/check"},
			"result":      {Suffix: "/result"},
		}}, Provider: "acme", Store: st, ChallengeLifetime: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		ctx := context.Background()
		if err := st.CreateUser(ctx, store.User{ID: "u-carol", Name: "Carol", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		carol := func(capability, txid, passvalue string) provider.Request {
			r := req(capability, txid, passvalue)
			r.Username, r.Attributes["username"] = "carol", "carol" // any case finds her
			return r
		}
		// Active: the vendor decides; a push is started before she is disabled.
		if list, err := e.Enrollments(ctx, "carol"); err != nil || len(list) != 1 {
			t.Fatalf("active user's enrollments: %v %v", list, err)
		}
		started, err := e.Initiate(ctx, carol("push", "", ""))
		if err != nil || started.Status != provider.StatusPending {
			t.Fatalf("active user's initiate: %+v %v", started, err)
		}
		tx := started.TransactionID
		if err := st.SetUserDisabled(ctx, "carol", true); err != nil {
			t.Fatal(err)
		}
		asked := len(v.requests())
		if list, err := e.Enrollments(ctx, "carol"); err != nil || len(list) != 0 {
			t.Errorf("disabled user's enrollments: %v %v, want []", list, err)
		}
		for name, call := range map[string]func() (provider.Outcome, error){
			"initiate":        func() (provider.Outcome, error) { return e.Initiate(ctx, carol("push", "", "")) },
			"validate":        func() (provider.Outcome, error) { return e.Validate(ctx, carol("totp", "", "123456")) },
			"validate step 2": func() (provider.Outcome, error) { return e.Validate(ctx, carol("push", tx, "123456")) },
			"result":          func() (provider.Outcome, error) { return e.Result(ctx, carol("push", tx, "")) },
		} {
			if out, err := call(); err != nil || out.Status != provider.StatusFailed || out.Reason != "user disabled" {
				t.Errorf("disabled user's %s: %+v %v, want FAILED (user disabled)", name, out, err)
			}
		}
		if got := len(v.requests()); got != asked {
			t.Errorf("the vendor was asked %d times for a disabled user", got-asked)
		}
		// A user emfa does not know passes through to the vendor.
		if list, err := e.Enrollments(ctx, "dave"); err != nil || len(list) != 1 {
			t.Errorf("unknown user's enrollments: %v %v", list, err)
		}
		if out, err := e.Validate(ctx, req("totp", "", "123456")); err != nil || out.Status != provider.StatusSuccess {
			t.Errorf("unknown user's validate: %+v %v", out, err)
		}
	})
}
