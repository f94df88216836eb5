package transcript

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/provider"
)

// TestRecordedVendorCallHidesThePasscode: a remote provider hands the code the user
// typed to its vendor under a name of the vendor's choosing (privacyIDEA's "pass", a
// "verification_code", a query parameter "otp_code"), and the vendor may echo it. The
// recording must not carry it, whatever the field is called: it is the user's code.
func TestRecordedVendorCallHidesThePasscode(t *testing.T) {
	const code = "806795"
	r := &Recorder{o: RecorderOptions{Config: "providers: []\n"}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	u, _ := url.Parse("https://pi.example.com/validate/check?otp_code=" + code)
	calls := []Observed{{
		Time: t0, Provider: "pi", Resource: "validate", Method: "POST", Status: 200,
		Request:  []byte(`{"capability":"totp","id":"t1","attributes":{"username":"alice","passvalue":"` + code + `"}}`),
		Response: []byte(`{"status":"SUCCESS"}`),
		Exchanges: []provider.Exchange{{
			Method: "POST", URL: u, Status: 200,
			RequestHeader:  http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			RequestBody:    []byte("user=alice&pass=" + code),
			ResponseHeader: http.Header{"Content-Type": {"application/json"}},
			ResponseBody:   []byte(`{"result":{"status":true,"value":true},"detail":{"verification_code":"` + code + `"}}`),
		}},
	}}
	data, err := Marshal(r.transcript(calls))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), code) {
		t.Errorf("the recording carries the user's code %s:\n%s", code, data)
	}
}
