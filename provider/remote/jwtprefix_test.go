package remote

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
)

// A jwt.httpHeaderPrefix with a line break in it (YAML's `httpHeaderPrefix: |` block
// keeps one at its end) was taken at load; net/http then refused to send every call's
// header, each call FAILED as a network fault counted against its URL, so that every URL
// was ejected in turn. It is refused at load, as a static header's value is.
func TestJWTPrefixRefusedAtLoad(t *testing.T) {
	t.Parallel()
	for _, prefix := range []string{"Bearer\n", "JWT\r\nX-Injected: 1\r\n", "Bearer\x00"} {
		w := &Webhook{URLs: []string{"https://vendor.example"}, Resources: map[string]Resource{"validate": {}},
			Authentication: Authentication{Type: AuthJWT, JWT: JWT{Alg: "HS256", Key: "0123456789abcdef0123456789abcdef", Lifetime: 300, HTTPHeaderPrefix: &prefix}}}
		if e, err := New(Options{Webhook: w, Provider: "acme", Store: testdb.SQLite(t)}); err == nil {
			e.Close()
			t.Errorf("prefix %q: the provider was built", prefix)
		} else if !strings.Contains(err.Error(), "authentication.jwt.httpHeaderPrefix") {
			t.Errorf("prefix %q: %v; want it to name authentication.jwt.httpHeaderPrefix", prefix, err)
		}
	}
	ok := "JWT "
	w := &Webhook{URLs: []string{"https://vendor.example"}, Resources: map[string]Resource{"validate": {}},
		Authentication: Authentication{Type: AuthJWT, JWT: JWT{Alg: "HS256", Key: "0123456789abcdef0123456789abcdef", Lifetime: 300, HTTPHeaderPrefix: &ok}}}
	if err := w.Validate(); err != nil {
		t.Errorf("prefix %q: %v", ok, err)
	}
}
