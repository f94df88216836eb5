package transcript

import (
	"net/http"
	"strings"
	"testing"

	"github.com/emfa/emfa/provider"
)

// TestReviewC54RawXMLAnswerSecretsRedacted: an XML answer carries a secret in an
// attribute of a secret name (<session token="…"/>) or an element's text in a CDATA
// section as often as in an element's plain text; those stayed in clear.
func TestReviewC54RawXMLAnswerSecretsRedacted(t *testing.T) {
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
