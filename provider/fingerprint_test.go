package provider

import (
	"bytes"
	"encoding/json"
	"testing"
)

// fingerprintOracle is Fingerprint as it was first written, through encoding/json: the
// canonical form is whatever Marshal makes of the body decoded with UseNumber. Every
// fingerprint a store holds was made so; the fast path must give the same for every body.
func fingerprintOracle(resource string, body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return FingerprintAsSent(resource, body)
	}
	canon, err := json.Marshal(v)
	if err != nil {
		return FingerprintAsSent(resource, body)
	}
	return fingerprint(resource, "", canon)
}

var fingerprintBodies = []string{
	`{"capability":"push","id":"DPFZRS9FB0D46QFTM891","attributes":{"username":"bench-user-17"}}`,
	` { "id" : "f1", "capability": "totp",  "attributes": {"passvalue": "123456", "username": "alice"} } `,
	`{"attributes":{"username":"alice","passvalue":123456,"n":-1.5e+3,"z":0,"f":false,"t":true,"x":null},"id":"f","capability":"c"}`,
	`{"a":[1,2,{"b":[],"a":{}}],"b":[]}`,
	`{"a":1,"a":2}`, `{"b":1,"a":2,"b":3}`, `{"a":1,"\u0061":2}`,
	`{"html":"<b>&</b>"}`, `{"ctl":"a\tb\nc"}`, `{"u":"jürgen"}`, `{"u":"\u2028"}`, "{\"u\":\"\u2028\"}",
	"{\"bad\":\"\xff\"}", `{"esc":"\ud800"}`, `{"k\"ey":1}`,
	`[]`, `{}`, `"s"`, `1`, `-0.5`, `true`, `null`, `  7  `,
	`{"a":1}}`, `{"a":1}]`, `{"a":1} x`, `1 2`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":+1}`, `{"a":1e}`,
	``, ` `, `{`, `{"a"}`, `{"a":}`, `[1,]`, `{"a":1,}`, `nul`, `tru`, `"\x01"`, "\"a\x00\"",
	`{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
}

// TestFingerprintAsBefore: the fingerprint of a body is what it was through encoding/json
// (fingerprintOracle), so that a record made before the fast path still answers a retry.
func TestFingerprintAsBefore(t *testing.T) {
	for _, body := range fingerprintBodies {
		if got, want := Fingerprint("initiate", []byte(body)), fingerprintOracle("initiate", []byte(body)); got != want {
			t.Errorf("Fingerprint(%q) = %s, want %s", body, got, want)
		}
	}
	// Order and white space do not make another request; a value does.
	a := Fingerprint("validate", []byte(`{"id":"f","attributes":{"username":"u","passvalue":"1"}}`))
	if b := Fingerprint("validate", []byte(` {"attributes": {"passvalue":"1", "username":"u"}, "id":"f"}`)); a != b {
		t.Errorf("reordered body: %s, want %s", b, a)
	}
	if b := Fingerprint("validate", []byte(`{"id":"f","attributes":{"username":"u","passvalue":"2"}}`)); a == b {
		t.Errorf("another code, same fingerprint %s", a)
	}
	if b := Fingerprint("initiate", []byte(`{"id":"f","attributes":{"username":"u","passvalue":"1"}}`)); a == b {
		t.Errorf("another resource, same fingerprint %s", a)
	}
}

// TestFingerprintAllocations: a contract call's body (every X-Webhook-ID call has its
// fingerprint taken) costs a few allocations, not a decode into maps and a Marshal (37).
func TestFingerprintAllocations(t *testing.T) {
	body := []byte(fingerprintBodies[0])
	if n := testing.AllocsPerRun(100, func() { Fingerprint("initiate", body) }); n > 3 {
		t.Errorf("Fingerprint of a contract call: %.0f allocations, want at most 3", n)
	}
}

func FuzzFingerprint(f *testing.F) {
	for _, body := range fingerprintBodies {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, want := Fingerprint("r", body), fingerprintOracle("r", body); got != want {
			t.Errorf("Fingerprint(%q) = %s, want %s", body, got, want)
		}
	})
}

func BenchmarkFingerprint(b *testing.B) {
	body := []byte(fingerprintBodies[0])
	b.ReportAllocs()
	for b.Loop() {
		Fingerprint("initiate", body)
	}
}
