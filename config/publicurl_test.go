package config

import (
	"strings"
	"testing"
)

// TestPublicURLIsABase: links are publicURL + "/self-service/link/TOKEN", so a
// publicURL with a query or a fragment makes every link a broken one (the token in the
// query or fragment of another page), and one with credentials mails them to every user.
func TestPublicURLIsABase(t *testing.T) {
	base := minimalYAML + `delivery: {m: {type: log}}
selfService: {enabled: true, mail: {sender: m}, publicURL: "%s"}
`
	for _, u := range []string{"https://mfa.example.com/?x=1", "https://mfa.example.com/#top", "https://admin:pw@mfa.example.com", "https://mfa.example.com/?"} {
		_, err := Parse([]byte(strings.Replace(base, "%s", u, 1)), "yaml", env(nil))
		if err == nil || !strings.Contains(err.Error(), "selfService.publicURL") {
			t.Errorf("publicURL %s: got %v, want it refused", u, err)
		} else if strings.Contains(err.Error(), "pw@") {
			t.Errorf("publicURL %s: the error repeats its credentials: %v", u, err)
		}
	}
	for _, u := range []string{"https://mfa.example.com", "https://mfa.example.com/", "https://example.com/mfa"} {
		if _, err := Parse([]byte(strings.Replace(base, "%s", u, 1)), "yaml", env(nil)); err != nil {
			t.Errorf("publicURL %s: %v", u, err)
		}
	}
}
