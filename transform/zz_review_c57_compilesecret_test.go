package transform

import (
	"strings"
	"testing"
)

// TestReviewC57ConstantPatternNotQuoted: a constant matches pattern that is no regular
// expression is refused at load, and the refusal quoted the pattern as regexp's error does:
// the transform's text, which may hold a secret a webhookFile's placeholder put there (a
// shared token a vendor's header is checked against). The refusal keeps its position and
// what is wrong with the pattern.
func TestReviewC57ConstantPatternNotQuoted(t *testing.T) {
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
