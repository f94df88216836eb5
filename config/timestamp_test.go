package config

import (
	"strings"
	"testing"
)

// TestTimestampKeepsItsText: a value written unquoted that YAML reads as a
// timestamp (2024-01-01, 2001-12-14t21:59:43.10-05:00) is the text written, as a number
// written so is: a string key refused it as "must be a string, not 2024-01-01 00:00:00
// +0000 UTC" (a password so written shown, reformatted, in the error), and an engine's
// section (remote, builtin) got a time that JSON writes as 2024-01-01T00:00:00Z.
func TestTimestampKeepsItsText(t *testing.T) {
	const stamp = "2001-12-14t21:59:43.10-05:00"
	y := strings.Replace(minimalYAML, `password: "0123456789abcdef0"`, "password: "+stamp, 1)
	y = strings.Replace(y, "{name: A,", "{name: 2024-01-01, engine: remote, remote: {since: 2024-01-01, at: "+stamp+"},", 1)
	cfg, err := parse([]byte(y), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Server.Auth.Basic.Password.Reveal(); got != stamp {
		t.Errorf("password = %q, want %q", got, stamp)
	}
	if got := cfg.Providers[0].Name; got != "2024-01-01" {
		t.Errorf("name = %q", got)
	}
	if got := cfg.Providers[0].Remote; got["since"] != "2024-01-01" || got["at"] != stamp {
		t.Errorf("remote = %#v", got)
	}
}
