package adapter

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// plainStringBefore is appendPlainString as it was before its table look-up: the
// reference the faster form must answer as.
func plainStringBefore(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return nil, false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return nil, false
		}
		i += size
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// checkPlainString: appendPlainString answers s as before, and what it writes is what
// encoding/json writes.
func checkPlainString(t *testing.T, s string) {
	t.Helper()
	got, ok := appendPlainString([]byte("x"), s)
	want, wantOK := plainStringBefore([]byte("x"), s)
	if ok != wantOK || string(got) != string(want) {
		t.Fatalf("%q: %q %v, before %q %v", s, got, ok, want, wantOK)
	}
	if ok {
		if j, _ := json.Marshal(s); "x"+string(j) != string(got) {
			t.Fatalf("%q: written %q, encoding/json %q", s, got[1:], j)
		}
	}
}

// TestPlainStringAsBefore: with its first scan by table, appendPlainString
// refuses and writes every string as before (every single byte, alone and after a
// plain prefix, and odd UTF-8). Mutations tried: '&' marked plain in htmlPlain, DEL
// marked plain; each fails here.
func TestPlainStringAsBefore(t *testing.T) {
	for c := 0; c < 256; c++ {
		checkPlainString(t, string(rune(c)))
		checkPlainString(t, string([]byte{byte(c)}))
		checkPlainString(t, "push"+string([]byte{byte(c)})+"x")
	}
	for _, s := range append(oddStrings, "DPFZRS9FB0D46QFTM891", "phone", "é", "a\u2028", "\u2029b", "\xed\xa0\x80", "\xf0\x9f") {
		checkPlainString(t, s)
	}
}

// FuzzPlainString: any string answers as before.
func FuzzPlainString(f *testing.F) {
	for _, s := range oddStrings {
		f.Add(s)
	}
	f.Fuzz(checkPlainString)
}

// BenchmarkPlainString is the strings of one DUO enrollment as its answer
// writes them.
func BenchmarkPlainString(b *testing.B) {
	strs := []string{"push", "DPFZRS9FB0D46QFTM891", "name", "My iPhone", "number", "XXX-XXX-0100", "type", "phone"}
	buf := make([]byte, 0, 256)
	for b.Loop() {
		buf = buf[:0]
		for _, s := range strs {
			buf, _ = appendPlainString(buf, s)
		}
	}
}
