package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReviewYAMLSyntaxErrorsNameFileAndLine: a document YAML cannot read is reported as
// every other problem is, file:line first, and a line indented with a tab — the most
// common way to break a hand-edited file — is named as such. It used to be "config
// emfa.yaml: parse yaml: yaml: line 3: found character that cannot start any token",
// which named neither the tab nor, for some tabs, the right line.
func TestReviewYAMLSyntaxErrorsNameFileAndLine(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, doc, want string
	}{
		{"tab-key", "server:\n  listen: \"127.0.0.1:8080\"\n  auth:\n\tbasic: {}\n", "tab.yaml:4: indented with a tab: YAML indents with spaces only"},
		{"tab-after-spaces", "server:\n  auth:\n  \tbasic: {}\n", "tab.yaml:3: indented with a tab: YAML indents with spaces only"},
		{"tab-sibling", "server:\n  listen: x\n\tauth: {}\n", "tab.yaml:3: indented with a tab: YAML indents with spaces only"},
		{"colon", "server:\n  listen: 127.0.0.1:8080:\n", "tab.yaml:2: mapping values are not allowed in this context"},
		{"twice", "server:\n  listen: a\n  Listen: b\n", "tab.yaml:3: server.Listen is set twice (first at line 2)"},
	} {
		path := filepath.Join(dir, "tab.yaml")
		if err := os.WriteFile(path, []byte(c.doc), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, env(nil))
		if err == nil || !strings.HasPrefix(err.Error(), path+":") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v\nwant %s…%s", c.name, err, path, c.want)
		}
	}
}
