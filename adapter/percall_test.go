package adapter

import (
	"bytes"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// decodeAsBefore is decodeBody as it was: after unmarshal, Check with its own json.Valid.
func decodeAsBefore(data []byte, v any, plain bool) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return badRequest("body is empty; a JSON object is required")
	}
	if !utf8.Valid(data) {
		return badRequest("body is not UTF-8")
	}
	if err := unmarshal(data, v, plain); err != nil {
		return err
	}
	if err := checkUniqueKeys(data); err != nil {
		return badRequest("body is ambiguous: " + err.Error())
	}
	return nil
}

// FuzzDecodeAsBefore: decode and decodePlain, whose key walk no longer scans the
// body that unmarshal decoded whole, answer every body as they did with json.Valid
// before the walk.
func FuzzDecodeAsBefore(f *testing.F) {
	for _, s := range []string{`{"username":"alice"}`, `{"username":5} x`, `{"username":"a","username":"b"}`, `{"username":"alice"`,
		`{"capability":"totp","id":"f1","attributes":{"a":1,"A":2}}`, ` [1, {"a":{"b":[]}}] `, `"x"`, `5`, `{"a":1}]`, "{\"a\":\"\xff\"}"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	e := New(Options{}).echo
	f.Fuzz(func(t *testing.T, body string, plain bool) {
		var got, want challengeBody
		c := e.NewContext(httptest.NewRequest("POST", "/", strings.NewReader(body)), httptest.NewRecorder())
		gerr := decodeBody(c, &got, plain)
		werr := decodeAsBefore([]byte(body), &want, plain)
		if errString(gerr) != errString(werr) {
			t.Fatalf("%q: %v, before %v", body, gerr, werr)
		}
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// BenchmarkDecodeInitiate is decode of an initiate's body, as every challenge call
// reads it without an X-Webhook-ID.
func BenchmarkDecodeInitiate(b *testing.B) {
	body := `{"capability":"totp","id":"f1","transactionId":"t-0123456789","attributes":{"username":"alice","locale":"en","ip":"192.0.2.1"}}`
	e := New(Options{}).echo
	rd := strings.NewReader(body)
	req := httptest.NewRequest("POST", "/", rd)
	w := httptest.NewRecorder()
	c := e.NewContext(req, w)
	for b.Loop() {
		rd.Reset(body)
		req.Body = io.NopCloser(rd)
		req.ContentLength = int64(len(body))
		c.Reset(req, w)
		var v challengeBody
		if err := decode(c, &v); err != nil {
			b.Fatal(err)
		}
	}
}
