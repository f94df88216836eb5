package sqlstore

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestFlatParamsTakesWhatStoresWrite: the params a factor's read decodes on every
// contract call, as encodeParams writes them (SQLite keeps that text) and as PostgreSQL's
// jsonb gives them back, go through the one-pass reader and read as Unmarshal reads them.
func TestFlatParamsTakesWhatStoresWrite(t *testing.T) {
	enc, err := encodeParams(map[string]string{"algorithm": "SHA1", "digits": "6", "period": "30", "origin": "admin"})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{
		enc,
		`{"digits": "6", "period": "30", "algorithm": "SHA1"}`, // jsonb's text
		"{}", " { } ", `{"a":"1","a":"2"}`, "{\n\t\"k\" :\r\"\" }\n",
	} {
		p, ok := decodeFlatParams(in)
		if !ok {
			t.Errorf("%q: not read in one pass", in)
			continue
		}
		if want := oracleParams(t, []byte(in)); !reflect.DeepEqual(p, want) {
			t.Errorf("%q: %v, encoding/json reads %v", in, p, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { decodeParams(enc) }); n > 4 {
		t.Errorf("decodeParams of %s: %v allocations, want at most 4", enc, n)
	}
}

// oracleParams is what decodeParams answered before the one-pass reader.
func oracleParams(t *testing.T, b []byte) map[string]string {
	var p map[string]string
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	if len(p) == 0 {
		return nil
	}
	return p
}

// FuzzDecodeParams holds the one-pass reader to encoding/json: whatever it takes,
// Unmarshal reads the same; whatever it leaves, decodeParams answers as Unmarshal does.
func FuzzDecodeParams(f *testing.F) {
	for _, s := range []string{`{"algorithm":"SHA1","digits":"6"}`, `{"a": "b" , "c":"d"}`, "{}", "null", `{"a":1}`,
		`{"a":"\u00e9"}`, `{"a":"\xff"}`, `{"a":"b"} x`, `{"a":"b",}`, `{"a" "b"}`, `[]`, ``, `{"a":"b"`, "{\"a\":\"\x01\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want map[string]string
		werr := json.Unmarshal(b, &want)
		if len(want) == 0 {
			want = nil
		}
		if p, ok := decodeFlatParams(string(b)); ok {
			if werr != nil {
				t.Fatalf("%q: read as %v, encoding/json refuses it: %v", b, p, werr)
			}
			if !reflect.DeepEqual(p, want) {
				t.Fatalf("%q: %v, encoding/json reads %v", b, p, want)
			}
		}
		got, err := decodeParams(string(b))
		if (err != nil) != (werr != nil) || (err == nil && !reflect.DeepEqual(got, want)) {
			t.Fatalf("%q: %v %v, encoding/json: %v %v", b, got, err, want, werr)
		}
	})
}
