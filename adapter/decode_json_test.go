package adapter

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/jsonkeys"
	"github.com/emfa/emfa/provider"
)

// edgeBodies are bodies built to make the hand-written decoders answer otherwise than
// encoding/json: keys encoding/json folds to a field's name (ASCII case, 'ſ' U+017F for
// s, 'K' U+212A for k, both in a key and in an escape), names and values escaped, NUL and
// other controls, bytes that are not UTF-8, numbers and objects where strings belong,
// very long values, duplicates each way.
func edgeBodies() []string {
	long := strings.Repeat("a", 1<<16)
	return []string{
		// Unicode folding of the fields' names: encoding/json takes each for the field.
		`{"capability":"totp","id":"f1","attributes":{"username":"alice"},"tranſactionId":"t2"}`,
		`{"capability":"totp","id":"f1","attributes":{"username":"alice"},"transactionId":"t1","tranſactionId":"t2"}`,
		`{"capability":"totp","id":"f1","attributeſ":{"username":"alice"}}`,
		`{"capability":"totp","id":"f1","attributes":{"username":"alice"},"attributeſ":{"username":"bob"}}`,
		`{"capability":"totp","id":"f1","attributes":{"username":"alice","uſername":"bob"}}`,
		`{"capability":"totp","id":"f1","attributes":{"username":"alice"},"\u017fapability":"x"}`,
		`{"capability":"totp","id":"f1","attributes":{"username":"alice"},"capability":"push"}`,
		`{"capability":"totp","id":"f1","attributes":{"username":"alice"},"CAPABILITY":"push"}`,
		`{"capability":"totp","iD":"f2","id":"f1","attributes":{"username":"alice"}}`,
		`{"\u0063apability":"totp","id":"f1","attributes":{"username":"alice"}}`,
		`{"capability":"totp","id":"f1","attributes":{"\u0075sername":"alice"}}`,
		`{"capability":"totp","id":"f1","attributes":{"username":"alice","usernamE":"bob"}}`,
		`{"capability":"totp","id":"f1","attributes":{"Kid":"1","kid":"2","username":"alice"}}`,
		`{"capability":"totp","id":"f1","attributes":{"kid":"1","Kid":"2","username":"alice"}}`,
		// NUL and controls, raw and escaped.
		"{\"capability\":\"totp\",\"id\":\"f\x001\",\"attributes\":{\"username\":\"alice\"}}",
		`{"capability":"totp","id":"f\u00001","attributes":{"username":"alice"}}`,
		"{\"capability\":\"totp\",\"id\":\"f1\",\"attributes\":{\"username\":\"al\x7fice\"}}",
		"{\"capability\":\"totp\",\"id\":\"f1\",\"attributes\":{\"username\":\"al\tice\"}}",
		"{\"capability\":\"totp\"\x00,\"id\":\"f1\",\"attributes\":{\"username\":\"alice\"}}",
		"{\"capability\":\"totp\",\"id\":\"f1\",\"attributes\":{\"username\":\"alice\"}}\x00",
		// Not UTF-8, a lone surrogate escaped, U+2028.
		"{\"capability\":\"totp\",\"id\":\"f1\",\"attributes\":{\"username\":\"al\xffice\"}}",
		`{"capability":"totp","id":"f1","attributes":{"username":"\ud800"}}`,
		`{"capability":"totp","id":"f1","attributes":{"username":"a` + "\u2028" + `"}}`,
		// Numbers, literals and objects where strings belong.
		`{"capability":1,"id":"f1","attributes":{"username":"alice"}}`,
		`{"capability":"totp","id":true,"attributes":{"username":"alice"}}`,
		`{"capability":"totp","id":"f1","transactionId":null,"attributes":{"username":"alice"}}`,
		`{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":1e3}}`,
		`{"capability":"totp","id":"f1","attributes":{"username":{"a":"b"}}}`,
		`{"capability":"totp","id":"f1","attributes":{"username":"alice"},"transactionId":{"a":"b"}}`,
		`{"capability":{"capability":"totp"},"id":"f1","attributes":{"username":"alice"}}`,
		// Long values.
		`{"capability":"totp","id":"` + long + `","attributes":{"username":"` + long + `"}}`,
		`{"capability":"totp","id":"f1","attributes":{"` + long + `":"x","username":"alice"}}`,
		// Seventeen attributes, sixteen.
		`{"capability":"totp","id":"f1","attributes":{"username":"a","b":"","c":"","d":"","e":"","f":"","g":"","h":"","i":"","j":"","k":"","l":"","m":"","n":"","o":"","p":"","q":""}}`,
		`{"capability":"totp","id":"f1","attributes":{"username":"a","b":"","c":"","d":"","e":"","f":"","g":"","h":"","i":"","j":"","k":"","l":"","m":"","n":"","o":"","p":""}}`,
	}
}

// TestChallengeDecodeFolding: decodeChallenge answers every edge body as decode
// does, and a body plainChallenge takes itself is one encoding/json reads to the same
// fields, whose keys jsonkeys finds unique: encoding/json's Unicode folding of keys
// ('ſ', 'K') never reaches the hand path.
func TestChallengeDecodeFolding(t *testing.T) {
	e := New(Options{}).echo
	for _, body := range edgeBodies() {
		if got, want := readChallenge(e, body, decodeChallenge), readChallenge(e, body, decodeChallengeAsBefore); got != want {
			t.Errorf("%.200q:\n decodeChallenge %.200s\n decode          %.200s", body, got, want)
		}
		checkPlainChallenge(t, body)
	}
}

// checkPlainChallenge holds a body plainChallenge reads to encoding/json's reading of it,
// with no key named twice by jsonkeys' rule.
func checkPlainChallenge(t *testing.T, body string) {
	t.Helper()
	b, ok := plainChallenge([]byte(body))
	if !ok {
		return
	}
	var want challengeBody
	if err := json.Unmarshal([]byte(body), &want); err != nil {
		t.Errorf("%.200q: plainChallenge took a body encoding/json refuses: %v", body, err)
		return
	}
	if err := jsonkeys.CheckValid([]byte(body)); err != nil {
		t.Errorf("%.200q: plainChallenge took a body jsonkeys refuses: %v", body, err)
	}
	if !reflect.DeepEqual(b, want) {
		t.Errorf("%.200q: plainChallenge %+v, encoding/json %+v", body, b, want)
	}
}

// TestBodyUsernameFolding: bodyUsername reads "uſername", "USERNAME", escapes,
// NUL and long names as decodePlain does.
func TestBodyUsernameFolding(t *testing.T) {
	e := New(Options{}).echo
	long := strings.Repeat("b", 1<<16)
	for _, body := range []string{
		`{"uſername":"alice"}`, `{"username":"alice","uſername":"bob"}`, `{"USERNAME":"alice"}`, `{"\u0075sername":"alice"}`,
		`{"username":"al\u0000ice"}`, "{\"username\":\"al\x00ice\"}", `{"username":"` + long + `"}`, `{"username":1}`,
		`{"username":null}`, `{"username":{"a":"b"}}`, `{"username":["a"]}`, "{\"username\":\"\u2028\"}", "{\"username\":\"\xc0\x80\"}",
		`{"username":"alice","username":"alice"}`, `{"username":"alice","Username":"alice"}`,
	} {
		want := readUsername(e, body, decodePlain)
		if want == "<nil>" {
			want = ""
		}
		c := e.NewContext(httptest.NewRequest("POST", "/", strings.NewReader(body)), httptest.NewRecorder())
		got, err := bodyUsername(c)
		if err != nil {
			got = "error: " + err.Error()
		}
		if got != want {
			t.Errorf("%.100q: bodyUsername %.100q, decodePlain %.100q", body, got, want)
		}
	}
}

// TestAnswerEveryCharacter: appendEnrollments writes encoding/json's bytes, or
// declines, for every ASCII byte and the runes encoding/json treats apart (U+2028,
// U+2029, U+FFFD written and as an invalid byte, the last rune, an encoded surrogate),
// in each place a string goes: capability, id, attribute key and value.
func TestAnswerEveryCharacter(t *testing.T) {
	var chars []string
	for c := 0; c < 0x80; c++ {
		chars = append(chars, "a"+string(rune(c))+"b")
	}
	chars = append(chars, "\u2028", "\u2029", "\ufffd", "\xff", "\U0010ffff", "\xed\xa0\x80", "\xc0\x80", "é", strings.Repeat("x", 1<<16))
	declined := 0
	for _, s := range chars {
		for _, list := range [][]provider.Enrollment{
			{{Capability: s, ID: "f1"}},
			{{Capability: "totp", ID: s}},
			{{Capability: "totp", ID: "f1", Attributes: map[string]any{s: "v"}}},
			{{Capability: "totp", ID: "f1", Attributes: map[string]any{"k": s, "a": "1"}}},
		} {
			got, ok := appendEnrollments(nil, list)
			if !ok {
				declined++
				continue
			}
			if want := encodedAsBefore(t, list); string(got) != want {
				t.Errorf("%q: appendEnrollments %.200q, json.Encoder %.200q", s, got, want)
			}
		}
	}
	t.Logf("%d of %d declined (answered by encoding/json)", declined, 4*len(chars))
}
