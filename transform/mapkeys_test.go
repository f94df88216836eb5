package transform

import (
	"context"
	"strings"
	"testing"
)

// A result map whose keys of different types write the same JSON key ({1: "a", "1": "b"},
// 1 and 1u) is an error: one value was dropped, which one by map order, so the same
// transform sent a vendor one body or the other from call to call.
func TestResultKeysThatWriteOneJSONKey(t *testing.T) {
	t.Parallel()
	env, err := NewEnv(Outgoing)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{`{"body": {1: "a", "1": "b"}}`, `{"body": {"x": {1: "a", 1u: "b"}}}`, `{"body": {"x": [{true: 1, "true": 2}]}}`} {
		prg, err := Compile(env, src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		out, err := prg.Eval(context.Background(), Vars{VarNow: fixedNow})
		if err == nil || !strings.Contains(err.Error(), "twice") {
			t.Errorf("%s: %v %v, want an error naming the key given twice", src, out, err)
		}
	}
	// Keys of one type, or of several that write different keys, are as they were.
	prg, err := Compile(env, `{"body": {1: "a", "2": "b", true: "c"}}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prg.Eval(context.Background(), Vars{VarNow: fixedNow}); err != nil {
		t.Errorf("distinct keys: %v", err)
	}
}
