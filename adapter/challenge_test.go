package adapter

import (
	"fmt"
	"io"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestChallengeDecodeAllocs bounds the allocations of an initiate call through
// the whole handler (the fake engine allocating nothing): its body, as Verify sends it,
// read by a json.Decoder into challengeBody (the Decoder, its buffer, the body escaping,
// reflection's pointers, the attributes map and every value boxed) was 38.
func TestChallengeDecodeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's build allocates more")
	}
	got := contractAllocs(t, "POST", "/v1/providers/acme/initiate", `{"capability":"totp","id":"f1","attributes":{"username":"alice"}}`)
	t.Logf("initiate: %v allocations", got)
	if got > 22 {
		t.Errorf("initiate allocates %v times, want at most 22 (38 before)", got)
	}
}

// challengeBodies are bodies decodeChallenge must read as decode does.
var challengeBodies = []string{
	`{"capability":"totp","id":"f1","attributes":{"username":"alice"}}`,
	`{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":"123456"}}`,
	` { "capability" : "smsotp" , "id" : "ph-1" , "transactionId" : "tx-1" , "attributes" : { "username" : "alice@example.com" } } `,
	`{"attributes":{},"id":"f1","capability":"totp"}`, `{"capability":"totp"}`, `{}`, `{"capability":""}`,
	`{"capability":"totp","capability":"push","id":"f1","attributes":{"username":"alice"}}`,
	`{"capability":"totp","id":"f1","attributes":{"username":"alice","USERNAME":"bob"}}`,
	`{"capability":"totp","id":"f1","attributes":{"username":"alice","username":"bob"}}`,
	`{"Capability":"totp","id":"f1","attributes":{"username":"alice"}}`, `{"ID":"f1","id":"f2"}`,
	`{"capability":"totp","id":"f1","attributes":{"username":"alice"},"extra":1}`,
	`{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":123456}}`,
	`{"capability":"totp","id":"f1","attributes":{"username":"a\"b"}}`, `{"capability":"totp","id":"f1","attributes":{"username":"a\u0041"}}`,
	`{"capability":"totp","id":"f1","attributes":{"username":"jos` + "\xc3\xa9" + `"}}`, "{\"capability\":\"totp\",\"id\":\"f\xe9\"}",
	`{"capability":"totp","id":"f1","attributes":null}`, `{"capability":null}`, `{"capability":"totp",}`, `{"capability":"totp"} x`,
	`{"capability":"totp"}{}`, `{"capability":"totp"`, `{"capability":"totp","attributes":{"a":"1",}}`, `{"capability":"totp","attributes":{"a":"1"}`,
	`{"capability":"totp","attributes":{"a" "1"}}`, `{"capability":"totp","attributes":{"a":{"b":"c"}}}`, `{"capability":"totp","attributes":[]}`,
	`[]`, `"x"`, ``, "  ", "\v{}", `{"capability":"totp","attributes":{"":"x","k":""}}`, `{"capability":5}`, `{"transactionId":"t","transactionid":"u"}`,
}

// TestChallengeDecode: decodeChallenge reads every body as decode does: the same
// fields, or the same refusal.
func TestChallengeDecode(t *testing.T) {
	e := New(Options{}).echo
	for _, body := range challengeBodies {
		if got, want := readChallenge(e, body, decodeChallenge), readChallenge(e, body, decodeChallengeAsBefore); got != want {
			t.Errorf("%q:\n decodeChallenge %s\n decode          %s", body, got, want)
		}
	}
}

// FuzzChallengeDecode: decodeChallenge reads every body as decode does.
func FuzzChallengeDecode(f *testing.F) {
	for _, s := range append(edgeBodies()[:30], challengeBodies...) {
		f.Add(s)
	}
	e := New(Options{}).echo
	f.Fuzz(func(t *testing.T, body string) {
		checkPlainChallenge(t, body)
		if got, want := readChallenge(e, body, decodeChallenge), readChallenge(e, body, decodeChallengeAsBefore); got != want {
			t.Errorf("%q:\n decodeChallenge %s\n decode          %s", body, got, want)
		}
	})
}

func decodeChallengeAsBefore(c echoContext) (challengeBody, error) {
	var b challengeBody
	err := decode(c, &b)
	return b, err
}

func readChallenge(e echoNew, body string, dec func(echoContext) (challengeBody, error)) string {
	c := e.NewContext(httptest.NewRequest("POST", "/", strings.NewReader(body)), httptest.NewRecorder())
	b, err := dec(c)
	if err != nil {
		return "error: " + err.Error()
	}
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return fmt.Sprintf("%q", *p)
	}
	attrs := "<nil>"
	if b.Attributes != nil {
		attrs = fmt.Sprintf("%#v", b.Attributes)
		if reflect.TypeOf(b.Attributes).Kind() != reflect.Map {
			attrs = "?"
		}
	}
	return fmt.Sprintf("capability %s id %s transactionId %s attributes %s", str(b.Capability), str(b.ID), str(b.TransactionID), attrs)
}

type (
	echoContext = echo.Context
	echoNew     = *echo.Echo
)

// BenchmarkDecodeChallenge is an initiate's body read as decode read it and as
// decodeChallenge does.
func BenchmarkDecodeChallenge(b *testing.B) {
	const body = `{"capability":"totp","id":"f1","transactionId":"t-0123456789","attributes":{"username":"alice","locale":"en","ip":"192.0.2.1"}}`
	e := New(Options{}).echo
	rd := strings.NewReader(body)
	req := httptest.NewRequest("POST", "/", rd)
	c := e.NewContext(req, httptest.NewRecorder())
	for _, dec := range []struct {
		name string
		dec  func(echo.Context) (challengeBody, error)
	}{{"decode", decodeChallengeAsBefore}, {"decodeChallenge", decodeChallenge}} {
		b.Run(dec.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(body)
				req.Body, req.ContentLength = io.NopCloser(rd), int64(len(body))
				if _, err := dec.dec(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
