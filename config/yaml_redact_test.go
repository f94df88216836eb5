package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestYAMLErrorsRepeatNoValue: a password written unquoted that YAML reads as
// something else came back whole in the error that emfa check, serve and every reload
// log: one that starts with * (an alias, "unknown anchor 'Hunter2…' referenced", without
// a line either), or one under an explicit tag that does not fit it ("cannot decode !!str
// `Hunter2…` as a !!int"). The errors now say where, at file:line, and what to do, and
// never repeat the value.
func TestYAMLErrorsRepeatNoValue(t *testing.T) {
	const secret = "Hunter2Secret9xyzzy"
	for name, c := range map[string]struct{ user, value, says string }{
		"alias":   {"verify", "*" + secret, "quote the value"},
		"int tag": {"verify", "!!int " + secret, "server.auth.basic.password: cannot decode the value as a !!int"},
		"flow":    {"verify", "{user: v, pass: *" + secret + "}", "quote the value"},
		// The same text inside a word above is no alias: the line is the alias's.
		"decoy": {"v*" + secret, "*" + secret, "quote the value"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "emfa.yaml")
			doc := "server:\n  auth:\n    basic:\n      username: " + c.user + "\n      password: " + c.value + "\n"
			if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, Options{})
			if err == nil {
				t.Fatal("loaded")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error repeats the value: %v", err)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("the error does not say %q: %v", c.says, err)
			}
			if !strings.HasPrefix(err.Error(), path+":5: ") {
				t.Errorf("the error does not say file:line (%s:5): %v", path, err)
			}
		})
	}
}
