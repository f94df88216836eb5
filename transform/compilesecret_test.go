package transform

import (
	"strings"
	"testing"
)

// TestConstantPatternNotQuoted: a constant matches pattern that is no regular
// expression is refused at load, and the refusal quoted the pattern as regexp's error does:
// the transform's text, which may hold a secret a webhookFile's placeholder put there (a
// shared token a vendor's header is checked against). The refusal keeps its position and
// what is wrong with the pattern.
func TestConstantPatternNotQuoted(t *testing.T) {
	env, err := NewEnv(Incoming)
	if err != nil {
		t.Fatal(err)
	}
	src := `{"body": {"status": header["x-token"][0].matches("^S3CRET(tok$") ? "SUCCESS" : "FAILED"}}`
	_, err = Compile(env, src)
	if err == nil || !strings.Contains(err.Error(), "<input>:1:50: ") || !strings.Contains(err.Error(), "missing closing )") {
		t.Fatalf("%v, want a refusal at 1:50 saying what is wrong", err)
	}
	if strings.Contains(err.Error(), "S3CRET") {
		t.Errorf("%v quotes the pattern", err)
	}
}

// TestCompileErrorAfterBrokenString: a string literal with an escape CEL does not
// know (a secret with a backslash in it, filled in by a placeholder) is cut by the lexer at
// the escape, and the rest of the literal read as tokens: the refusal hid the broken
// literal but quoted the identifier after it ("mismatched input 'ZS3CRET'"), the rest of
// the secret. After a token the lexer could not read, no token is quoted; the positions
// and messages stay.
func TestCompileErrorAfterBrokenString(t *testing.T) {
	env, err := NewEnv(Outgoing)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{
		`{"header": header.put("authorization", "Bearer ab\qS3CRET")}`,
		`{"header": header.put("authorization", b"\xZZS3CRET")}`,
		"{\"header\": header.put(\"authorization\", \"Bearer ab\\q\",\n \"x\" S3CRET)}",
		// A literal left open at the end of a line: the token runs to the line break.
		"{\"header\": header.put(\"authorization\", \"Bearer S3CRET),\n \"body\": body}",
	} {
		_, err := Compile(env, src)
		if err == nil || !strings.Contains(err.Error(), "<input>:1:") || !strings.Contains(err.Error(), "token recognition error") {
			t.Errorf("%s: %v, want a refusal with its positions", src, err)
			continue
		}
		if strings.Contains(err.Error(), "S3CRET") {
			t.Errorf("%s: %v quotes the source", src, err)
		}
	}
}
