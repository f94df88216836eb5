package config

import (
	"strings"
	"testing"
)

// A misspelt top-level key (storag) is the problem of the section it was meant for: that
// section's keys, then unset, are not reported again as missing (storage.dsn must not be
// empty), lineless, beside it; another section's problems still are.
func TestMisspeltTopLevelKeyIsSaidOnce(t *testing.T) {
	_, err := Parse([]byte(`server:
  listen: nowhere
  auth: {allowAnonymous: true}
storag: {dsn: ":memory:", encryptionKey: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
providers: [{name: A, credentialPrefix: a, capabilities: [totp]}]
`), "yaml", Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if err == nil {
		t.Fatal("no error")
	}
	got := err.Error()
	want := "line 2: server.listen: not host:port (e.g. 127.0.0.1:8080)\n" +
		`line 4: unknown key "storag" (did you mean "storage"?)`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(got, "storage.dsn") {
		t.Errorf("a consequence of the misspelt key is reported again")
	}
}
