package jsonkeys

import (
	"encoding/json"
	"errors"
	"testing"
)

// TestCheckValues: CheckValues hands back the raw values of the top-level keys matching
// the names asked for, matched as encoding/json matches keys to fields (long s, Kelvin
// sign), nil for a name no key matches or a key below the top; it refuses what
// CheckFields refuses, a key named twice as ErrDuplicate alone (no DuplicateError, whose
// path a caller that words nothing would pay for).
func TestCheckValues(t *testing.T) {
	f := NewFields("", "data")
	for _, tc := range []struct {
		doc      string
		id, kind string // want Raw of "log_id" and "kind"; "-" for nil
	}{
		{`{"log_id":"x","kind":5}`, `"x"`, `5`},
		{` { "LOG_ID" : "x\"y" , "Kind" : { "a" : [1] } } `, `"x\"y"`, `{ "a" : [1] }`},
		{`{"log_id":null,"other":1}`, `null`, "-"},
		{"{\"\u212aind\":true,\"data\":{\"log_id\":\"inner\"}}", "-", `true`},
		{`{"loſ_id":"s"}`, "-", "-"}, // ſ folds with s, not g: another key
		{`{"log_ids":"x","log_i":"y"}`, "-", "-"},
		{`["log_id","x"]`, "-", "-"},
		{`"log_id"`, "-", "-"},
	} {
		v := []Value{{Name: "log_id", Raw: []byte("stale")}, {Name: "kind"}}
		if err := CheckValues([]byte(tc.doc), f, v); err != nil {
			t.Errorf("%s: %v", tc.doc, err)
			continue
		}
		for i, want := range []string{tc.id, tc.kind} {
			if got := v[i].Raw; (want == "-") != (got == nil) || (got != nil && string(got) != want) {
				t.Errorf("%s: %s is %q, want %s", tc.doc, v[i].Name, got, want)
			}
		}
	}
	for _, doc := range []string{`{"log_id":"x","Log_Id":"y"}`, `{"data":{"a":1,"A":2}}`, `{"m":{"a":1,"a":2}}`} {
		err := CheckValues([]byte(doc), f, []Value{{Name: "log_id"}})
		var dup *DuplicateError
		if !errors.Is(err, ErrDuplicate) || errors.As(err, &dup) {
			t.Errorf("%s: %v, want ErrDuplicate alone", doc, err)
		}
	}
	if err := CheckValues([]byte(`{"a":`+deepArray(MaxDepth)+`}`), f, nil); !errors.Is(err, ErrTooDeep) {
		t.Errorf("nested past MaxDepth: %v", err)
	}
	// Not valid after all, a caller's mistake: refused as Check refuses it, no panic.
	if err := CheckValues([]byte(`{"log_id":`), f, []Value{{Name: "log_id"}}); err == nil {
		t.Error("a document cut off passed")
	}
}

// TestCheckValuesAllocateNothing: a caller's values on its stack stay there, and the
// walk of a document of a few keys, refused or not, allocates nothing.
func TestCheckValuesAllocateNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are measured without the race detector")
	}
	f := NewFields("", "data")
	for _, doc := range []string{`{"log_id":"x","type":5,"data":{"a":1,"b":[true]}}`, `{"log_id":"x","LOG_ID":"y"}`, `{"data":{"a":1,"A":2}}`} {
		data := []byte(doc)
		if n := testing.AllocsPerRun(100, func() {
			v := [...]Value{{Name: "log_id"}, {Name: "type"}, {Name: "data"}}
			_ = CheckValues(data, f, v[:])
		}); n != 0 {
			t.Errorf("%s: %.0f allocations, want none", doc, n)
		}
	}
}

// valuesAsDecoded is what encoding/json reads into fields named log_id and data, each a
// json.RawMessage: the value of the key it matches, as the document has it.
type valuesAsDecoded struct {
	LogID json.RawMessage `json:"log_id"`
	Data  json.RawMessage `json:"data"`
}
