package remote

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/testdb"
)

// rsa512 is a throwaway 512-bit RSA key (openssl genrsa 512): Go refuses to sign with it.
const rsa512 = `-----BEGIN RSA PRIVATE KEY-----
MIIBOgIBAAJBALMyOo4a3KJ/rllbNNaYNtD7JDBhO41WEL7T76znyVFs2Lq0ult7
mG7hp6RwA+41JMza54DqLlFWwekPbcNiu0UCAwEAAQJANTsagdQg7nSXShv52jVl
MzcnTOfVVOrYFpfGfspr1y/K/6LxnNyXMcpO8uNfZEhceYHGFlQDeLGtsPz6ccwR
gQIhANi/YMaGpU+Fi92rNDC9AuYUl6Crxy7opRQCNsTUUlvZAiEA06XvGn6LpVl0
6v12tL3m9zaGFTrw5k9TftfSCjSsE00CIAn5hLKeL61hL/abkmNLz35XJEM4pIn8
Gty43VxhiQjBAiB31pjQM572fPSKqgGwzWYdzC2Xj8wfXAM26xTu2mwkcQIhAM0Z
yKIxSxj4xk0rmUnme0c5sLEkzuHnl6jPhmXdfrdb
-----END RSA PRIVATE KEY-----
`

// A JWT key too short for its algorithm (an HS256 secret under 32 bytes, as RFC 7518
// §3.2 requires, an HS512 one under 64, a 512-bit RSA key) passed Validate, so `emfa
// check` said the configuration was good, and then serve refused to start the provider
// ("go-jose/go-jose: invalid key size for algorithm"). Validate refuses it, saying what
// size is wanted, without the key.
func TestJWTKeySizeCheckedAtValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		alg, key, want string
	}{
		{"HS256", strings.Repeat("k", 31), "at least 32 bytes"},
		{"HS384", strings.Repeat("k", 47), "at least 48 bytes"},
		{"HS512", strings.Repeat("k", 63), "at least 64 bytes"},
		{"RS256", rsa512, "512-bit"},
	}
	for _, tt := range tests {
		w := &Webhook{URLs: []string{"https://vendor.example"}, Resources: map[string]Resource{"validate": {}},
			Authentication: Authentication{Type: AuthJWT, JWT: JWT{Alg: tt.alg, Key: config.Secret(tt.key), Lifetime: 300}}}
		err := w.Validate()
		if err == nil || !strings.Contains(err.Error(), "authentication.jwt.key") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s key of %d bytes: Validate: %v; want authentication.jwt.key refused, %q", tt.alg, len(tt.key), err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "kkkk") {
			t.Errorf("%s: the error repeats the key: %v", tt.alg, err)
		}
		// What check accepts, serve starts.
		if e, nerr := New(Options{Webhook: w, Provider: "acme", Store: testdb.SQLite(t)}); nerr == nil {
			e.Close()
			if err != nil {
				t.Errorf("%s: Validate refused a key New took", tt.alg)
			}
		} else if err == nil {
			t.Errorf("%s: Validate took the key, New refused it: %v", tt.alg, nerr)
		}
	}
	for alg, n := range map[string]int{"HS256": 32, "HS384": 48, "HS512": 64} {
		w := &Webhook{URLs: []string{"https://vendor.example"}, Resources: map[string]Resource{"validate": {}},
			Authentication: Authentication{Type: AuthJWT, JWT: JWT{Alg: alg, Key: config.Secret(strings.Repeat("k", n)), Lifetime: 300}}}
		if err := w.Validate(); err != nil {
			t.Errorf("%s key of %d bytes: %v", alg, n, err)
		}
	}
}
