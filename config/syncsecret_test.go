package config

import (
	"strings"
	"testing"
)

// TestSyncSecretsWithBlanksRefused: a sync source's secret that begins or ends with
// white space (a Kubernetes secretKeyRef with the file's trailing newline, a stray space)
// can never match, since HTTP drops a header value's surrounding blanks: every hook or
// SCIM call would be 401. It is refused at load, as server.auth.header.value is.
func TestSyncSecretsWithBlanksRefused(t *testing.T) {
	base := minimalYAML
	cases := []struct{ sync, want string }{
		{`sync: {scim: {enabled: true, token: "0123456789abcdef0123456789abcdef\n"}}`, "sync.scim.token: must not begin or end with white space"},
		{`sync: {scim: {enabled: true, token: " 0123456789abcdef0123456789abcdef"}}`, "sync.scim.token: must not begin or end with white space"},
		{`sync: {okta: {enabled: true, secretHeader: {name: X-Hook, value: "0123456789abcdef0123 "}}}`, "sync.okta.secretHeader.value: must not begin or end with white space"},
		{`sync: {auth0: {enabled: true, secretHeader: {name: Authorization, value: "\tBearer 0123456789abcdef"}}}`, "sync.auth0.secretHeader.value: must not begin or end with white space"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(base+c.sync+"\n"), "yaml", env(nil))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.sync, err, c.want)
		}
	}
}
