package transform

import (
	"strings"
	"testing"
)

// TestCompileErrorsQuoteNoSource: a transform's text may hold a secret (a
// webhookFile's placeholders are filled anywhere in it, transforms included), and the
// refusal of one that does not compile went to emfa check's output and serve's log with the
// whole source line under it, and a syntax error with the string literal it tripped on.
// The refusal keeps the line:column and what is wrong, identifiers included.
func TestCompileErrorsQuoteNoSource(t *testing.T) {
	env, err := NewEnv(Outgoing)
	if err != nil {
		t.Fatal(err)
	}
	for src, want := range map[string]string{
		`{"header": header.put("authorization", "Bearer S3CRET"), "body": nope}`:                "<input>:1:66: undeclared reference to 'nope'",
		`{"header": header.put("authorization", "Bearer S3CRET" + 1)}`:                          "<input>:1:56: found no matching overload for '_+_' applied to '(string, int)'",
		`{"header": header.put("authorization", "Bearer " "S3CRET")}`:                           "<input>:1:50: Syntax error: extraneous input",
		`{"header": header.put("authorization", "Bearer S3CRET), "body": body}`:                 "<input>:1:58: Syntax error: mismatched input 'body' expecting ')'",
		"{\"header\": header.put(\"authorization\", \"Bearer S3CRET\"),\n \"body\": S3CRET2.x}": "<input>:2:10: undeclared reference to 'S3CRET2'",
	} {
		_, err := Compile(env, src)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", src, err, want)
			continue
		}
		if strings.Contains(strings.ReplaceAll(err.Error(), "S3CRET2", ""), "S3CRET") {
			t.Errorf("%s: %v quotes the source", src, err)
		}
	}
}
