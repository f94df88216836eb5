package adapter

import (
	"net/http"
	"testing"
)

// TestBearerChallengeWithoutToken: a contract call that sent no bearer token (no
// credentials, or Basic ones) is answered 401 with a Bearer challenge that names no
// error, as RFC 6750 §3.1 says ("If the request lacks any authentication information
// ... the resource server SHOULD NOT include an error code"); one whose token is refused
// says invalid_token. Before, every refusal said invalid_token, as if a token had been
// sent and was bad.
func TestBearerChallengeWithoutToken(t *testing.T) {
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

// TestAdminChallenges: the admin API's refusals carry the challenge RFC 6750 §3
// asks for: a 401 names invalid_token when a token was sent (none otherwise), and a 403
// for a token of too small a scope says insufficient_scope and the scope needed. Before,
// every 401 said only the realm, and a 403 had no WWW-Authenticate at all, which §3
// requires of a token that "does not enable access".
func TestAdminChallenges(t *testing.T) {
	h := newAdminHarness(t)
	for _, tc := range []struct {
		name    string
		headers []string
		code    int
		want    string
	}{
		{"no token", []string{"X-Request-Id", "c39"}, 401, `Bearer realm="emfa admin"`},
		{"an unknown token", []string{"Authorization", "Bearer emfa_unknown"}, 401, `Bearer realm="emfa admin", error="invalid_token"`},
		{"a read token writes", []string{"Authorization", "Bearer " + h.read}, 403, `Bearer realm="emfa admin", error="insufficient_scope", scope="write"`},
	} {
		code, text, hdr := h.do(t, "POST", "/admin/v1/users", `{"name":"x"}`, tc.headers...)
		if got := hdr.Values("WWW-Authenticate"); code != tc.code || len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s: %d %q, challenges %q, want %d and %q", tc.name, code, text, got, tc.code, tc.want)
		}
	}
}
