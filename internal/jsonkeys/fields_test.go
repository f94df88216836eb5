package jsonkeys

import (
	"errors"
	"testing"
)

// TestCheckFields: CheckFields compares keys without regard to case only in
// the objects its Fields name (found by their keys in any case, an array's elements by
// "[]"), exactly elsewhere; it refuses all that Check refuses but keys differing in
// case elsewhere, and names the key as Check does.
func TestCheckFields(t *testing.T) {
	f := NewFields("", "data", "target.[]", "details.request")
	for _, tc := range []struct{ doc, dup string }{
		{`{"a":1,"A":2}`, "A"},
		{`{"data":{"x":1,"X":2}}`, "data.X"},
		{`{"DATA":{"x":1,"X":2}}`, "DATA.X"},
		{`{"target":[{},{"id":1,"ID":2}]}`, "target.[].ID"},
		{`{"details":{"Request":{"path":1,"Path":2}}}`, "details.Request.Path"},
		{`{"details":{"m":{"k":1,"k":2}}}`, "details.m.k"},
		{`{"data":{"deep":[{"k":1,"k":2}]}}`, "data.deep.[].k"},
		{`{"x":{"a":1,"A":1},"y":{"b":1,"b":2}}`, "y.b"},
	} {
		var dup *DuplicateError
		if err := CheckFields([]byte(tc.doc), f); !errors.As(err, &dup) || dup.Path != tc.dup {
			t.Errorf("%s: %v, want %q named twice", tc.doc, err, tc.dup)
		}
	}
	for _, doc := range []string{
		`{"x":{"a":1,"A":1}}`,
		`{"data":{"meta":{"Team":"a","team":"b"}}}`,
		`{"target":[{"detail":{"K":1,"k":2}}],"details":{"a":1,"A":2}}`,
		`{"details":{"request":{"body":{"Blocked":1,"blocked":2}}}}`,
		`[{"a":1,"A":1}]`,
	} {
		if err := CheckFields([]byte(doc), f); err != nil {
			t.Errorf("%s: %v, want it read", doc, err)
		}
		if Check([]byte(doc)) == nil {
			t.Errorf("%s: Check reads it; the case is not one CheckFields tells apart", doc)
		}
	}
	// Past maxLinearKeys keys an object's keys are kept in a map: still exact outside.
	many := `{"x":{`
	for i := range 20 {
		many += `"k` + string(rune('a'+i)) + `":1,`
	}
	if err := CheckFields([]byte(many+`"KA":1}}`), f); err != nil {
		t.Errorf("many keys, one in two cases: %v", err)
	}
	if err := CheckFields([]byte(many+`"ka":1}}`), f); err == nil {
		t.Error("many keys, one named twice exactly: read")
	}
	for _, doc := range []string{``, `{`, `{"a":1}x`, `[` + deepArray(MaxDepth) + `]`} {
		if got, want := CheckFields([]byte(doc), f), Check([]byte(doc)); (got == nil) != (want == nil) {
			t.Errorf("%.20q: CheckFields %v, Check %v", doc, got, want)
		}
	}
}

func deepArray(n int) string {
	s := ""
	for range n {
		s = "[" + s + "]"
	}
	return s
}
