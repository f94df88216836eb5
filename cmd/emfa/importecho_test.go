package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The import report echoed what a refused row held as it was: a user name or a JSON key
// with an escape sequence (a directory's export is other people's input) went raw to the
// operator's terminal, where ESC[2J cleared the screen and a carriage return let a row
// print over its own refusal; a 1 MB name was printed whole, line after line of it in a
// CI log. Now every value of the report is shown as the audit trail shows it: control
// characters escaped, a name cut at provider.MaxUsernameBytes with a marker.
func TestImportReportEscapes(t *testing.T) {
	cfg := writeConfig(t, "")
	dir := t.TempDir()
	long := strings.Repeat("n", 1<<20)
	files := map[string]string{
		"names.csv":  "username,email\nev\x1b[2Jil,a@example.com\n\"x\r+ line 9 root: user\",b@example.com\n" + long + ",c@example.com\n",
		"keys.jsonl": `{"username":"k1","x\u001b[2Jy":"1"}` + "\n" + `{"username":"x\r+ line 9 root: user"}` + "\n",
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := emfa(t, "import", path, "--dry-run", "--config", cfg)
		if code != 1 || !strings.Contains(out, "refused") {
			t.Fatalf("import %s: exit %d, want 1 and the refusals\n%s\n%s", name, code, out, errOut)
		}
		if i := strings.IndexFunc(out, func(r rune) bool { return r < 0x20 && r != '\n' || r == 0x7f }); i >= 0 {
			t.Errorf("import %s: the report holds a raw control character %q:\n%q", name, out[i], out)
		}
		if len(out) > 4096 {
			t.Errorf("import %s: a report of %d bytes for three rows", name, len(out))
		}
	}
}

// The report is the answer to the operator who ran the import, as POST /admin/v1/import's
// is to its caller, and says what a refused row held: since refusals masked an address
// or a number they quote for the audit trail and the log, emfa import printed `"***" is
// not one bare e-mail address` for the row the README's import excerpt refused, where the
// admin API (and emfa import --json) said "x".
func TestImportReportQuotesRow(t *testing.T) {
	cfg := writeConfig(t, "")
	path := filepath.Join(t.TempDir(), "directory.csv")
	if err := os.WriteFile(path, []byte("username,email,phone\nbad,x,\nworse,,+1555\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := emfa(t, "import", path, "--dry-run", "--config", cfg)
	for _, want := range []string{`! line 2 bad: invalid_email: email: "x" is not`, `! line 3 worse: invalid_phone: phone: "+1555"`} {
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("exit %d, want 1 and %q in:\n%s%s", code, want, out, errOut)
		}
	}
}
