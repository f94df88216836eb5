package config

import (
	"strconv"
	"strings"
	"testing"
)

// TestAliasLineSkipsTextAndComments: the line of an unquoted value that starts
// with * (an alias of no anchor) was the first line where *NAME was written after a blank,
// also inside a quoted value or a comment above it: the error sent the operator to a
// line that is not. It is now the alias's own line.
func TestAliasLineSkipsTextAndComments(t *testing.T) {
	const secret = "Hunter2Secret9xyzzy"
	for name, above := range map[string]string{
		"comment":       "# the old password was *" + secret + "\n",
		"double quoted": "motd: \"ask for *" + secret + "\"\n",
		"single quoted": "motd: 'ask for *" + secret + "'\n",
		"block":         "motd: |\n  ask for *" + secret + "\n",
		"crlf comment":  "# the old password was *" + secret + "\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			doc := above + "server:\n  auth:\n    basic:\n      username: verify\n      password: *" + secret + "\n"
			if strings.Contains(name, "crlf") {
				doc = strings.ReplaceAll(doc, "\r\n", "\n")
				doc = strings.ReplaceAll(doc, "\n", "\r\n")
			}
			want := strings.Count(doc[:strings.LastIndex(doc, "*")], "\n") + 1
			path, err := loadDoc(t, doc)
			if err == nil {
				t.Fatal("loaded")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error repeats the value: %v", err)
			}
			if at := path + ":" + strconv.Itoa(want) + ": "; !strings.HasPrefix(err.Error(), at) {
				t.Errorf("the error is not at the alias's line (%s): %v", at, err)
			}
		})
	}
}
