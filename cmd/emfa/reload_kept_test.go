package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestReloadAppliesNoHalfOfADependentChange: a reload that turns server.tls on
// (which waits for a restart) and, with it, replaces Verify's Basic credentials by client
// certificates (server.auth.mtls, which needs server.tls) applied the second half alone:
// the file was valid as written, but the configuration served, server.tls put back to
// none, was not, and every call of Verify was refused (no certificate reaches a plain
// listener, and Basic was gone) until a restart. The configuration as it would be served
// is now checked again: such a reload fails, saying why, and Basic keeps admitting Verify.
func TestReloadAppliesNoHalfOfADependentChange(t *testing.T) {
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

// TestReloadKeepsTheAdminListenerWhole: a reload that gives the admin API a
// listener of its own (admin.listen, with admin.plaintext as it is meant for one on an
// internal network) keeps the listener for the next restart, and its settings with it:
// admin.plaintext left without the admin.listen it belongs to is no reason to refuse the
// rest of the file, which applies.
func TestReloadKeepsTheAdminListenerWhole(t *testing.T) {
	cfg := writeConfig(t, "")
	original := mustRead(t, cfg)
	base, logs, reload := reloadingServe(t, cfg)
	replaceFile(t, cfg, strings.Replace(original, "capabilities: [totp]", "capabilities: [totp]\n    enabled: false", 1)+
		"admin: {listen: \"127.0.0.1:0\", plaintext: true}\n")
	if err := reload(); err != nil {
		t.Fatalf("reload: %v\n%s", err, grepLines(logs.String(), "reload"))
	}
	if !strings.Contains(logs.String(), "admin.listen changed: it cannot change while serving") {
		t.Errorf("no warning for admin.listen:\n%s", grepLines(logs.String(), "reload"))
	}
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	if code, _ := sim.call("POST", "test", "{}"); code != 200 {
		t.Errorf("after the reload, test: %d", code)
	}
	if list := sim.enrollments("alice"); len(list) != 0 {
		t.Errorf("the rest of the file did not apply: the disabled provider lists %+v", list)
	}
}
