package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A key that is not a name (a list or a section written as a key, with YAML's ?) or an
// empty one is said at its line: at the top of the file it had none, and no path either
// (`emfa.yaml: unknown key ""`), so emfa check and serve pointed nowhere; inside a section
// it was said at the section's line as unknown key "".
func TestKeyNotANameHasItsLine(t *testing.T) {
	for _, c := range []struct{ name, doc, want string }{
		{"list key at the top", "log: {level: info}\n? [x]\n: {a: 1}\n", ":2: a key must be a name, not a list"},
		{"section key at the top", "log: {level: info}\n? {a: 1}\n: 5\n", ":2: a key must be a name, not a section"},
		{"section key in a section", "log:\n  level: info\n  ? {a: 1}\n  : 5\n", ":3: log: a key must be a name, not a section"},
		{"empty key at the top", "log: {level: info}\n\"\": 5\n", `:2: unknown key ""`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "emfa.yaml")
			if err := os.WriteFile(path, []byte(c.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Inspect(path, Options{LookupEnv: func(string) (string, bool) { return "", false }})
			if err == nil || !strings.Contains(err.Error(), path+c.want) {
				t.Errorf("want %q in:\n%v", path+c.want, err)
			}
		})
	}
}
