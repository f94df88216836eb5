package jsonkeys

import "testing"

var initiateBody = []byte(`{"capability":"totp","id":"f1","transactionId":"t-0123456789","attributes":{"username":"alice","locale":"en","ip":"192.0.2.1"}}`)

// BenchmarkCheckInitiate and BenchmarkCheckValidInitiate: what the json.Valid scan that
// CheckValid leaves out costs on an initiate's body.
func BenchmarkCheckInitiate(b *testing.B) {
	for b.Loop() {
		if err := Check(initiateBody); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckValidInitiate(b *testing.B) {
	for b.Loop() {
		if err := CheckValid(initiateBody); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCheckValidNoPanic: given what json.Valid refuses, a caller's mistake,
// CheckValid does not panic; a truncated document falls back to Check's refusal.
func TestCheckValidNoPanic(t *testing.T) {
	for _, s := range []string{``, `  `, `{`, `{"a":`, `[1,`, `"abc`, `{"a":1,"a":2`, `{"a":1}x`, `{"a" 1}`} {
		got := CheckValid([]byte(s))
		if want := Check([]byte(s)); s != `{"a":1}x` && s != `{"a" 1}` && (got == nil) != (want == nil) {
			t.Errorf("%q: CheckValid %v, Check %v", s, got, want)
		}
	}
}
