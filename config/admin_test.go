package config

import (
	"strings"
	"testing"
	"time"
)

func TestAdminSection(t *testing.T) {
	base := `server: {listen: "127.0.0.1:8080", auth: {basic: {username: v, password: a-strong-password-0123}}}
storage: {dsn: x.db, encryptionKey: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
providers: [{name: n, credentialPrefix: p, capabilities: [totp]}]
`
	noEnv := Options{LookupEnv: func(string) (string, bool) { return "", false }}
	cfg, err := Parse([]byte(base+"admin: {listen: \"127.0.0.1:9090\"}\nlifecycle: {activationLifetime: 48h, defaultCountry: gb}\n"), "yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Admin.IsEnabled() || cfg.Admin.Listen != "127.0.0.1:9090" || cfg.Lifecycle.ActivationLifetime != 48*time.Hour || cfg.Lifecycle.DefaultCountry != "gb" {
		t.Errorf("admin %+v lifecycle %+v", cfg.Admin, cfg.Lifecycle)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"admin: {listen: nowhere}", "admin.listen"},
		{"admin: {listen: \"127.0.0.1:8080\"}", "admin.listen: is server.listen"},
		{"admin: {enabled: false, listen: \"127.0.0.1:9\"}", "admin.enabled is false"},
		{"lifecycle: {activationLifetime: 1m}", "lifecycle.activationLifetime"},
		{"lifecycle: {defaultCountry: UK}", `lifecycle.defaultCountry: "UK" is not an ISO 3166-1 alpha-2 code: that country's is "GB"`},
		{"lifecycle: {defaultCountry: USA}", `lifecycle.defaultCountry: "USA" is not an ISO 3166-1 alpha-2 code: that country's is "US"`},
		{"lifecycle: {defaultCountry: XY}", `lifecycle.defaultCountry: "XY" is not a region's ISO 3166-1 alpha-2 code`},
	} {
		_, err := Parse([]byte(base+tc.yaml+"\n"), "yaml", noEnv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

// TestExposedListenerWarnings: a contract listener off loopback that serves /metrics
// without a token, or the admin API, is warned about, and so is an admin listener off
// loopback in plain HTTP; a loopback first run is not.
func TestExposedListenerWarnings(t *testing.T) {
	const (
		metrics   = "metrics.token is not set"
		shared    = "admin.listen is not set"
		plainText = "admin.listen is not on loopback"
	)
	tlsFiles := "{cert: c.pem, key: k.pem}"
	noEnv := Options{LookupEnv: func(string) (string, bool) { return "", false }}
	for _, tc := range []struct {
		name, listen, more string
		want               []string
	}{
		{"loopback", "127.0.0.1:8080", "", nil},
		{"localhost", "localhost:8080", "", nil},
		{"ipv6 loopback", "[::1]:8080", "", nil},
		{"all interfaces", "0.0.0.0:8080", "", []string{metrics, shared}},
		{"no host", ":8080", "", []string{metrics, shared}},
		{"a name", "emfa.internal:8080", "", []string{metrics, shared}},
		{"token, admin off", "0.0.0.0:8080", "metrics: {token: a-metrics-token-0123}\nadmin: {enabled: false}", nil},
		{"metrics off", "0.0.0.0:8080", "metrics: {enabled: false}\nadmin: {enabled: false}", nil},
		{"admin listener on loopback", "0.0.0.0:8080", `admin: {listen: "127.0.0.1:9090"}`, nil},
		{"admin listener exposed", "0.0.0.0:8080", `admin: {listen: "0.0.0.0:9090"}`, []string{plainText}},
		{"admin listener exposed, plaintext", "0.0.0.0:8080", `admin: {listen: "0.0.0.0:9090", plaintext: true}`, nil},
		{"admin listener exposed, server.tls", "0.0.0.0:8080", `admin: {listen: "0.0.0.0:9090"}` + "\nserver: {tls: " + tlsFiles + "}", nil},
		{"admin listener exposed, admin.tls", "0.0.0.0:8080", `admin: {listen: "0.0.0.0:9090", tls: ` + tlsFiles + "}", nil},
		{"admin listener exposed, server.tls, plaintext", "0.0.0.0:8080", `admin: {listen: "0.0.0.0:9090", plaintext: true}` + "\nserver: {tls: " + tlsFiles + "}", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := "server: {listen: \"" + tc.listen + "\", auth: {basic: {username: v, password: a-strong-password-0123}}}\n" +
				"storage: {dsn: x.db, encryptionKey: \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\"}\n" +
				"providers: [{name: n, credentialPrefix: p, capabilities: [totp]}]\n" + tc.more + "\n"
			if strings.Contains(tc.more, "server: {tls") { // one server section
				doc = strings.Replace(doc, "auth: {basic", "tls: "+tlsFiles+", auth: {basic", 1)
				doc = doc[:strings.LastIndex(doc, "\nserver: {tls")] + "\n"
			}
			cfg, err := Parse([]byte(doc), "yaml", noEnv)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range cfg.Warnings {
				for _, want := range []string{metrics, shared, plainText} {
					if strings.HasPrefix(w, want) {
						got = append(got, want)
					}
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("warnings %q, want ones starting %q", cfg.Warnings, tc.want)
			}
		})
	}
}

// TestAdminTLSSection: admin.tls is checked as server.tls is, and only beside admin.listen.
func TestAdminTLSSection(t *testing.T) {
	base := `server: {listen: "127.0.0.1:8080", auth: {basic: {username: v, password: a-strong-password-0123}}}
storage: {dsn: x.db, encryptionKey: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
providers: [{name: n, credentialPrefix: p, capabilities: [totp]}]
`
	noEnv := Options{LookupEnv: func(string) (string, bool) { return "", false }}
	cfg, err := Parse([]byte(base+`admin: {listen: "127.0.0.1:9090", tls: {cert: c.pem, key: k.pem, clientCA: ca.pem, requireClientCert: true}}`+"\n"), "yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.AdminTLS(); got == nil || got.Cert != "c.pem" || got.ClientCA != "ca.pem" || !got.RequireClientCert {
		t.Errorf("AdminTLS() = %+v, want admin.tls", got)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"admin: {tls: {cert: c.pem, key: k.pem}}", "admin.tls: needs admin.listen"},
		{`admin: {listen: "127.0.0.1:9090", plaintext: true, tls: {cert: c.pem, key: k.pem}}`, "admin.plaintext: "},
		{`admin: {listen: "127.0.0.1:9090", tls: {cert: c.pem}}`, "admin.tls.key: is required"},
		{`admin: {listen: "127.0.0.1:9090", tls: {cert: c.pem, key: k.pem, requireClientCert: true}}`, "admin.tls.requireClientCert: needs admin.tls.clientCA"},
		{`admin: {listen: "127.0.0.1:9090", tls: {cert: c.pem, key: k.pem, clientCA: ca.pem}}`, "admin.tls.clientCA: "},
		{`admin: {plaintext: true}`, "admin.plaintext: needs admin.listen"},
	} {
		_, err := Parse([]byte(base+tc.yaml+"\n"), "yaml", noEnv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

// TestAdminTLSDefault: admin.listen takes server.tls's certificate and key, not its client
// CA (the admin API admits by token), unless admin.tls or admin.plaintext says otherwise.
func TestAdminTLSDefault(t *testing.T) {
	base := `storage: {dsn: x.db, encryptionKey: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
providers: [{name: n, credentialPrefix: p, capabilities: [totp]}]
server: {listen: "127.0.0.1:8080", tls: {cert: c.pem, key: k.pem, clientCA: ca.pem, requireClientCert: true}, auth: {mtls: {}}}
`
	noEnv := Options{LookupEnv: func(string) (string, bool) { return "", false }}
	for _, tc := range []struct {
		admin string
		want  *TLS
	}{
		{"", nil}, // served on server.listen: server.tls's as it is
		{`admin: {listen: "127.0.0.1:9090"}`, &TLS{Cert: "c.pem", Key: "k.pem"}},
		{`admin: {listen: "127.0.0.1:9090", plaintext: true}`, nil},
		{`admin: {listen: "127.0.0.1:9090", tls: {cert: a.pem, key: b.pem}}`, &TLS{Cert: "a.pem", Key: "b.pem"}},
	} {
		cfg, err := Parse([]byte(base+tc.admin+"\n"), "yaml", noEnv)
		if err != nil {
			t.Fatalf("%s: %v", tc.admin, err)
		}
		if got := cfg.AdminTLS(); (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
			t.Errorf("%s: AdminTLS() = %+v, want %+v", tc.admin, got, tc.want)
		}
	}
}
