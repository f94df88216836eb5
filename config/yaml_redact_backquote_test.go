package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loadDoc writes doc to a file and loads it.
func loadDoc(t *testing.T, doc string) (string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "emfa.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, Options{LookupEnv: func(string) (string, bool) { return "", false }})
	return path, err
}

// TestTagErrorRepeatsNoValue: a value under a tag that does not fit it is
// quoted by the decoder between backquotes; a value with a backquote of its own ended the
// redaction there, and the rest of it, a password's tail, was in the error.
func TestTagErrorRepeatsNoValue(t *testing.T) {
	const tail = "Secret9xyzzy"
	for _, value := range []string{"!!int Hunter2`" + tail, "!!float \"Hunter2`" + tail + "\"", "!!bool 'a`b`" + tail + "'"} {
		_, err := loadDoc(t, "server:\n  auth:\n    basic:\n      username: verify\n      password: "+value+"\n")
		if err == nil {
			t.Fatalf("%s: loaded", value)
		}
		if strings.Contains(err.Error(), tail) {
			t.Errorf("%s: the error repeats the value: %v", value, err)
		}
		if !strings.Contains(err.Error(), "server.auth.basic.password: cannot decode the value as a !!") {
			t.Errorf("%s: the error does not say what: %v", value, err)
		}
	}
}
