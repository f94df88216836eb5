package jsonkeys

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// manyKeys is one object of n distinct keys, "k0" to "k<n-1>" in hexadecimal.
func manyKeys(n int, extra string) []byte {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, `"k%x":0,`, i)
	}
	b.WriteString(extra)
	b.WriteString(`"end":0}`)
	return []byte(b.String())
}

// TestManyKeysLinear: an object of many keys is checked in work linear in their
// number. A 64 KiB body (the unauthenticated device registration's limit) holds 9,000
// keys, and comparing each with every one before it was 40 million comparisons, 0.2 s of
// CPU per request; a SCIM body of 4 MiB took minutes.
func TestManyKeysLinear(t *testing.T) {
	var n int
	equalFold = func(a, b []byte) bool { n++; return bytes.EqualFold(a, b) }
	defer func() { equalFold = bytes.EqualFold }()
	const keys = 9000
	if err := Check(manyKeys(keys, "")); err != nil {
		t.Fatal(err)
	}
	if n > 64*keys {
		t.Errorf("%d keys took %d comparisons, want at most %d", keys, n, 64*keys)
	}
	// Still refused, in whatever case, however many keys came before.
	for _, dup := range []string{`"K1F":1,`, `"k0":1,`, `"ǅ":1,"ǆ":2,`, `"\u212a":1,"k":2,`, `"\u00ff":1,"\u0178":1,`} {
		if err := Check(manyKeys(keys, dup)); err == nil {
			t.Errorf("%s after %d keys: no error, want a duplicate", dup, keys)
		}
	}
	for _, fine := range []string{`"ǅx":1,"ǆy":2,`, `"kk":1,"k":2,`} {
		if err := Check(manyKeys(keys, fine)); err != nil {
			t.Errorf("%s after %d keys: %v", fine, keys, err)
		}
	}
}
