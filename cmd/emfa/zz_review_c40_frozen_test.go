package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestReviewC40ReloadAppliesNoHalfOfADependentChange: a reload that turns server.tls on
// (which waits for a restart) and, with it, replaces Verify's Basic credentials by client
// certificates (server.auth.mtls, which needs server.tls) applied the second half alone:
// the file was valid as written, but the configuration served, server.tls put back to
// none, was not, and every call of Verify was refused (no certificate reaches a plain
// listener, and Basic was gone) until a restart. The configuration as it would be served
// is now checked again: such a reload fails, saying why, and Basic keeps admitting Verify.
func TestReviewC40ReloadAppliesNoHalfOfADependentChange(t *testing.T) {
	ca := newPKI(t, "clients CA")
	dir := t.TempDir()
	writeKeyPair(t, dir, ca.issue(t, "emfa", 10, true))
	cfg := writeConfig(t, "")
	original := mustRead(t, cfg)
	base, logs, reload := reloadingServe(t, cfg)
	if code := testStatus(t, base, "sim-password-0123"); code != 200 {
		t.Fatalf("before the reload: %d", code)
	}
	const basic = "    basic: {username: verify, password: \"sim-password-0123\"}\n"
	if !strings.Contains(original, "  auth:\n"+basic) {
		t.Fatalf("the test configuration no longer has %q", basic)
	}
	replaceFile(t, cfg, strings.Replace(original, "  auth:\n"+basic,
		"  tls: {cert: "+filepath.Join(dir, "tls.crt")+", key: "+filepath.Join(dir, "tls.key")+
			", clientCA: "+filepath.Join(ca.dir, "ca.pem")+"}\n  auth:\n    mtls: {subjects: [verify]}\n", 1))
	if err := reload(); err == nil {
		t.Error("a reload applied server.auth.mtls without the server.tls it needs")
	}
	if code := testStatus(t, base, "sim-password-0123"); code != 200 {
		t.Errorf("after the reload, Verify's Basic credentials: %d, want 200", code)
	}
	for _, want := range []string{"server.auth.mtls: needs server.tls", "server.tls changed: it cannot change while serving", "reload failed: the running configuration is kept"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the reload's log lacks %q:\n%s", want, grepLines(logs.String(), "reload"))
		}
	}
}
