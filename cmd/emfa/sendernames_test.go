package main

import (
	"strings"
	"testing"
)

// TestCheckSuggestsSenderName: a sender's name mistyped where a factor or the
// self-service page names it said "no such sender under delivery" alone, where a key
// mistyped, an engine or a command says the one meant.
func TestCheckSuggestsSenderName(t *testing.T) {
	path := writeTestConfig(t, "", `delivery:
  dev: {type: log}
  mail: {type: log}
providers:
  - name: A
    credentialPrefix: a
    capabilities: [smsotp, emailotp]
    builtin:
      smsotp: {sender: dve}
      emailotp: {sender: nosuch}
selfService:
  enabled: true
  publicURL: https://mfa.example.com
  mail: {sender: mial}
`)
	code, _, errOut := emfa(t, "check", "--config", path)
	for _, want := range []string{
		`providers[0].builtin.smsotp.sender: no such sender under delivery (did you mean "dev"?)`,
		`providers[0].builtin.emailotp.sender: no such sender under delivery` + "\n",
		`selfService.mail.sender: no such sender under delivery (did you mean "mail"?)`,
	} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("exit %d, want 1 and %q in:\n%s", code, want, errOut)
		}
	}
}
