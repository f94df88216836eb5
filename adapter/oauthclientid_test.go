package adapter

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// TestOAuthClientIDNoRowHolds: anyone may post to the token endpoint, and a
// client_id no row can hold (bytes that are not UTF-8, a NUL) is an unknown client: 401
// invalid_client, counted toward the address's throttle like any wrong client. On
// PostgreSQL, which refuses such a parameter, it was a store fault: 503, a store error
// logged, and an attempt the throttle never counted.
func TestOAuthClientIDNoRowHolds(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		h := &oauthHarness{clock: &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
		h.adminHarness = newAdminHarnessOn(t, st)
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		c, secret, err := h.manager.CreateClient(t.Context(), "test", "verify")
		if err != nil {
			t.Fatal(err)
		}
		h.id, h.secret = c.ID, secret
		h.harness = newHarness(t, func(o *Options) {
			o.Admin = h.manager
			o.OAuth = &OAuth{Clients: st.(store.OAuthClients), Key: key, Lifetime: 10 * time.Minute, Now: h.clock.Now}
		})
		h.srv.throttle.now = h.clock.Now
		for _, id := range []string{"emfa-\xff\xfe", "emfa-\x00"} {
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
			if code, out := h.token(t, form, "", ""); code != http.StatusUnauthorized || out["error"] != "invalid_client" {
				t.Errorf("client_id %q: %d %v, want 401 invalid_client", id, code, out)
			}
		}
		grant := url.Values{"grant_type": {"client_credentials"}}
		if code, out := h.token(t, grant, h.id, h.secret); code != http.StatusOK {
			t.Errorf("the real client after them: %d %v, want a token", code, out)
		}
	})
}
