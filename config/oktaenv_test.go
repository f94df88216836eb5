package config

import (
	"slices"
	"strings"
	"testing"
)

// TestOktaEnvOverrides: sync.okta's keys are overridden from the environment
// as every other section's (EMFA_SYNC_OKTA_ENABLED, …, EMFA_SYNC_OKTA_MFARESET), now that
// its struct embeds the shared source settings.
func TestOktaEnvOverrides(t *testing.T) {
	cfg, err := Parse([]byte(fullYAML), "yaml", env(map[string]string{
		"EMFA_VERIFY_PASSWORD":              "verify-password-0123",
		"EMFA_ENCRYPTION_KEY":               testKey,
		"EMFA_SYNC_OKTA_ENABLED":            "true",
		"EMFA_SYNC_OKTA_SECRETHEADER_NAME":  "X-Hook-Secret",
		"EMFA_SYNC_OKTA_SECRETHEADER_VALUE": "0123456789abcdef0123",
		"EMFA_SYNC_OKTA_MFARESET":           "none",
	}))
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Sync.Okta
	if !o.Enabled || o.SecretHeader.Name != "X-Hook-Secret" || o.SecretHeader.Value != "0123456789abcdef0123" || o.MFAReset != "none" {
		t.Errorf("sync.okta from the environment: %+v", o)
	}
	names := EnvOverrides()
	for _, want := range []string{"EMFA_SYNC_OKTA_ENABLED", "EMFA_SYNC_OKTA_SECRETHEADER_VALUE", "EMFA_SYNC_OKTA_MFARESET"} {
		if !slices.Contains(names, want) {
			t.Errorf("EnvOverrides lacks %s", want)
		}
	}
	for _, n := range names {
		if strings.Contains(n, ",") {
			t.Errorf("EnvOverrides has %s", n)
		}
	}
}

// TestOktaCanonicalPath: an error under sync.okta names the key as documented,
// whatever case the file wrote it in.
func TestOktaCanonicalPath(t *testing.T) {
	if got := canonicalPath("sync.okta.secretheader.name"); got != "sync.okta.secretHeader.name" {
		t.Errorf("canonicalPath: %s", got)
	}
	if got := canonicalPath("sync.okta.mfareset"); got != "sync.okta.mfaReset" {
		t.Errorf("canonicalPath: %s", got)
	}
}
