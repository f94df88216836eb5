package config

import (
	"strings"
	"testing"
)

// TestOAuthKeyPerReplicaWarned: emfa's token endpoint on PostgreSQL (where replicas share
// the store) without a signingKey or signingKeyFile has each replica generate its own key
// in its own data directory, and a token one replica issued is refused (401) by the
// others, at random behind a load balancer. The README says so; the configuration said
// nothing. SQLite (one server per file) and a key set are quiet.
func TestOAuthKeyPerReplicaWarned(t *testing.T) {
	const want = "server.auth.oauth has no signingKey"
	noEnv := Options{LookupEnv: func(string) (string, bool) { return "", false }}
	for _, tc := range []struct {
		name, storage, oauth string
		warned               bool
	}{
		{"postgres, generated key", "driver: postgres, dsn: 'postgres://db/emfa'", "{}", true},
		{"postgres, key", "driver: postgres, dsn: 'postgres://db/emfa'", "{signingKey: '-----BEGIN EC PRIVATE KEY-----'}", false},
		{"postgres, key file", "driver: postgres, dsn: 'postgres://db/emfa'", "{signingKeyFile: /shared/key.pem}", false},
		{"postgres, JWKS only", "driver: postgres, dsn: 'postgres://db/emfa'", "{tokenEndpoint: false, jwks: {url: 'https://as.example.com/jwks', issuer: i, audience: a}}", false},
		{"sqlite, generated key", "dsn: x.db", "{}", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := "server: {listen: \"127.0.0.1:8080\", auth: {oauth: " + tc.oauth + "}}\n" +
				"storage: {" + tc.storage + ", encryptionKey: \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\"}\n" +
				"providers: [{name: n, credentialPrefix: p, capabilities: [totp]}]\n"
			cfg, err := Parse([]byte(doc), "yaml", noEnv)
			if err != nil {
				t.Fatal(err)
			}
			warned := false
			for _, w := range cfg.Warnings {
				warned = warned || strings.HasPrefix(w, want)
			}
			if warned != tc.warned {
				t.Errorf("warnings %q: want one starting %q: %v", cfg.Warnings, want, tc.warned)
			}
		})
	}
}
