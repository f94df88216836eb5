package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/config"
)

// serve compiles the remote webhooks while its store opens: what it builds on is what
// checkedWebhook gives for that configuration, errors included, and another
// configuration (a reload) is compiled afresh, not served from the first one's.
func TestWebhooksCompiledAhead(t *testing.T) {
	t.Setenv("DUO_API_URL", "http://127.0.0.1:9")
	t.Setenv("DUO_IKEY", "DIXXXXXXXXXXXXXXXXXX")
	t.Setenv("DUO_SKEY", "0123456789012345678901234567890123456789")
	t.Setenv("EMFA_VERIFY_PASSWORD", "a-strong-password-0123")
	t.Setenv("EMFA_ENCRYPTION_KEY", testEncryptionKey)
	load := func(path string) *config.Config {
		t.Helper()
		cfg, err := loadConfig(storeOptions{config: path}, forServe, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	good := load("../../testdata/config/duo.yaml")
	data, err := os.ReadFile("../../testdata/config/duo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	brokenPath := filepath.Join(t.TempDir(), "broken.yaml")
	broken := strings.Replace(string(data), `{"body": {"status": has(body.stat)`, `{"body": {"status": has(body.nosuch) &&`, 1)
	if broken == string(data) {
		t.Fatal("the fixture changed: no transform to break")
	}
	if err := os.WriteFile(brokenPath, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := load(brokenPath)

	wh := compileWebhooks(good)
	w, compiled, warnings, err := wh.checked(good, 0)
	_, _, wantWarnings, wantErr := checkedWebhook(good, 0)
	if err != nil || wantErr != nil || w == nil || compiled == nil {
		t.Fatalf("compiled ahead: %v, %v (%v); checkedWebhook: %v", w != nil, compiled != nil, err, wantErr)
	}
	if diff := cmp.Diff(wantWarnings, warnings); diff != "" {
		t.Errorf("warnings (-checkedWebhook +ahead):\n%s", diff)
	}
	if _, c, _, err := wh.checked(bad, 0); err == nil || c != nil {
		t.Errorf("another configuration served from the first one's compilation: %v", err)
	}
	_, _, _, wantErr = checkedWebhook(bad, 0)
	if _, c, _, err := compileWebhooks(bad).checked(bad, 0); err == nil || c != nil || wantErr == nil || err.Error() != wantErr.Error() {
		t.Errorf("a broken transform compiled ahead: %v; checkedWebhook: %v", err, wantErr)
	}
	var none *webhooks // admin commands compile on demand
	if _, c, _, err := none.checked(good, 0); err != nil || c == nil {
		t.Errorf("no compilation ahead: %v", err)
	}
}
