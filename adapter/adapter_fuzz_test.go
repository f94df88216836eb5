package adapter

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fuzzPaths are the routes whose bodies FuzzContractRequest sends (by index).
var fuzzPaths = []string{
	"/v1/providers/acme/enrollments", "/v1/providers/acme/initiate", "/v1/providers/acme/validate",
	"/v1/providers/acme/result", "/v1/providers/acme/test", "/v1/devices/register",
	"/v1/devices/challenges/ch1",
}

// FuzzContractRequest decodes contract requests through the HTTP handler: whatever the
// body, the answer is never a 5xx and always JSON.
func FuzzContractRequest(f *testing.F) {
	for i, body := range []string{
		`{"username":"alice"}`,
		`{"capability":"totp","id":"f1","attributes":{"username":"alice"}}`,
		`{"capability":"acme:totp","id":"f1","attributes":{"username":"alice","passvalue":"123456"}}`,
		`{"capability":"push","id":"f1","transactionId":"tx","attributes":{"username":"alice"}}`,
		``,
		`{"activationCode":"abc","publicKey":"MFkw","alg":"ES256","name":"Pixel"}`,
		`{"decision":"approve","number":42}`,
	} {
		f.Add(uint8(i), []byte(body))
	}
	f.Add(uint8(2), []byte(`{"capability":"totp","id":"f1","attributes":{"username":"a","passvalue":12345678901234567890}}`))
	f.Add(uint8(0), []byte(`{"username":"nobody","username":"alice"}`))
	f.Add(uint8(1), []byte(`{"capability":"totp","id":"x\u0000","attributes":{"username":"a\ud800"}}`))
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		h, _ := deviceHarness(t)
		path := fuzzPaths[int(route)%len(fuzzPaths)]
		req := httptest.NewRequest("POST", path, strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth("verify", "pw-secret")
		for i := 0; i+1 < len(signedHeaders); i += 2 {
			req.Header.Set(signedHeaders[i], signedHeaders[i+1])
		}
		rec := httptest.NewRecorder()
		h.srv.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %s", path, body, rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s %q: content type %q", path, body, ct)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %q: answer is not JSON: %s", path, body, rec.Body)
		}
		if rec.Code == http.StatusOK && strings.Contains(rec.Body.String(), `"messageId"`) {
			t.Fatalf("%s %q: 200 with an error body: %s", path, body, rec.Body)
		}
	})
}
