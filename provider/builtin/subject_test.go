package builtin_test

import "testing"

// TestEmailSubjectLineBreak: the SMTP sender refuses a subject with a line break
// (it would write headers of its own), so a configured one would fail every e-mailed code
// at a user's sign-in. YAML's block scalars (`subject: >`) end with one. The check finds
// it when the configuration loads, as it finds a template without {{code}}.
func TestEmailSubjectLineBreak(t *testing.T) {
	_, err := check(t, `
providers:
  - name: A
    credentialPrefix: a
    capabilities: [emailotp]
    builtin:
      emailotp:
        sender: mail
        subject: >
          Your sign-in code
`)
	if err == nil {
		t.Fatal("a subject ending in a line break was accepted")
	}
	assertErrors(t, err, []string{"providers[0].builtin.emailotp.subject: must be one line"})
}
