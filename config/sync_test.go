package config

import (
	"strings"
	"testing"
)

func TestSyncSection(t *testing.T) {
	base := `server: {listen: "127.0.0.1:8080", auth: {basic: {username: v, password: a-strong-password-0123}}}
storage: {dsn: x.db, encryptionKey: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
providers: [{name: n, credentialPrefix: p, capabilities: [totp]}]
`
	noEnv := Options{LookupEnv: func(string) (string, bool) { return "", false }}
	cfg, err := Parse([]byte(base+`sync:
  scim: {enabled: true, token: "0123456789abcdef0123456789abcdef"}
  okta: {enabled: true, secretHeader: {name: X-Hook-Secret, value: "0123456789abcdef"}, mfaReset: all}
  maxDeletesPerHour: 10
`), "yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Sync.Enabled() || cfg.Sync.Okta.SecretHeader.Name != "X-Hook-Secret" || cfg.Sync.MaxDeletesPerHour != 10 || cfg.Sync.Okta.MFAReset != "all" {
		t.Errorf("sync %+v", cfg.Sync)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"sync: {scim: {enabled: true, token: short}}", "sync.scim.token"},
		{"sync: {okta: {enabled: true}}", "sync.okta.secretHeader.name"},
		{"sync: {auth0: {enabled: true, secretHeader: {name: Authorization, value: short}}}", "sync.auth0.secretHeader.value"},
		{"sync: {maxDeletesPerHour: -5}", "sync.maxDeletesPerHour"},
		{"sync: {okta: {mfaReset: admins}}", `sync.okta.mfaReset: must be one of others, all, none, not "admins"`},
		{"sync: {verify: {enabled: true, secretHeader: {name: 'a b', value: 0123456789abcdef}}}", "sync.verify.secretHeader.name"},
	} {
		_, err := Parse([]byte(base+tc.yaml+"\n"), "yaml", noEnv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
