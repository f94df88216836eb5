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
	cfg, err := Parse([]byte(base+"admin: {listen: \"127.0.0.1:9090\"}\nlifecycle: {activationLifetime: 48h}\n"), "yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Admin.IsEnabled() || cfg.Admin.Listen != "127.0.0.1:9090" || cfg.Lifecycle.ActivationLifetime != 48*time.Hour {
		t.Errorf("admin %+v lifecycle %+v", cfg.Admin, cfg.Lifecycle)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"admin: {listen: nowhere}", "admin.listen"},
		{"admin: {listen: \"127.0.0.1:8080\"}", "admin.listen: is server.listen"},
		{"admin: {enabled: false, listen: \"127.0.0.1:9\"}", "admin.enabled is false"},
		{"lifecycle: {activationLifetime: 1m}", "lifecycle.activationLifetime"},
	} {
		_, err := Parse([]byte(base+tc.yaml+"\n"), "yaml", noEnv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
