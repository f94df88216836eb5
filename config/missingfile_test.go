package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A --config that names no file answered `config: open emfa.yml: no such file or
// directory`, and one that names a directory `config: read /etc/emfa: is a directory`:
// Go's words, and for a relative path nothing of where it was looked for (serve run from
// another folder, by a unit file or a container). Each now says what it is, and where.
func TestConfigFileMissingOrDirectory(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	for _, c := range []struct {
		path string
		want []string
	}{
		{"no-such-emfa.yml", []string{"config no-such-emfa.yml: no such file", filepath.Join(wd, "no-such-emfa.yml"), "working directory"}},
		{filepath.Join(dir, "emfa.yaml"), []string{"config " + filepath.Join(dir, "emfa.yaml") + ": no such file"}},
		{dir, []string{"config " + dir + ": a directory, not a configuration file"}},
	} {
		_, err := Load(c.path, Options{})
		if err == nil {
			t.Fatalf("%s: loaded", c.path)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", c.path, err, w)
			}
		}
		if strings.Contains(err.Error(), "open ") || strings.Contains(err.Error(), "read ") {
			t.Errorf("%s: %q: Go's words", c.path, err)
		}
	}
}
