package transcript

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/emfa/emfa/provider"
)

// TestRawXMLAnswerSecretsRedacted: an XML answer carries a secret in an
// attribute of a secret name (<session token="…"/>) or an element's text in a CDATA
// section as often as in an element's plain text; those stayed in clear.
func TestRawXMLAnswerSecretsRedacted(t *testing.T) {
	const token = "tok-0123456789abcdef"
	s := newSecretValues(nil)
	for _, body := range []string{
		`<r><session user="alice" token="` + token + `"/></r>`,
		`<r><session user="alice" access_token='` + token + `'></session></r>`,
		`<r user="alice"><token><![CDATA[` + token + `]]></token></r>`,
		`<r user="alice"><ns:Secret xmlns:ns="urn:x"><![CDATA[` + token + `]]></ns:Secret></r>`,
		`<html><body user="alice"><script>var s = {"access_token": "` + token + `"};</script></body></html>`,
	} {
		x := provider.Exchange{Method: "POST", URL: mustURL(t, "https://acme.example/check"), Status: 200,
			ResponseHeader: http.Header{"Content-Type": {"application/xml"}}, ResponseBody: []byte(body)}
		got := s.recordExchange(x)
		if got.Response.Raw == nil {
			t.Fatalf("answer %s not recorded", body)
		}
		if raw := *got.Response.Raw; strings.Contains(raw, token) || !strings.Contains(raw, `"alice"`) {
			t.Errorf("answer %s recorded as %s", body, raw)
		}
	}
	// What holds no secret stays as it came.
	const plain = `<r><session user="alice" id="s1"/><name><![CDATA[Alice]]></name></r>`
	if got := redactRawAnswer(plain); got != plain {
		t.Errorf("%s recorded as %s", plain, got)
	}
}

// TestEncodedSecretsRedacted: a secret of the configuration reaches a body
// written as a URL or JSON writes it — percent-encoded in a link's query or path
// (a base64 key's +, / and = as %2B, %2F, %3D), or with JSON's escapes (\/) in an answer
// that is not JSON whole — where a recording looked for it only as it is.
func TestEncodedSecretsRedacted(t *testing.T) {
	const key = "c2lnbmluZy1rZXk+Pz8/c2lnbmluZw==" // base64: +, / and =
	s := newSecretValues([]string{key})
	for _, c := range []struct{ ct, body string }{
		{"application/json", `{"next":"https://acme.example/cb?k=` + url.QueryEscape(key) + `&user=alice"}`},
		{"application/json", `{"next":"https://acme.example/keys/` + url.PathEscape(key) + `/alice"}`},
		{"text/plain", `{"user":"alice","k":"` + strings.ReplaceAll(key, "/", `\/`) + `",}`},
	} {
		x := provider.Exchange{Method: "POST", URL: mustURL(t, "https://acme.example/check"), Status: 200,
			ResponseHeader: http.Header{"Content-Type": {c.ct}}, ResponseBody: []byte(c.body)}
		got := s.recordExchange(x)
		data, err := Marshal(&Transcript{Name: "x", Steps: []Step{{Vendor: []Exchange{got}}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{key, url.QueryEscape(key), url.PathEscape(key), strings.ReplaceAll(key, "/", `\/`), "c2lnbmluZy1rZXk"} {
			if strings.Contains(string(data), v) {
				t.Errorf("answer %s recorded with the key (as %s):\n%s", c.body, v, data)
				break
			}
		}
		if !strings.Contains(string(data), "alice") {
			t.Errorf("answer %s lost what is no secret:\n%s", c.body, data)
		}
	}
}

// TestEncodedLinkRedacted: a link's secret parameters are redacted in a
// vendor's answer (an activation link's ?token=…); in an answer that is not JSON the
// link is written as a form writes it (percent-encoded, https%3A%2F%2F…) or as JSON
// escapes it (https:\/\/…), where no "://" showed it a link, and its token stayed in
// clear.
func TestEncodedLinkRedacted(t *testing.T) {
	const token = "act-0123456789abcdef"
	link := "https://vendor.example/activate?user=alice&token=" + token
	s := newSecretValues(nil)
	for _, c := range []struct{ ct, body string }{
		{"application/x-www-form-urlencoded", "status=ok&activation_uri=" + url.QueryEscape(link)},
		{"text/plain", `{"status":"ok","activation_uri":"` + strings.ReplaceAll(link, "/", `\/`) + `",}`},
	} {
		x := provider.Exchange{Method: "POST", URL: mustURL(t, "https://acme.example/check"), Status: 200,
			ResponseHeader: http.Header{"Content-Type": {c.ct}}, ResponseBody: []byte(c.body)}
		got := s.recordExchange(x)
		if got.Response.Raw == nil {
			t.Fatalf("answer %s not recorded", c.body)
		}
		if raw := *got.Response.Raw; strings.Contains(raw, token) || !strings.Contains(raw, "alice") {
			t.Errorf("answer %s recorded as %s", c.body, raw)
		}
	}
}

// TestURLReferenceDefaultsRedacted: a URL's password or query value may be a
// ${NAME:-default}, whose default is the value served where NAME is unset: it stayed in
// clear in the copied configuration, and a reference in the user info was cut at its
// own ":" (${P:%3Credacted%3E@…), a configuration replay could not expand.
func TestURLReferenceDefaultsRedacted(t *testing.T) {
	out, env := redactConfig(`providers:
  - remote:
      urls: ["https://acme.example/api?k=${ACME_K:-LiteralDefaultKey42}&token=${T:-tok0123456789}&u=${U}"]
      other: "https://vendor:${ACME_PW:-pw0123456789}@acme.example/v1"
`, newSecretValues(nil), nil)
	for _, secret := range []string{"LiteralDefaultKey42", "tok0123456789", "pw0123456789"} {
		if strings.Contains(out, secret) {
			t.Errorf("the copied configuration holds %q:\n%s", secret, out)
		}
	}
	for _, ref := range []string{"k=${ACME_K:-", "token=${T:-", "u=${U}", "vendor:${ACME_PW:-%3Credacted%3E}@acme.example/v1"} {
		if !strings.Contains(out, ref) {
			t.Errorf("the copied configuration lost %q:\n%s", ref, out)
		}
	}
	if len(env) != 4 {
		t.Errorf("env: %v, want ACME_K, T, U and ACME_PW", env)
	}
}

// FuzzRedactText: the redactions a recording runs over a configuration's values
// and a vendor's answers that are not JSON never panic, whatever the text holds (a
// control character a YAML string escapes, half a reference, half a tag).
func FuzzRedactText(f *testing.F) {
	for _, seed := range []string{
		"https://u:${P:-pw0123456789}@h/?k=${K}&t=x",
		"https://h/?k=\x020\x03",
		"https://u:\x025\x03@h/",
		`<r a="1"><token><![CDATA[x]]></token></r>`,
		"a=https%3A%2F%2Fh%2F%3Ftoken%3Dx&b=1",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		redactURL(s)
		redactRawAnswer(s)
		redactRaw(s)
		redactLinks(s)
		sv := newSecretValues([]string{"secret-0123456789", "806795"})
		if m := sv.requestString(s); strings.HasPrefix(m, matchRegexp) {
			if _, err := regexp.Compile(strings.TrimSuffix(strings.TrimPrefix(m, matchRegexp), ">")); err != nil {
				t.Errorf("%q recorded as %q, no expression: %v", s, m, err)
			}
		}
	})
}

// TestVendorRequestLinkRedacted: a link's secret parameters are redacted in a
// body or an answer (README: "elsewhere a link's query and fragment parameters of a
// secret name"), but a vendor request's body was recorded as it went: a transform that
// sends the code the user typed inside a link (?code=806795, too short to be found by
// value inside a longer string) put it in the transcript in clear. The request is
// recorded with the parameter open, and what replay's emfa sends still matches.
func TestVendorRequestLinkRedacted(t *testing.T) {
	const code = "806795"
	s := newSecretValues([]string{"vendor-key-0123456789"}).with(code)
	body := `{"user":"alice","next":"https://acme.example/confirm?user=alice&code=` + code + `&k=vendor-key-0123456789#otp=` + code + `"}`
	x := provider.Exchange{Method: "POST", URL: mustURL(t, "https://acme.example/check"), Status: 200,
		RequestHeader: http.Header{"Content-Type": {"application/json"}}, RequestBody: []byte(body)}
	got := s.recordExchange(x)
	data, err := Marshal(&Transcript{Name: "x", Steps: []Step{{Vendor: []Exchange{got}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{code, "vendor-key-0123456789"} {
		if strings.Contains(string(data), secret) {
			t.Errorf("the vendor request is recorded with %q:\n%s", secret, data)
		}
	}
	// Replay's emfa sends the link with another code (and the key's stand-in).
	sent := map[string]any{"user": "alice", "next": "https://acme.example/confirm?user=alice&code=123456&k=<redacted>#otp=123456"}
	sc := &scope{vars: map[string]string{}}
	if m := sc.match("body", got.Request.Body, sent); m != nil {
		t.Errorf("the replayed request does not match the recorded one: %v\n%s", m, data)
	}
	other := map[string]any{"user": "alice", "next": "https://acme.example/elsewhere?user=alice&code=123456&k=<redacted>#otp=123456"}
	if m := sc.match("body", got.Request.Body, other); m == nil {
		t.Errorf("a request to another link matches the recorded one:\n%s", data)
	}
}
