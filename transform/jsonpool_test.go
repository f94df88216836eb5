package transform

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestDecodeJSONValuePoolNoAlias: the decoders' pooled stack of members is never
// part of a value handed out. Values decoded earlier, kept while other goroutines decode
// (objects small and large, repeated keys, inputs that fail half-way and so leave
// members on the stack, a stack grown past maxPooledEntries, a number out of range),
// still read as DecodeJSON and NewValue read them.
func TestDecodeJSONValuePoolNoAlias(t *testing.T) {
	t.Parallel()
	inputs := []string{
		`{"a":1,"b":"two","c":[1,2,{"d":null}],"e":{"f":true}}`,
		`{"k":1,"k":2,"k":"last"}`,
		`{"a":{"b":{"c":{"d":{"e":{"f":{"g":"deep"}}}}}}}`,
		`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7}`, // past maxSmall: a Go map
		`[{"x":"1"},{"x":"2"},{"x":"3"}]`,
		`{"a":1e400,"a":2,"b":{"c":"d"}}`, // the reference decoder's path
		"{\"k\xff\":\"v\xfe\",\"\\u00e9\":\"\\ud83d\\ude00\"}",
	}
	var big strings.Builder // more members than the pool keeps
	big.WriteString("{")
	for i := range maxPooledEntries + 10 {
		if i > 0 {
			big.WriteString(",")
		}
		fmt.Fprintf(&big, `"k%d":{"v":%d}`, i, i)
	}
	big.WriteString("}")
	inputs = append(inputs, big.String())
	failing := []string{
		`{"a":1,"b":2,"c":{"d":3,"e":`, `{"a":[1,2,{"b":"c"}],"x" 1}`, `{"a":"b","c":"d","e":"f","g"`,
	}
	want := make([]string, len(inputs))
	for i, in := range inputs {
		ref, err := DecodeJSON([]byte(in))
		if err != nil {
			t.Fatalf("%.40q: %v", in, err)
		}
		want[i] = canonicalCEL(NewValue(ref).celValue())
	}
	const workers, rounds = 8, 40
	kept := make([][]Value, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				for _, in := range failing {
					if _, err := DecodeJSONValue([]byte(in)); err == nil {
						t.Errorf("%q decoded", in)
					}
				}
				i := (w + r) % len(inputs)
				data := []byte(inputs[i])
				v, err := DecodeJSONValue(data)
				if err != nil {
					t.Errorf("%.40q: %v", inputs[i], err)
					return
				}
				// The caller's buffer is reused (a response body's): the value must not
				// read it either.
				for j := range data {
					data[j] = 'X'
				}
				kept[w] = append(kept[w], v)
			}
		}()
	}
	wg.Wait()
	for w, vs := range kept {
		for r, v := range vs {
			i := (w + r) % len(inputs)
			if got := canonicalCEL(v.celValue()); got != want[i] {
				t.Errorf("worker %d round %d: %.60q decoded, later %.80s, want %.80s", w, r, inputs[i], got, want[i])
			}
		}
	}
}
