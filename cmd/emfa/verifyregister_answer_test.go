package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/verifyfake"
)

// TestRegisterNamesUnreadableAnswer: a 200 that is not Verify's JSON (a single
// sign-on proxy's login page in front of the tenant) or one larger than register reads
// (cut at 4 MiB) was reported as a bare JSON syntax error ("invalid character '<'…",
// "unexpected end of JSON input"). Each now says what came back: not JSON, with its
// content type and first words, or too large; exit 1, and no token in the message.
func TestRegisterNamesUnreadableAnswer(t *testing.T) {
	cfg := writeTestConfig(t, "", oauthProviders)
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")
	huge := `{"mfaproviders":[{"name":"` + strings.Repeat("x", 5<<20) + `"}]}`
	for _, tc := range []struct {
		name, ctype, body string
		want              []string
	}{
		{"login page", "text/html", "<html><title>Sign in to Acme</title>" + strings.Repeat("<p>sso</p>", 5000) + "</html>", []string{"not JSON", "text/html", "Sign in to Acme"}},
		{"huge", "application/json", huge, []string{"larger than 4 MiB"}},
	} {
		tenant := verifyfake.New("api-client", "api-secret")
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && r.URL.Path == "/config/v1.0/mfaproviders" {
				w.Header().Set("Content-Type", tc.ctype)
				_, _ = w.Write([]byte(tc.body))
				return
			}
			tenant.Config.Handler.ServeHTTP(w, r)
		}))
		code, out, errOut := emfa(t, "verify", "register", "--config", cfg, "--tenant", front.URL, "--client-id", "api-client",
			"--auth", "basic", "--allow-http", "--url", "https://emfa.example.com")
		if code != 1 || len(out+errOut) > 2000 || strings.Contains(out+errOut, "tenant-token") {
			t.Errorf("%s: exit %d, %d bytes, want 1 in a few lines\n%.600s", tc.name, code, len(out+errOut), errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: no %q in %.600s", tc.name, w, errOut)
			}
		}
		front.Close()
		tenant.Close()
	}
}
