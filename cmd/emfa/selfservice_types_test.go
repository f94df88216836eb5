package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestSelfServiceCapabilitiesTheTypesCannotEnroll: a type whose file does not say how the
// page enrolls it (hotp) is refused for selfService.capabilities by emfa check, at its
// line, naming the types the page can enroll; a command that builds the page refuses it
// the same way.
func TestSelfServiceCapabilitiesTheTypesCannotEnroll(t *testing.T) {
	cfg := writeTestConfig(t, "", `delivery:
  mail: {type: log}
providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp, hotp]
selfService:
  enabled: true
  capabilities: [totp, hotp]
  publicURL: https://mfa.example.com
  mail: {sender: mail}
`)
	data, _ := os.ReadFile(cfg)
	line := 0
	for i, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "selfService:") {
			line = i + 1 + 2 // capabilities is the second key below it
		}
	}
	want := `:` + strconv.Itoa(line) + `: selfService.capabilities[1]: cannot be enrolled on the self-service page (it can enroll emailotp, push, smsotp, totp, voicecall)`
	code, _, errOut := emfa(t, "check", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, cfg+want) {
		t.Errorf("check: exit %d\n%s\nwant %s", code, errOut, cfg+want)
	}
	code, _, errOut = emfa(t, "users", "invite", "alice", "--deliver=false", "--config", cfg)
	if code == 0 || !strings.Contains(errOut, want) {
		t.Errorf("invite: exit %d\n%s\nwant %s", code, errOut, want)
	}
}
