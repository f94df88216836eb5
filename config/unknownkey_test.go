package config

import (
	"strings"
	"testing"
)

// TestUnknownKeyShowsNoValue: a key and its value written without the space
// YAML needs after the colon ({password:VALUE}, or password=VALUE) read as one unknown key
// in a flow section, and the error quoted it whole, the secret with it; it now shows the
// key's name only, suggests the key meant and says what is likely wrong, and the empty
// password that follows from it is not reported a second time.
func TestUnknownKeyShowsNoValue(t *testing.T) {
	const secret = "hunter2-0123456789abcdef"
	for _, written := range []string{"password:" + secret, "password=" + secret, "password = " + secret, "pasword:" + secret} {
		t.Run(written, func(t *testing.T) {
			y := strings.Replace(minimalYAML, `password: "0123456789abcdef0"`, written, 1)
			_, err := Parse([]byte(y), "yaml", env(nil))
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if strings.Contains(msg, "hunter2") {
				t.Errorf("the value is in the error: %q", msg)
			}
			if !strings.Contains(msg, `server.auth.basic: unknown key "pas`) || !strings.Contains(msg, `(did you mean "password"?)`) ||
				!strings.Contains(msg, "a space after the colon") {
				t.Errorf("error %q: want the key's name, the key meant and what is likely wrong", msg)
			}
			if strings.Contains(msg, "must not be empty") {
				t.Errorf("the password left empty reported too: %q", msg)
			}
		})
	}
	// A plain typo is quoted whole, as before.
	y := strings.Replace(minimalYAML, `password:`, `pasword:`, 1)
	if _, err := Parse([]byte(y), "yaml", env(nil)); err == nil || !strings.Contains(err.Error(), `unknown key "pasword" (did you mean "password"?)`) {
		t.Errorf("a typo: %v", err)
	}
}
