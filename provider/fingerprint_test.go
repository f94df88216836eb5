package provider

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
)

// fingerprintOracle is Fingerprint as it was first written, through encoding/json: the
// canonical form is whatever Marshal makes of the body decoded with UseNumber. Every
// fingerprint a store holds was made so; the fast path must give the same for every body.
func fingerprintOracle(resource string, body []byte) string {
	k := testFingerprintKey
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return k.FingerprintAsSent(resource, body)
	}
	canon, err := json.Marshal(v)
	if err != nil {
		return k.FingerprintAsSent(resource, body)
	}
	return k.fingerprint(resource, "", canon)
}

// testFingerprintKey is a key as builtin.Keyring derives one: 32 bytes.
var testFingerprintKey = FingerprintKey("0123456789abcdef0123456789abcdef")

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
		if got, want := testFingerprintKey.Fingerprint("initiate", []byte(body)), fingerprintOracle("initiate", []byte(body)); got != want {
			t.Errorf("testFingerprintKey.Fingerprint(%q) = %s, want %s", body, got, want)
		}
	}
	// Order and white space do not make another request; a value does.
	a := testFingerprintKey.Fingerprint("validate", []byte(`{"id":"f","attributes":{"username":"u","passvalue":"1"}}`))
	if b := testFingerprintKey.Fingerprint("validate", []byte(` {"attributes": {"passvalue":"1", "username":"u"}, "id":"f"}`)); a != b {
		t.Errorf("reordered body: %s, want %s", b, a)
	}
	if b := testFingerprintKey.Fingerprint("validate", []byte(`{"id":"f","attributes":{"username":"u","passvalue":"2"}}`)); a == b {
		t.Errorf("another code, same fingerprint %s", a)
	}
	if b := testFingerprintKey.Fingerprint("initiate", []byte(`{"id":"f","attributes":{"username":"u","passvalue":"1"}}`)); a == b {
		t.Errorf("another resource, same fingerprint %s", a)
	}
}

// TestFingerprintKeyed: a fingerprint is HMAC-SHA256 under the key, the fast way as the
// slow, so that a copy of the store cannot confirm a guessed passvalue (a security
// answer) with one unkeyed hash of the body it guesses. Before, it was SHA-256 alone.
func TestFingerprintKeyed(t *testing.T) {
	body := []byte(`{"attributes":{"passvalue":"Rex the Dog","username":"alice"},"capability":"question","id":"f"}`)
	for _, key := range []FingerprintKey{testFingerprintKey, nil, FingerprintKey(bytes.Repeat([]byte{7}, 64)), FingerprintKey(bytes.Repeat([]byte{7}, 65))} {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte("validate\x00"))
		mac.Write(body)
		want := "validate:" + hex.EncodeToString(mac.Sum(nil))
		if got := key.Fingerprint("validate", body); got != want {
			t.Errorf("key of %d bytes: %s, want HMAC-SHA256 %s", len(key), got, want)
		}
		if _, fast := key.fingerprintFast("validate", body); fast != (len(key) <= sha256.BlockSize) {
			t.Errorf("key of %d bytes: fast way %v", len(key), fast)
		}
	}
	plain := sha256.Sum256(append([]byte("validate\x00"), body...))
	if got := testFingerprintKey.Fingerprint("validate", body); got == "validate:"+hex.EncodeToString(plain[:]) {
		t.Error("the fingerprint is the body's plain SHA-256")
	}
	if a, b := testFingerprintKey.Fingerprint("validate", body), FingerprintKey("another key, another replica set").Fingerprint("validate", body); a == b {
		t.Error("two keys, one fingerprint")
	}
}

// TestFingerprintAllocations: a contract call's body (every X-Webhook-ID call has its
// fingerprint taken) costs a few allocations, not a decode into maps and a Marshal (37).
func TestFingerprintAllocations(t *testing.T) {
	body := []byte(fingerprintBodies[0])
	if n := testing.AllocsPerRun(100, func() { testFingerprintKey.Fingerprint("initiate", body) }); n > 3 {
		t.Errorf("Fingerprint of a contract call: %.0f allocations, want at most 3", n)
	}
}

func FuzzFingerprint(f *testing.F) {
	for _, body := range fingerprintBodies {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, want := testFingerprintKey.Fingerprint("r", body), fingerprintOracle("r", body); got != want {
			t.Errorf("testFingerprintKey.Fingerprint(%q) = %s, want %s", body, got, want)
		}
	})
}

func BenchmarkFingerprint(b *testing.B) {
	body := []byte(fingerprintBodies[0])
	b.ReportAllocs()
	for b.Loop() {
		testFingerprintKey.Fingerprint("initiate", body)
	}
}
