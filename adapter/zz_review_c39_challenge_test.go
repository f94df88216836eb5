package adapter

import (
	"net/http"
	"testing"
)

// TestReviewC39BearerChallengeWithoutToken: a contract call that sent no bearer token (no
// credentials, or Basic ones) is answered 401 with a Bearer challenge that names no
// error, as RFC 6750 §3.1 says ("If the request lacks any authentication information
// ... the resource server SHOULD NOT include an error code"); one whose token is refused
// says invalid_token. Before, every refusal said invalid_token, as if a token had been
// sent and was bad.
func TestReviewC39BearerChallengeWithoutToken(t *testing.T) {
	h := newOAuthHarness(t)
	for _, tc := range []struct {
		name    string
		headers []string
		want    string
	}{
		{"no credentials", []string{"X-Request-Id", "c39"}, `Bearer realm="emfa"`},
		{"basic credentials", []string{"Authorization", "Basic dmVyaWZ5Ondyb25n"}, `Bearer realm="emfa"`},
		{"a token refused", []string{"Authorization", "Bearer not.a.token"}, `Bearer realm="emfa", error="invalid_token"`},
	} {
		code, _, hdr := h.do(t, "POST", "/v1/providers/acme/test", `{}`, tc.headers...)
		var bearer []string
		for _, v := range hdr.Values("WWW-Authenticate") {
			if len(v) >= 6 && v[:6] == "Bearer" {
				bearer = append(bearer, v)
			}
		}
		if code != http.StatusUnauthorized || len(bearer) != 1 || bearer[0] != tc.want {
			t.Errorf("%s: %d, Bearer challenges %q, want 401 and %q", tc.name, code, bearer, tc.want)
		}
	}
}
