package remote

import (
	"bytes"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
)

// closedURL is an http URL on loopback where nothing listens: a vendor that is down.
func closedURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// A vendor call that fails logs where it went without what a transform or the
// configuration put in a URL's query or user info: an API key there is a secret.
func TestVendorErrorsLogNoURLSecrets(t *testing.T) {
	for _, c := range []struct {
		name string
		w    func(vendor string) *Webhook
	}{
		{"a key in the path the transform built", func(vendor string) *Webhook {
			return &Webhook{URLs: []string{vendor}, Resources: map[string]Resource{"validate": {Suffix: "/v",
				Transform: Transform{Outgoing: `{"path": "/validate?api_key=" + "vendorsecret"}`}}}}
		}},
		{"a key in the query the transform built", func(vendor string) *Webhook {
			return &Webhook{URLs: []string{vendor}, Resources: map[string]Resource{"validate": {Suffix: "/v",
				Transform: Transform{Outgoing: `{"query": {"api_key": "vendorsecret"}}`}}}}
		}},
		{"user info in the vendor's URL", func(vendor string) *Webhook {
			return &Webhook{URLs: []string{strings.Replace(vendor, "http://", "http://admin:vendorsecret@", 1)},
				Resources: map[string]Resource{"validate": {Suffix: "/v"}}}
		}},
		{"a key in the token endpoint's query", func(vendor string) *Webhook {
			return &Webhook{URLs: []string{vendor}, Resources: map[string]Resource{"validate": {Suffix: "/v"}},
				Authentication: Authentication{Type: AuthOAuth, OAuth: OAuth{
					TokenEndpoint: closedURL(t) + "/token?tenant_key=vendorsecret", ClientID: "c1", ClientSecret: "client-secret-1",
				}}}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs lockedBuffer
			w := c.w(closedURL(t))
			w.Timeout = Duration(5 * time.Second)
			e, err := New(Options{Webhook: w, Provider: "acme", Store: testdb.SQLite(t), ChallengeLifetime: time.Minute,
				Log: slog.New(slog.NewJSONHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			out, err := e.Validate(t.Context(), req("totp", "", "1"))
			if out.Status != provider.StatusFailed || err != nil {
				t.Fatalf("validate: %+v %v, want FAILED", out, err)
			}
			if !strings.Contains(logs.String(), "vendor call failed") {
				t.Errorf("no vendor call failed in the log:\n%s", logs.String())
			}
			if strings.Contains(logs.String(), "vendorsecret") || strings.Contains(logs.String(), "client-secret-1") {
				t.Errorf("a secret reached the log:\n%s", logs.String())
			}
		})
	}
}
