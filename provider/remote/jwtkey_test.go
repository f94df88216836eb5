package remote

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/emfa/emfa/config"
)

// TestJWTKeyCheckedAtValidate: a jwt key that cannot sign (a PEM path that is not
// there, text that is no PEM) passed Validate, so emfa check said ok and serve then
// refused to start, without the key's file and line. Validate now reads it as the engine
// will, and says why at authentication.jwt.key, without the key.
func TestJWTKeyCheckedAtValidate(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nokey.pem")
	for _, key := range []string{missing, "s3cr3t-inline-not-a-pem", "-----BEGIN PRIVATE KEY-----\nnotbase64\n-----END PRIVATE KEY-----\n"} {
		w := &Webhook{URLs: []string{"https://vendor.example"}, Authentication: Authentication{Type: AuthJWT,
			JWT: JWT{Alg: "RS256", Key: config.Secret(key), Lifetime: 300}}}
		err := w.Validate()
		if err == nil || !strings.Contains(err.Error(), "authentication.jwt.key: ") {
			t.Errorf("key %q: got %v, want authentication.jwt.key refused", key, err)
		} else if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("the error repeats the key: %v", err)
		}
	}
	// An HMAC key is the secret itself.
	w := &Webhook{URLs: []string{"https://vendor.example"}, Authentication: Authentication{Type: AuthJWT,
		JWT: JWT{Alg: "HS256", Key: "0123456789abcdef0123456789abcdef", Lifetime: 300}}}
	if err := w.Validate(); err != nil {
		t.Errorf("HS256: %v", err)
	}
}
