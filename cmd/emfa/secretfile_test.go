package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emfa/emfa/config"
)

// TestReloadRotatesFileSecret: Verify's password read from a file (${file:PATH}, a
// Kubernetes Secret volume, /run/secrets) is read again at a reload, so a rotated file
// takes effect on SIGHUP without a restart; the log never shows either password.
func TestReloadRotatesFileSecret(t *testing.T) {
	cfg := writeConfig(t, "")
	pwFile := filepath.Join(filepath.Dir(cfg), "verify-password")
	if err := os.WriteFile(pwFile, []byte("first-password-0123456\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(mustRead(t, cfg), `password: "sim-password-0123"`, `password: "${file:`+pwFile+`}"`, 1)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	base, logs, reload := reloadingServe(t, cfg)
	test := func(pw string) int { return testStatus(t, base, pw) }
	if a, b := test("first-password-0123456"), test("second-password-0123456"); a != 200 || b != 401 {
		t.Fatalf("before the rotation: first %d, second %d", a, b)
	}
	if err := os.WriteFile(pwFile, []byte("second-password-0123456\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if a, b := test("first-password-0123456"), test("second-password-0123456"); a != 200 || b != 401 {
		t.Fatalf("rotated, not reloaded: first %d, second %d", a, b)
	}
	if err := reload(); err != nil {
		t.Fatalf("reload: %v\n%s", err, logs)
	}
	if a, b := test("first-password-0123456"), test("second-password-0123456"); a != 401 || b != 200 {
		t.Errorf("after the reload: first %d, second %d, want 401 and 200", a, b)
	}
	// An empty file (a rotation half done) is refused with its name; the running
	// password stays.
	if err := os.WriteFile(pwFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := reload(); err == nil {
		t.Error("a reload with an empty secret file succeeded")
	}
	if !strings.Contains(logs.String(), "file "+pwFile+" is empty") {
		t.Errorf("the log does not name the empty file:\n%s", grepLines(logs.String(), "reload"))
	}
	if test("second-password-0123456") != 200 {
		t.Error("a failed reload changed the password")
	}
	if out := logs.String(); strings.Contains(out, "first-password") || strings.Contains(out, "second-password") {
		t.Errorf("the log shows a password:\n%s", out)
	}
}

// TestCheckFileSecret: emfa check reports a secret file that is missing as it reports an
// unset variable (a warning, an error with --strict), and one with a problem as an error,
// each with the file, line and path.
func TestCheckFileSecret(t *testing.T) {
	cfg := writeConfig(t, "")
	missing := filepath.Join(filepath.Dir(cfg), "nope")
	text := strings.Replace(mustRead(t, cfg), `password: "sim-password-0123"`, `password: "${file:`+missing+`}"`, 1)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	want := "server.auth.basic.password: file " + missing + " does not exist"
	if code, _, errOut := emfa(t, "check", "--config", cfg); code != 0 || !strings.Contains(errOut, "warning: ") || !strings.Contains(errOut, want) {
		t.Errorf("check: %d %s", code, errOut)
	}
	if code, _, errOut := emfa(t, "check", "--strict", "--config", cfg); code != 1 || !strings.Contains(errOut, cfg+":") || !strings.Contains(errOut, want) {
		t.Errorf("check --strict: %d %s", code, errOut)
	}
	if err := os.Mkdir(missing, 0o700); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := emfa(t, "check", "--config", cfg); code != 1 || !strings.Contains(errOut, "file "+missing+" is not a regular file") {
		t.Errorf("check, a directory: %d %s", code, errOut)
	}
}

// TestReloadKeepsNoVendorForRestart: with directory sync on, a reload that changes a remote
// provider (a rotated vendor key), adds one or removes one has nothing to keep for a
// restart: the propagation takes it all (propagation.swap, which says what it added and
// removed).
func TestReloadKeepsNoVendorForRestart(t *testing.T) {
	remote := func(key string, prefixes ...string) *config.Config {
		c := &config.Config{Sync: config.Sync{SCIM: config.SyncSCIM{Enabled: true, Token: "t"}}}
		for _, p := range prefixes {
			c.Providers = append(c.Providers, config.Provider{Name: p, CredentialPrefix: p, Engine: config.EngineRemote,
				Remote: map[string]any{"headers": map[string]any{"X-Key": key}}})
		}
		return c
	}
	if got := frozenSettings(remote("old-key", "duo"), remote("new-key", "duo"), true); len(got) != 0 {
		t.Errorf("a rotated vendor key with sync on: %q, want nothing to say", got)
	}
	running, next := remote("old-key", "duo"), remote("new-key", "duo", "okta")
	if got := frozenSettings(running, next, true); len(got) != 0 {
		t.Errorf("a remote provider added with sync on: %q, want nothing kept for a restart", got)
	}
	if got := frozenSettings(next, running, true); len(got) != 0 {
		t.Errorf("a remote provider removed with sync on: %q, want nothing kept for a restart", got)
	}
	if got := frozenSettings(remote("k", "okta", "duo"), remote("k", "duo", "okta"), true); len(got) != 0 {
		t.Errorf("the same providers in another order: %q", got)
	}
	running.Sync, next.Sync = config.Sync{}, config.Sync{}
	if got := frozenSettings(running, next, true); len(got) != 0 {
		t.Errorf("sync off: %q", got)
	}
	// The store's pools are sized, and its schema checked, when it opens: a reload says
	// so and keeps them. Before, it changed the setting and nothing else, silently.
	next.Storage.MaxConnections, next.Storage.AllowNewerSchema = 64, true
	got := frozenSettings(running, next, true)
	if len(got) != 2 || !strings.HasPrefix(got[0], "storage.maxConnections changed") || !strings.HasPrefix(got[1], "storage.allowNewerSchema changed") ||
		next.Storage.MaxConnections != 0 || next.Storage.AllowNewerSchema {
		t.Errorf("storage.maxConnections and allowNewerSchema changed: %q, kept %d %v", got, next.Storage.MaxConnections, next.Storage.AllowNewerSchema)
	}
}

// testStatus is the status of the contract's test call to the emfa provider at base with
// Verify's Basic credentials, user verify and password pw.
func testStatus(t *testing.T, base, pw string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/v1/providers/emfa/test", nil)
	req.SetBasicAuth("verify", pw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
