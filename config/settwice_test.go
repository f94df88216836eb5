package config

import (
	"strings"
	"testing"
)

// TestSetTwiceShowsTheKeyUpToItsName: a key written twice is named in the
// problem, and one that holds a value ({password:VALUE}, no space after the colon, in a
// flow section) was quoted whole, the password with it, into emfa check's output.
func TestSetTwiceShowsTheKeyUpToItsName(t *testing.T) {
	const pw = "Secr3tSecr3tXYZ"
	y := strings.Replace(minimalYAML, `{username: verify, password: "0123456789abcdef0"}`,
		"{username: verify, password:"+pw+", password:"+pw+"}", 1)
	_, err := Parse([]byte(y), "yaml", env(nil))
	if err == nil {
		t.Fatal("no error")
	}
	if strings.Contains(err.Error(), pw) {
		t.Errorf("the problem shows the value written in the key: %v", err)
	}
	if !strings.Contains(err.Error(), "server.auth.basic.password… is set twice") {
		t.Errorf("the problem does not name the key: %v", err)
	}
	// A key without a value in it is named as before.
	y = strings.Replace(minimalYAML, "storage:\n", "storage:\n  dsn: x\n", 1)
	if _, err := Parse([]byte(y), "yaml", env(nil)); err == nil || !strings.Contains(err.Error(), "storage.dsn is set twice (first at line") {
		t.Errorf("a key set twice: %v", err)
	}
}
