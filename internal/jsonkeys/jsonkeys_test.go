package jsonkeys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"unicode"
)

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		in, dup string // dup: the path named, "" when the body is fine
	}{
		{`{"username":"alice"}`, ""},
		{`{"a":{"x":1},"b":{"x":1},"c":[{"x":1},{"x":2}],"x":[1,"x","x"]}`, ""},
		{`{"a":"b","b":"a"}`, ""},
		{`{"username":"nobody","username":"alice"}`, `"username"`},
		{`{"username":"nobody","USERNAME":"alice"}`, `"USERNAME"`},
		{`{"id":"f","attributes":{"username":"a","passvalue":"1","username":"b"}}`, `"attributes.username"`},
		{`{"attributes":{"k":{}},"attributes":{}}`, `"attributes"`},
		{`[{"a":1,"a":2}]`, `"[].a"`},
		{`{"":{"":0,"":0}}`, `duplicate key ""`},  // empty keys above name no prefix (fuzzing found ".")
		{`{"ſ":1,"S":2}`, `"S"`},                  // long s folds to S, as encoding/json matches
		{"{\"\xbf\":1,\"\xfe\":2}", "\"\ufffd\""}, // both are U+FFFD to encoding/json
	} {
		err := Check([]byte(c.in))
		switch {
		case c.dup == "" && err != nil:
			t.Errorf("%s: %v", c.in, err)
		case c.dup != "" && (!errors.Is(err, ErrDuplicate) || !strings.Contains(err.Error(), c.dup)):
			t.Errorf("%s: %v, want a duplicate %s", c.in, err, c.dup)
		}
		if de := (*DuplicateError)(nil); c.dup != "" && (!errors.As(err, &de) || !strings.Contains(err.Error(), fmt.Sprintf("%q", de.Path))) {
			t.Errorf("%s: %v, want a DuplicateError naming its path", c.in, err)
		}
	}
	if err := Check([]byte(strings.Repeat("[", 40) + strings.Repeat("]", 40))); err == nil {
		t.Error("40 levels of nesting accepted")
	}
}

// FuzzCheck holds Check to the walk it replaced, over encoding/json's tokens: on one
// valid JSON value both say the same, word for word; on anything else the walk refuses
// where the tokens did (they also took several values in a row, which no caller accepts).
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"username":"alice"}`, `{"a":{"x":1},"b":[{"x":1},{"x":2}],"X":[1,"x"]}`,
		`{"username":"nobody","USERNAME":"alice"}`, `[{"a":1,"a":2}]`, `{"ſ":1,"S":2}`, `{"\u0075sername":1,"username":2}`,
		`{"k":1,"\u212a":2}`, `{"a\"b":1,"a\"B":2}`, ` [ 1 , -2.5e3 , true , null , "x" ] `, `{"a":{}}{"a":1}`, ``, `  `,
		strings.Repeat("[", 33) + strings.Repeat("]", 33), strings.Repeat(`{"a":`, 32) + "1" + strings.Repeat("}", 32),
		`{"LOG_ID":"x","data":{"log_id":1}, "n":null}`, `{"log_\u0069d":"x","\u212aey":1,"data":null}`, `{"log_id":null,"data":[{"a":1,"A":2}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, want := Check(data), checkTokens(data)
		switch {
		case json.Valid(data):
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%q: %v, the token walk said %v", data, got, want)
			}
			if valid := CheckValid(data); fmt.Sprint(valid) != fmt.Sprint(got) {
				t.Fatalf("%q: CheckValid %v, Check %v", data, valid, got)
			}
			// CheckValues refuses what CheckFields does, and where it passes, its values are
			// those encoding/json reads into fields.
			v := []Value{{Name: "log_id"}, {Name: "data"}}
			fieldsErr, valuesErr := CheckFields(data, fuzzFields), CheckValues(data, fuzzFields, v)
			if (fieldsErr == nil) != (valuesErr == nil) || (fieldsErr != nil && !errors.Is(fieldsErr, valuesErr)) {
				t.Fatalf("%q: CheckValues %v, CheckFields %v", data, valuesErr, fieldsErr)
			}
			var d valuesAsDecoded
			if valuesErr == nil && json.Unmarshal(data, &d) == nil && (string(v[0].Raw) != string(d.LogID) || string(v[1].Raw) != string(d.Data)) {
				t.Fatalf("%q: values %q %q, decoded %q %q", data, v[0].Raw, v[1].Raw, d.LogID, d.Data)
			}
		case len(bytes.TrimSpace(data)) == 0:
			if got != nil {
				t.Fatalf("%q: %v", data, got)
			}
		case got == nil:
			t.Fatalf("%q is not one JSON value, and passed", data)
		}
	})
}

// fuzzFields are the objects of fields FuzzCheck holds CheckValues to CheckFields with.
var fuzzFields = NewFields("", "data")

// checkTokens is Check as it was, over encoding/json's tokens.
func checkTokens(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type object struct {
		keys   map[string]struct{}
		path   string
		expect bool // the next string token is a key
	}
	var stack []*object
	var path []string // per level: the key or "[]" the walk is under
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var top *object
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) >= MaxDepth {
					return fmt.Errorf("nested deeper than %d levels", MaxDepth)
				}
				if top != nil && !top.expect {
					top.expect = true // this value ends at the matching delimiter
				}
				o := &object{path: strings.Join(path, ".")}
				if t == '{' {
					o.keys, o.expect = map[string]struct{}{}, true
				}
				stack = append(stack, o)
				if t == '[' {
					path = append(path, "[]")
				} else {
					path = append(path, "")
				}
			default:
				stack, path = stack[:len(stack)-1], path[:len(path)-1]
			}
		case string:
			if top != nil && top.keys != nil && top.expect {
				k := foldKeyReference(t)
				if _, dup := top.keys[k]; dup {
					where := t
					if top.path != "" {
						where = top.path + "." + t
					}
					return fmt.Errorf("%w %q", ErrDuplicate, where)
				}
				top.keys[k] = struct{}{}
				top.expect = false
				path[len(path)-1] = t
				continue
			}
			if top != nil && top.keys != nil {
				top.expect = true
			}
		default:
			if top != nil && top.keys != nil {
				top.expect = true
			}
		}
	}
}

// foldKeyReference maps s to one spelling per case-insensitive class (the smallest rune of each
// rune's simple-folding orbit), as encoding/json's field matching folds.
func foldKeyReference(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}

func BenchmarkCheck(b *testing.B) {
	body := []byte(`{"capability":"totp","id":"f-0123456789abcdef","attributes":{"username":"alice@example.com","passvalue":"123456"}}`)
	for b.Loop() {
		if err := Check(body); err != nil {
			b.Fatal(err)
		}
	}
}
