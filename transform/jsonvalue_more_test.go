package transform

import "testing"

// duoInitiateAnswer is DUO's answer to an asynchronous auth (the DUO fake's, as Duo's
// Auth API documents it).
const duoInitiateAnswer = `{"stat": "OK", "response": {"txid": "45f7c92b-f45f-4862-8545-e0f58e78075a"}}`

// TestDecodeJSONValueAllocs: a vendor's answer of small objects is decoded in few
// allocations: the text copied once, one map an object (a Go map and a CEL map over it
// were three), and the strings boxed; no stack (two were made each decode). Was 11, now 5.
func TestDecodeJSONValueAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	data := []byte(duoInitiateAnswer)
	v, err := DecodeJSONValue(data)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := v.Field("response")
	if tx, _ := r.Field("txid"); tx.v == nil {
		t.Fatalf("no txid in %v", v)
	}
	n := testing.AllocsPerRun(200, func() { DecodeJSONValue(data) })
	if want := 5.0; n > want {
		t.Errorf("DecodeJSONValue of DUO's initiate answer allocates %v times, want at most %v", n, want)
	}
	t.Logf("%v allocations", n)
}
