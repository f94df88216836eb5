package jsonkeys

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestExoticKeys: inputs a fuzzer seldom builds, where Check, CheckValid and the
// token walk Check replaced must agree: a key and its escaped spelling, lone surrogates
// (both U+FFFD to encoding/json), bytes that are not UTF-8, an escaped duplicate past
// maxLinearKeys (the map's side), huge numbers, the deepest nesting allowed and one more.
func TestExoticKeys(t *testing.T) {
	var many strings.Builder
	many.WriteString("{")
	for i := range maxLinearKeys + 4 {
		fmt.Fprintf(&many, `"k%d":%d,`, i, i)
	}
	many.WriteString(`"\u006B3":0}`)
	for _, s := range []string{
		`{"a":1,"\u0061":2}`,
		`{"a/":1,"a\/":2}`,
		`{"\ud800":1,"\udfff":2}`,
		`{"\ud800":1,"\ufffd":2}`,
		`{"\ud83d\ude00":1,"😀":2}`,
		"{\"\xff\":1,\"\xfe\":2}",
		"{\"a\xff\":1,\"A\xfe\":2}",
		`{"":1,"":2}`,
		`{"a":{"":1},"b":[{"":1,"\u0000":2}],"c":{"\u0000":1,"\u0000":2}}`,
		`{"a":1e999999999999,"b":-0.0e-0,"c":123456789012345678901234567890,"a":0}`,
		many.String(),
		strings.Repeat(`{"a":[`, 16) + strings.Repeat("]}", 16),
		strings.Repeat(`{"a":[`, 16) + "{}" + strings.Repeat("]}", 16),
		`{"` + strings.Repeat("x", 70000) + `":1,"` + strings.Repeat("X", 70000) + `":2}`,
	} {
		data := []byte(s)
		if !json.Valid(data) {
			t.Fatalf("%.40q is not valid JSON", s)
		}
		check, valid, tokens := Check(data), CheckValid(data), checkTokens(data)
		if fmt.Sprint(check) != fmt.Sprint(tokens) || fmt.Sprint(valid) != fmt.Sprint(tokens) {
			t.Errorf("%.60q: Check %v, CheckValid %v, the token walk %v", s, check, valid, tokens)
		}
	}
}
