package config

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func securityYAML(auth, server string) string {
	return `
server: {auth: ` + auth + server + `}
storage: {dsn: ":memory:", encryptionKey: "` + testKey + `"}
providers: [{name: A, credentialPrefix: a, capabilities: [totp]}]
`
}

// TestWeakSecretsRefused is issue 15 item 4: EMFA_VERIFY_PASSWORD=a and a header secret
// of one space were accepted.
func TestWeakSecretsRefused(t *testing.T) {
	for _, c := range []struct {
		name, auth string
		env        map[string]string
		want       []string
	}{
		{"one-letter password", `{basic: {username: verify, password: "${EMFA_VERIFY_PASSWORD}"}}`, map[string]string{"EMFA_VERIFY_PASSWORD": "a"},
			// The variable is named: with the embedded default it is all the operator sets.
			[]string{"server.auth.basic.password (from ${EMFA_VERIFY_PASSWORD}): too short (1 characters): an inbound secret needs at least 16",
				"EMFA_SERVER_AUTH_ALLOWWEAKSECRETS=true"}},
		{"two variables", `{basic: {username: verify, password: "${PW_A}-${PW_B}"}}`, map[string]string{"PW_A": "sec", "PW_B": "ret"},
			[]string{"server.auth.basic.password (from ${PW_A}, ${PW_B}): too short (7 characters)"}},
		{"one-space header", `{header: {name: X-Api-Key, value: " "}}`, nil,
			[]string{"server.auth.header.value: must not begin or end with white space"}},
		{"15 characters", `{header: {name: X-Api-Key, value: "123456789012345"}}`, nil,
			[]string{"server.auth.header.value: too short (15 characters)"}},
		{"padded header", `{header: {name: X-Api-Key, value: " 0123456789abcdef"}}`, nil,
			[]string{"server.auth.header.value: must not begin or end with white space"}},
		{"16 characters", `{basic: {username: v, password: "0123456789abcdef"}, header: {name: X-Api-Key, value: "ĀāĂăĄąĆćĈĉĊċČčĎď"}}`, nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(securityYAML(c.auth, "")), "yaml", env(c.env))
			if len(c.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), "allowWeakSecrets") && !strings.Contains(err.Error(), "white space") {
				t.Errorf("error %q does not say how to proceed", err)
			}
		})
	}
	cfg, err := Parse([]byte(securityYAML(`{allowWeakSecrets: true, basic: {username: v, password: a}}`, "")), "yaml", env(nil))
	if err != nil {
		t.Fatalf("allowWeakSecrets: %v", err)
	}
	if !strings.Contains(strings.Join(cfg.Warnings, "\n"), "allowWeakSecrets") {
		t.Errorf("allowWeakSecrets without a warning: %q", cfg.Warnings)
	}
	if strings.Contains(strings.Join(cfg.Warnings, "\n"), "password: a") {
		t.Error("a warning shows the secret")
	}
}

func TestTrustedProxies(t *testing.T) {
	auth := `{basic: {username: v, password: verify-password-0123}}`
	cfg, err := Parse([]byte(securityYAML(auth, `, trustedProxies: ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "10.1.2.3/8"]`)), "yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("10.0.0.0/8")}
	if diff := cmp.Diff(want, cfg.Server.ProxyPrefixes(), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("proxies (-want +got):\n%s", diff)
	}
	if cfg, err := Parse([]byte(securityYAML(auth, "")), "yaml", env(nil)); err != nil || len(cfg.Server.ProxyPrefixes()) != 0 {
		t.Errorf("default: %v %v, want no trusted proxy", cfg.Server.ProxyPrefixes(), err)
	}
	_, err = Parse([]byte(securityYAML(auth, `, trustedProxies: ["10.0.0.0/33", "proxy.example.com"]`)), "yaml", env(nil))
	assertErrors(t, err, []string{
		`server.trustedProxies[0]: not an IP address or CIDR range (e.g. 10.0.0.0/8)`,
		`server.trustedProxies[1]: not an IP address or CIDR range (e.g. 10.0.0.0/8)`,
	})
}

// metrics.token is an inbound secret like the others: one with surrounding blanks could
// never match (the handler trims the bearer token it receives), and a short one is weak.
func TestMetricsTokenChecked(t *testing.T) {
	for _, c := range []struct{ token, want string }{
		{" a-metrics-token-0123", "metrics.token: must not begin or end with white space"},
		{"a-metrics-token-0123\t", "metrics.token: must not begin or end with white space"},
		{"short", "metrics.token: too short (5 characters)"},
		{"a-metrics-token-0123", ""},
	} {
		yaml := securityYAML(`{basic: {username: v, password: "0123456789abcdef"}}`, "") + "metrics: {token: \"" + c.token + "\"}\n"
		_, err := Parse([]byte(yaml), "yaml", env(nil))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("token %q: %v", c.token, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("token %q: error %v, want %q", c.token, err, c.want)
		}
	}
}
