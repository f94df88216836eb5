package duosign

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// oracle signs as DUO's official Go client does, independently of this package: values
// sorted, url.Values.Encode (keys sorted), + turned into %20.
func oracle(skey, date, method, host, path string, params url.Values) string {
	sorted := url.Values{}
	for k, v := range params {
		sorted[k] = slices.Sorted(slices.Values(v))
	}
	enc := strings.ReplaceAll(sorted.Encode(), "+", "%20")
	mac := hmac.New(sha1.New, []byte(skey))
	mac.Write([]byte(strings.Join([]string{date, strings.ToUpper(method), strings.ToLower(host), path, enc}, "\n")))
	return hex.EncodeToString(mac.Sum(nil))
}

func TestRequestIsSignedAsDUOsClientSigns(t *testing.T) {
	base, _ := url.Parse("https://API-XXXX.duosecurity.com/")
	now := time.Date(2026, 12, 2, 11, 0, 0, 0, time.UTC)
	params := url.Values{"username": {"ann lee"}, "factor": {"push"}, "z": {"b", "a"}, "note": {"é&=/~"}}
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		req, err := Request(base, "DIXXXX", "skey", method, "/auth/v2/auth", params, now)
		if err != nil {
			t.Fatal(err)
		}
		date := req.Header.Get("Date")
		if date != "Wed, 02 Dec 2026 11:00:00 +0000" {
			t.Errorf("%s: Date %q", method, date)
		}
		auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("DIXXXX:"+oracle("skey", date, method, "api-xxxx.duosecurity.com", "/auth/v2/auth", params)))
		if got := req.Header.Get("Authorization"); got != auth {
			t.Errorf("%s: Authorization %q, want %q", method, got, auth)
		}
		body, _ := io.ReadAll(req.Body)
		sent := req.URL.RawQuery
		if method == http.MethodPost {
			sent = string(body)
			if req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || req.URL.RawQuery != "" {
				t.Errorf("POST: content type %q, query %q", req.Header.Get("Content-Type"), req.URL.RawQuery)
			}
		} else if len(body) != 0 {
			t.Errorf("GET with a body: %q", body)
		}
		// What goes on the wire is what was signed, and decodes to the same parameters.
		if sent != EncodeParams(params) || strings.Contains(sent, "+") {
			t.Errorf("%s: sent %q, signed %q", method, sent, EncodeParams(params))
		}
		want := url.Values{"username": {"ann lee"}, "factor": {"push"}, "z": {"a", "b"}, "note": {"é&=/~"}} // values sorted
		if got, err := url.ParseQuery(sent); err != nil || got.Encode() != want.Encode() {
			t.Errorf("%s: sent parameters decode to %v (%v)", method, got, err)
		}
	}
}
