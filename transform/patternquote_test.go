package transform

import (
	"strings"
	"testing"
)

// TestPatternWithBackquoteNotShown: a pattern that is no regular expression is
// refused with regexp's message, which quotes it between backquotes; the redaction of
// quoted text took a backquote in the pattern (one in a value from the input, or in the
// transform's text) for the quote's end, and showed the rest. The refusal says what is
// wrong, not the pattern.
func TestPatternWithBackquoteNotShown(t *testing.T) {
	env := testEnv(t)
	p, err := Compile(env, `{"v": "x".matches(s)}`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Eval(t.Context(), Vars{"s": "a`S3CRET(x"})
	if err == nil || !strings.Contains(err.Error(), "missing closing )") || strings.Contains(err.Error(), "S3CRET") {
		t.Errorf("Eval = %v, want the pattern's fault without the pattern", err)
	}
	_, err = Compile(env, "{\"v\": \"x\".matches(\"a`S3CRET(x\")}")
	if err == nil || !strings.Contains(err.Error(), "missing closing )") || strings.Contains(err.Error(), "S3CRET") {
		t.Errorf("Compile = %v, want the pattern's fault without the pattern", err)
	}
}
