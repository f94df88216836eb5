package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeF95Config writes body as a configuration file and returns its path.
func writeF95Config(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "emfa.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A file with a problem found while loading (a misspelt key, a duration without its unit)
// and one found by a builtin engine's own check: check reports both in one run, in the
// file's order, and the misspelt key's consequence (no capabilities listed) not again.
// serve refuses the file as before, with the load's problems alone.
func TestCheckReportsLoadAndEngineProblemsAtOnce(t *testing.T) {
	path := writeF95Config(t, `server:
  requestTimeout: 10
  auth:
    basic: {username: verify, password: a-strong-password-0123}
storage: {dsn: ":memory:", encryptionKey: "`+testEncryptionKey+`"}
providers:
  - name: A
    credentialPrefix: a
    capabilities: [totp]
    builtin:
      totp: {digits: 12}
  - name: B
    credentialPrefix: b
    capabilites: [totp]
`)
	code, out, errOut := emfa(t, "check", "--config", path)
	want := []string{
		path + `:2: server.requestTimeout: 10 has no unit`,
		path + `:11: providers[0].builtin.totp.digits: must be 6 or 8, not 12`,
		path + `:14: providers[1]: unknown key "capabilites" (did you mean "capabilities"?)`,
	}
	if code != 1 || out != "" {
		t.Fatalf("check: exit %d, stdout %q\n%s", code, out, errOut)
	}
	at := -1
	for _, w := range want {
		i := strings.Index(errOut, w)
		if i < 0 || i < at {
			t.Errorf("missing, or out of the file's order: %q\n%s", w, errOut)
		}
		at = i
	}
	if n := strings.Count(errOut, path+":"); n != len(want) {
		t.Errorf("%d problems, want %d:\n%s", n, len(want), errOut)
	}
	if strings.Contains(errOut, "at least one capability") {
		t.Errorf("the misspelt key's consequence is reported again:\n%s", errOut)
	}

	// serve: the load's problems, as before, and no engine's.
	code, _, errOut = emfa(t, "serve", "--config", path)
	if code != 1 || !strings.Contains(errOut, want[0]) || !strings.Contains(errOut, want[2]) || strings.Contains(errOut, "digits") {
		t.Errorf("serve: exit %d\n%s", code, errOut)
	}
}

// What did not load is not checked as something else: a DSN under a driver that is not
// one is not read as SQLite's, and a provider whose engine key is misspelt is not checked
// by the builtin engine (the default), which would refuse its remote capabilities.
func TestCheckSkipsWhatDidNotLoad(t *testing.T) {
	path := writeF95Config(t, `server:
  auth:
    basic: {username: verify, password: a-strong-password-0123}
storage: {driver: mysql, dsn: "file:x?mode=%zz", encryptionKey: "`+testEncryptionKey+`"}
providers:
  - name: A
    credentialPrefix: a
    capabilities: [duo-push]
    engin: remote
    remote: {webhookFile: nowhere.yaml}
`)
	code, _, errOut := emfa(t, "check", "--config", path)
	if code != 1 || !strings.Contains(errOut, path+":4: storage.driver: unknown driver") ||
		!strings.Contains(errOut, path+`:9: providers[0]: unknown key "engin"`) ||
		strings.Contains(errOut, "storage.dsn") || strings.Contains(errOut, "builtin engine cannot serve") {
		t.Errorf("check: exit %d\n%s", code, errOut)
	}
}

// A remote section that did not load (not a section) is not checked as an empty webhook,
// whose problems (no urls) would only follow from it.
func TestCheckSkipsARemoteSectionThatDidNotLoad(t *testing.T) {
	path := writeF95Config(t, `server:
  auth:
    basic: {username: verify, password: a-strong-password-0123}
storage: {dsn: ":memory:", encryptionKey: "`+testEncryptionKey+`"}
providers:
  - {name: A, credentialPrefix: a, capabilities: [duo], engine: remote, remote: 7}
`)
	code, _, errOut := emfa(t, "check", "--config", path)
	if code != 1 || !strings.Contains(errOut, path+":6: providers[0].remote: must be a section of keys, not 7") ||
		strings.Contains(errOut, "url") {
		t.Errorf("check: exit %d\n%s", code, errOut)
	}
}
