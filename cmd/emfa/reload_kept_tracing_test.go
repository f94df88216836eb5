package main

import (
	"strings"
	"testing"
)

// TestReloadKeepsTracingWithItsRatio: an operator who adds tracing to the file
// (an endpoint and a sampleRatio, as the README shows) with other edits was refused the
// whole reload: tracing waits for a restart, and the configuration as served, tracing put
// back to none, was checked with the file's own record of what it wrote, so that the
// sampleRatio written but put back to 0 read as "must be more than 0". Tracing kept is
// the running configuration's, which is valid: the rest of the file applies.
func TestReloadKeepsTracingWithItsRatio(t *testing.T) {
	cfg := writeConfig(t, "")
	original := mustRead(t, cfg)
	base, logs, reload := reloadingServe(t, cfg)
	replaceFile(t, cfg, strings.Replace(original, "capabilities: [totp]", "capabilities: [totp]\n    enabled: false", 1)+
		"tracing: {endpoint: \"127.0.0.1:4318\", insecure: true, sampleRatio: 0.25}\n")
	if err := reload(); err != nil {
		t.Fatalf("reload: %v\n%s", err, grepLines(logs.String(), "reload"))
	}
	if !strings.Contains(logs.String(), "tracing changed: it cannot change while serving") {
		t.Errorf("no warning for tracing:\n%s", grepLines(logs.String(), "reload"))
	}
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	if list := sim.enrollments("alice"); len(list) != 0 {
		t.Errorf("the rest of the file did not apply: the disabled provider lists %+v", list)
	}
}
