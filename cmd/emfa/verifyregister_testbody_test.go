package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/verifyfake"
)

// TestRegisterBoundsTestAndErrorText: register printed whole what the webhook's
// test brought back — a --url pointing at the company's web site answered its 404 page,
// up to 1 MiB, into the terminal or a CI log — and a tenant's messageDescription in full,
// terminal escape sequences included. Both are now quoted shortly, on one line, without
// control characters.
func TestRegisterBoundsTestAndErrorText(t *testing.T) {
	cfg := writeTestConfig(t, "", oauthProviders)
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("<html>\x1b[2J\x1b]0;owned\x07" + strings.Repeat("<p>Acme corporate page</p>", 20000) + "</html>"))
	}))
	defer site.Close()
	tenant := verifyfake.New("api-client", "api-secret")
	defer tenant.Close()
	code, out, errOut := emfa(t, "verify", "register", "--config", cfg, "--tenant", tenant.URL, "--client-id", "api-client",
		"--auth", "basic", "--allow-http", "--url", site.URL)
	if code != 1 || !strings.Contains(out, "404") || len(out+errOut) > 3000 || strings.Contains(out+errOut, "\x1b") {
		t.Errorf("test answered by a web site: exit %d, %d bytes, want 1 naming 404 in a few lines, no escape\n%.800q", code, len(out+errOut), out+errOut)
	}

	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/config/v1.0/mfaproviders" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"messageId":"CSIAH0400E","messageDescription":"bad \u001b[31m` + strings.Repeat("input ", 100000) + `"}`))
			return
		}
		tenant.Config.Handler.ServeHTTP(w, r)
	}))
	defer front.Close()
	code, out, errOut = emfa(t, "verify", "register", "--config", cfg, "--tenant", front.URL, "--client-id", "api-client",
		"--auth", "basic", "--allow-http", "--url", "https://emfa.example.com")
	if code != 1 || !strings.Contains(errOut, "CSIAH0400E") || len(out+errOut) > 3000 || strings.Contains(out+errOut, "\x1b") {
		t.Errorf("a long error description: exit %d, %d bytes, want 1 naming CSIAH0400E in a few lines, no escape\n%.800q", code, len(out+errOut), out+errOut)
	}
}
