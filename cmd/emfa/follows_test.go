package main

import (
	"strings"
	"testing"
)

// A sender section misspelt (delivry): the builtin engine's complaint that the sender a
// factor names is not there follows from it, and says so.
func TestCheckSaysWhatFollowsFromALoadProblem(t *testing.T) {
	path := writeF95Config(t, `server:
  auth:
    basic: {username: verify, password: a-strong-password-0123}
storage: {dsn: ":memory:", encryptionKey: "`+testEncryptionKey+`"}
delivry:
  dev: {type: log}
providers:
  - name: A
    credentialPrefix: a
    capabilities: [smsotp]
    builtin:
      smsotp: {sender: dev}
      totp: {digits: 7}
`)
	code, _, errOut := emfa(t, "check", "--config", path)
	if code != 1 ||
		!strings.Contains(errOut, path+`:5: unknown key "delivry" (did you mean "delivery"?)`) ||
		!strings.Contains(errOut, path+`:12: providers[0].builtin.smsotp.sender: no such sender under delivery (this may follow from the problem of delivery at line 5)`) ||
		!strings.Contains(errOut, path+`:13: providers[0].builtin.totp.digits: must be 6 or 8, not 7`) {
		t.Errorf("check: exit %d\n%s", code, errOut)
	}
}

// A problem of a sender's that does not stop it being built (a timeout without its unit)
// is no reason to refuse it where a factor names it, and one of another sender says nothing
// of a sender that is not there.
func TestCheckBlamesOnlyTheSendersSection(t *testing.T) {
	path := writeF95Config(t, `server:
  auth:
    basic: {username: verify, password: a-strong-password-0123}
storage: {dsn: ":memory:", encryptionKey: "`+testEncryptionKey+`"}
delivery:
  dev: {type: log, timeout: 5}
  mail: {type: smtp, host: mail.example.com, from: a@example.com, port: x}
providers:
  - name: A
    credentialPrefix: a
    capabilities: [smsotp, emailotp]
    builtin:
      smsotp: {sender: dev}
      emailotp: {sender: nosuch}
`)
	code, _, errOut := emfa(t, "check", "--config", path)
	if code != 1 || !strings.Contains(errOut, path+`:6: delivery.dev.timeout: 5 has no unit`) ||
		!strings.Contains(errOut, path+`:7: delivery.mail.port: must be a whole number`) ||
		!strings.Contains(errOut, path+`:14: providers[0].builtin.emailotp.sender: no such sender under delivery`) ||
		strings.Contains(errOut, "may follow") || strings.Contains(errOut, "  "+path+":13:") {
		t.Errorf("check: exit %d\n%s", code, errOut)
	}
}
