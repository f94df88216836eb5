package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A key indented one space too few or too many — the commonest slip after a tab — got the
// parser's words alone, at a line that was not the mistake's: "emfa.yaml:14: did not find
// expected key" for a dsn written at line 15, "emfa.yaml:30: did not find expected '-'
// indicator" for a provider's key misaligned six lines below. The line that lines up with
// no key above it is now named, and why.
func TestIndent(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, doc string
		line      int
	}{
		{"one-too-few", "server:\n  listen: \"127.0.0.1:8080\"\nstorage:\n  driver: sqlite\n dsn: x\n", 5},
		{"dedent-to-nowhere", "log:\n    level: info\n  format: json\n", 3},
		{"list-item", "providers:\n  - name: a\n    credentialPrefix: a\n    capabilities: [totp]\n   engine: builtin\n", 5},
		{"after-block-text", "server:\n  listen: |\n      a\n     b\n  auth:\n    basic: {}\n   header: {}\n", 7},
		// A section pasted without its first line: the file starts further in than the
		// key after it, which the parser read as a second document, "after ---", of a
		// file that holds none.
		{"first-line-lost", "  listen: \"127.0.0.1:8080\"\n  requestTimeout: 10s\nstorage:\n  driver: sqlite\n", 3},
		{"first-line-lost-marked", "---\n  listen: \"127.0.0.1:8080\"\nstorage:\n  driver: sqlite\n", 3},
	} {
		path := filepath.Join(dir, c.name+".yaml")
		if err := os.WriteFile(path, []byte(c.doc), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, env(nil))
		want := path + ":" + strconv.Itoa(c.line) + ": "
		if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "lines up with no key above it") || strings.Contains(err.Error(), "---") {
			t.Errorf("%s: got %v\nwant %s… lines up with no key above it", c.name, err, want)
		}
	}
}
