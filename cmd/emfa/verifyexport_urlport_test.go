package main

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/verifyfake"
)

// TestExportRefusesURLVerifyRejects: a --url (or selfService.publicURL) that
// parses but is no URL Verify can call — a port out of range or empty, a space in the
// path, an IPv6 zone (a link-local address only this machine's interface knows) — was
// written into the webhook as it was. export and register refuse it, exit 2 naming it,
// before the tenant changes; IPv6 in brackets, a path and a trailing slash are kept.
func TestExportRefusesURLVerifyRejects(t *testing.T) {
	cfg := writeTestConfig(t, "", oauthProviders)
	tenant := verifyfake.New("api-client", "api-secret")
	defer tenant.Close()
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")
	for _, bad := range []string{"https://emfa.example.com:99999", "https://emfa.example.com:0", "https://emfa.example.com:",
		"https://emfa.example.com/mfa path", "https://[fe80::1%25eth0]:8443"} {
		if code, out, errOut := emfa(t, "verify", "export", "--config", cfg, "--auth", "basic", "--url", bad); code != 2 || !strings.Contains(errOut, "--url") {
			t.Errorf("export --url %s: exit %d, want 2 naming --url\n%s%s", bad, code, out, errOut)
		}
		code, out, errOut := emfa(t, "verify", "register", "--config", cfg, "--tenant", tenant.URL, "--client-id", "api-client",
			"--auth", "basic", "--allow-http", "--url", bad)
		if code != 2 || !strings.Contains(errOut, "--url") {
			t.Errorf("register --url %s: exit %d, want 2 naming --url\n%s%s", bad, code, out, errOut)
		}
		t.Setenv("EMFA_SELFSERVICE_PUBLICURL", bad)
		if code, out, errOut := emfa(t, "verify", "export", "--config", cfg, "--auth", "basic"); code != 2 || !strings.Contains(errOut, "publicURL") {
			t.Errorf("export with selfService.publicURL %s: exit %d, want 2 naming it\n%s%s", bad, code, out, errOut)
		}
		t.Setenv("EMFA_SELFSERVICE_PUBLICURL", "")
	}
	if w := tenant.Writes(); len(w) != 0 {
		t.Errorf("the tenant was changed: %v", w)
	}
	for url, want := range map[string]string{
		"https://[2001:db8::5]:8443/":   "https://[2001:db8::5]:8443/v1/providers/emfa",
		"https://emfa.example.com/mfa/": "https://emfa.example.com/mfa/v1/providers/emfa",
		"https://emfa.example.com:443":  "https://emfa.example.com:443/v1/providers/emfa",
	} {
		if out := mustEmfa(t, "verify", "export", "--config", cfg, "--auth", "basic", "--url", url); !strings.Contains(out, `"`+want+`"`) {
			t.Errorf("--url %s: no %s in\n%s", url, want, out)
		}
	}
}
