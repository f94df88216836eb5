package config

import (
	"testing"
)

// TestEmptyOverrideMakesNoSection: an EMFA_* variable set but empty (a manifest's
// value: "" where no secret is given) makes no section the file does not have: an empty
// EMFA_SERVER_AUTH_OAUTH_SIGNINGKEY made server.auth.oauth, and so turned on OAuth and
// its token endpoint (POST /oauth2/token) beside the file's basic authentication, without
// a word. Within a section the file has, an empty variable still empties its key.
func TestEmptyOverrideMakesNoSection(t *testing.T) {
	cfg, err := Parse([]byte(minimalYAML), "yaml", env(map[string]string{
		"EMFA_SERVER_AUTH_OAUTH_SIGNINGKEY":     "",
		"EMFA_SERVER_AUTH_OAUTH_SIGNINGKEYFILE": "",
		"EMFA_SERVER_TLS_CLIENTCA":              "",
		"EMFA_ADMIN_TLS_CERT":                   "",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Auth.OAuth != nil || cfg.Server.TLS != nil || cfg.Admin.TLS != nil {
		t.Errorf("sections made by empty variables: oauth %+v, server.tls %+v, admin.tls %+v", cfg.Server.Auth.OAuth, cfg.Server.TLS, cfg.Admin.TLS)
	}
	// Set, it makes the section as before; empty under the file's section, it empties.
	cfg, err = Parse([]byte(minimalYAML), "yaml", env(map[string]string{"EMFA_SERVER_AUTH_OAUTH_SIGNINGKEYFILE": "/data/key.pem"}))
	if err != nil || cfg.Server.Auth.OAuth == nil || cfg.Server.Auth.OAuth.SigningKeyFile != "/data/key.pem" {
		t.Errorf("set: %v", err)
	}
	_, err = Parse([]byte(minimalYAML), "yaml", env(map[string]string{"EMFA_SERVER_AUTH_BASIC_PASSWORD": ""}))
	if err == nil {
		t.Error("an empty EMFA_SERVER_AUTH_BASIC_PASSWORD under the file's basic section accepted")
	}
}
