package builtin_test

import (
	"strings"
	"testing"
)

// TestPushServerURLIsABase: push.serverURL is put in front of
// /v1/devices/register#code=… and in emfa://register?…&server=…: one without a scheme
// made a registrationURL no phone can open, one with a query or fragment a URL that
// leads elsewhere, and one with credentials handed them to every device. They are
// refused, as selfService.publicURL is.
func TestPushServerURLIsABase(t *testing.T) {
	for _, u := range []string{"emfa.example.com", "https://emfa.example.com/?x=1", "https://emfa.example.com/#f", "https://u:pw@emfa.example.com", "ftp://emfa.example.com"} {
		_, err := check(t, `providers:
  - {name: B, credentialPrefix: emfa, capabilities: [push], builtin: {push: {serverURL: "`+u+`"}}}
`)
		if err == nil || !strings.Contains(err.Error(), "push.serverURL") {
			t.Errorf("serverURL %s: got %v, want it refused", u, err)
		} else if strings.Contains(err.Error(), "pw@") {
			t.Errorf("serverURL %s: the error repeats its credentials: %v", u, err)
		}
	}
	for _, u := range []string{"https://emfa.example.com", "https://emfa.example.com/", "http://127.0.0.1:8080/emfa"} {
		if _, err := check(t, `providers:
  - {name: B, credentialPrefix: emfa, capabilities: [push], builtin: {push: {serverURL: "`+u+`"}}}
`); err != nil {
			t.Errorf("serverURL %s: %v", u, err)
		}
	}
}
