package transform

import (
	"strings"
	"testing"
)

// TestKeyNamedOnlyWhenWritten: an error shows a key only when the transform's text
// writes it, and "writes" was any substring of the text: a key computed from the input (a
// four-digit PIN, 0700) that happens to sit inside the text (DUO's date layout '02 Jan 06
// 15:04 -0700', a word holding a short one) was shown. A key is written when it is a string
// literal of the transform or a field it selects; those are still shown.
func TestKeyNamedOnlyWhenWritten(t *testing.T) {
	env := testEnv(t)
	for _, c := range []struct {
		src, secret string
	}{
		{`{"d": formatTime(timestamp("2024-01-01T00:00:00Z"), '02 Jan 06 15:04 -0700'), "v": {"x": 1}[s]}`, "0700"},
		{`{"v": jsonToFormURLEncoded({"passcode": 1, s: {"a": 1}}, true)}`, "assc"},
		{`{"v": {s: 0.0/0.0}, "w": "status"}`, "tatu"},
	} {
		p, err := Compile(env, c.src)
		if err != nil {
			t.Fatalf("%s: %v", c.src, err)
		}
		_, err = p.Eval(t.Context(), Vars{"s": c.secret})
		if err == nil || strings.Contains(err.Error(), c.secret) {
			t.Errorf("Eval(%s) with s=%q = %v, want an error without the key from the input", c.src, c.secret, err)
		}
	}
	// Keys the transform writes, as literals or fields it selects, are still shown.
	for _, c := range []struct{ src, key string }{
		{`{"v": {"a": 1}["transactionId"]}`, "transactionId"},
		{`{"v": {"a": {"b": 1}}.a.txid}`, "txid"},
		{`{"v": jsonToFormURLEncoded({"passcode": {"a": s}}, true)}`, "passcode"},
	} {
		p, err := Compile(env, c.src)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Eval(t.Context(), Vars{"s": "x"}); err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("Eval(%s) = %v, want it to name %s", c.src, err, c.key)
		}
	}
}
