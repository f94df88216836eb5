package transform

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// jsonValueCases are inputs on which DecodeJSONValue must agree with DecodeJSON and
// NewValue: the edges of the grammar, encoding/json's unquoting, and repeated keys.
var jsonValueCases = []string{
	``, " \n\t\r", "\f", "\f{}", `{}`, `[]`, `[ ]`, `{ }`, `null`, `true`, `false`, `"x"`, `0`, `-0`, `-0.0`,
	`1`, `-7`, `1.5`, `1e3`, `2E-1`, `1.0`, `1e+2`, `1E400`, `-1e400`, `1e-400`,
	`{"a":1e400,"a":2}`, `{"a":2,"a":1e400}`, `[{"a":1e999,"a":1},1e999]`, `{"a":1e999,"a":1} x`,
	`9223372036854775807`, `-9223372036854775808`, `9223372036854775808`, `12345678901234567890123`,
	`01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `NaN`, `Infinity`,
	`tru`, `nul`, `falsey`, `truex`, `[true,]`, `{"a":1,}`, `[1 2]`, `{"a" 1}`, `{"a":}`, `{1:2}`, `{"a":1 "b":2}`,
	`[1] [2]`, `{} x`, `{}}`, `[[]`, `"abc`, `"a\`, `"\q"`, `"\u12"`, `"\u12g4"`, `"\uZZZZ"`,
	`"a\"b\\c\/d\be\ff\ng\rh\ti"`, `"\u00e9\u4e2d"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00"`, `"\ud83dx"`,
	`"\ud83d\u0041"`, `"\ud83d\ud83d\ude00"`, `"\ud83d\\"`, "\"tab\tin\"", "\"nl\nin\"", "\"\x00\"",
	"\"caf\xc3\xa9\"", "\"bad\xff\xfeutf8\"", "\"cut\xe4\xb8\"", "\"\xed\xa0\x80\"", "{\"k\xff\":1}",
	`{"a":1,"a":"longer value"}`, `{"a":"longer value","a":1}`, `{"abc":1,"abc":2,"b":[1,2,3]}`,
	`{"a": [{"b": [1, {"c": null}]}], "d": {}}`, `[1, "two", 3.0, [true, false, null], {"x": "y"}]`,
	` {"padded" : [ 1 , 2 ] } `, `{"":""}`,
	`{"response":{"devices":[{"capabilities":["auto","push"],"device":"DPFZRS9FB0D46QFTM891","type":"phone"}],"result":"auth"},"stat":"OK"}`,
}

func TestDecodeJSONValue(t *testing.T) {
	t.Parallel()
	for _, in := range jsonValueCases {
		checkDecodeJSONValue(t, []byte(in))
	}
	for _, depth := range []int{maxJSONDepth - 1, maxJSONDepth, maxJSONDepth + 1} {
		arrays := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		mixed := strings.Repeat(`{"a":[`, depth/2) + strings.Repeat("]}", depth/2)
		checkDecodeJSONValue(t, []byte(arrays))
		checkDecodeJSONValue(t, []byte(mixed))
		if _, err := DecodeJSONValue([]byte(arrays)); (err != nil) != (depth > maxJSONDepth) {
			t.Errorf("%d nested arrays: %v", depth, err)
		}
	}
	// Values, not only agreement: the conversions a transform sees.
	v, err := DecodeJSONValue([]byte(`{"n": 3, "f": 2.5, "s": "\ud83d\ude00", "l": [1], "big": 9223372036854775808}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := canonicalCEL(v.celValue()), `{big:d9.223372036854776e+18,f:d2.5,l:[i1],n:i3,s:s"😀"}`; got != want {
		t.Errorf("decoded %s, want %s", got, want)
	}
	if v.size != 5 {
		t.Errorf("size %d, want 5 (the object's entries; its longest string is 4 bytes)", v.size)
	}
}

// FuzzDecodeJSONValue holds DecodeJSONValue to DecodeJSON and NewValue: the same errors,
// values and size for any input.
func FuzzDecodeJSONValue(f *testing.F) {
	for _, in := range jsonValueCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeJSONValue(t, data)
	})
}

func checkDecodeJSONValue(t *testing.T, data []byte) {
	t.Helper()
	got, gotErr := DecodeJSONValue(data)
	ref, refErr := DecodeJSON(data)
	if (gotErr != nil) != (refErr != nil) {
		t.Errorf("%q: DecodeJSONValue error %v, DecodeJSON error %v", data, gotErr, refErr)
		return
	}
	if refErr != nil {
		return
	}
	want := NewValue(ref)
	if g, w := canonicalCEL(got.celValue()), canonicalCEL(want.celValue()); g != w {
		t.Errorf("%q: DecodeJSONValue gives %s, DecodeJSON and NewValue %s", data, g, w)
	}
	if got.size != want.size {
		t.Errorf("%q: size %d, want %d", data, got.size, want.size)
	}
}

// canonicalCEL writes v with its types (i, d, s, b), maps in key order, so that values
// CEL calls equal across types (1 and 1.0) still differ.
func canonicalCEL(v ref.Val) string {
	switch x := v.(type) {
	case types.Null:
		return "null"
	case types.Bool:
		return "b" + strconv.FormatBool(bool(x))
	case types.Int:
		return "i" + strconv.FormatInt(int64(x), 10)
	case types.Double:
		f := float64(x)
		if f == 0 && math.Signbit(f) {
			return "d-0"
		}
		return "d" + strconv.FormatFloat(f, 'g', -1, 64)
	case types.String:
		return "s" + strconv.Quote(string(x))
	case traits.Mapper:
		var keys []string
		for it := x.Iterator(); it.HasNext() == types.True; {
			keys = append(keys, string(it.Next().(types.String)))
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + canonicalCEL(x.Get(types.String(k)))
		}
		return "{" + strings.Join(parts, ",") + "}"
	case traits.Lister:
		n := int(x.Size().(types.Int))
		parts := make([]string, n)
		for i := range n {
			parts[i] = canonicalCEL(x.Get(types.Int(i)))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return fmt.Sprintf("?%T", v)
}

// BenchmarkDecodeJSONValue decodes a DUO preauth answer as the incoming transforms see it:
// directly, and through Go maps as before.
func BenchmarkDecodeJSONValue(b *testing.B) {
	answer := []byte(`{"response":{"devices":[{"capabilities":["auto","push","sms","phone","mobile_otp"],` +
		`"device":"DPFZRS9FB0D46QFTM891","display_name":"iOS (XXX-XXX-0123)","name":"iPhone","number":"XXX-XXX-0123","type":"phone"},` +
		`{"device":"DHEKH0JJIYC1LX3AZWO4","name":"YubiKey","type":"token","capabilities":["mobile_otp"]}],` +
		`"result":"auth","status_msg":"Account is active"},"stat":"OK"}`)
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeJSONValue(answer); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("go-maps", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, err := DecodeJSON(answer)
			if err != nil {
				b.Fatal(err)
			}
			NewValue(v)
		}
	})
}
