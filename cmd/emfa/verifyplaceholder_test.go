package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/verifyfake"
)

// TestRegisterSendsNoPlaceholder: register writes real values into the tenant; a
// webhook authentication it cannot fill (Verify's own client certificate for mtls, an
// external authorization server's token endpoint for oauth) is refused before the tenant
// changes, rather than sent as {{placeholders}} that replace a working webhook's.
func TestRegisterSendsNoPlaceholder(t *testing.T) {
	ca := newPKI(t, "clients CA")
	dir := t.TempDir()
	writeKeyPair(t, dir, ca.issue(t, "emfa", 10, true))
	path := writeTestConfig(t, "", oauthProviders)
	cfg := strings.Replace(mustRead(t, path), "  auth:\n", "  tls: {cert: "+filepath.Join(dir, "tls.crt")+", key: "+filepath.Join(dir, "tls.key")+
		", clientCA: "+filepath.Join(ca.dir, "ca.pem")+"}\n  auth:\n    mtls: {subjects: [verify]}\n"+
		"    oauth: {tokenEndpoint: false, jwks: {url: \"https://as.example.com/jwks\", issuer: \"https://as.example.com\", audience: emfa}}\n", 1)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")
	for _, auth := range [][]string{{"--auth", "mtls"}, {"--auth", "oauth", "--oauth-client-id", "verify", "--oauth-client-secret", "as-secret"}} {
		tenant := verifyfake.New("api-client", "api-secret")
		args := append([]string{"verify", "register", "--config", path, "--tenant", tenant.URL, "--client-id", "api-client",
			"--url", "https://emfa.example.com", "--allow-http"}, auth...)
		code, out, errOut := emfa(t, args...)
		for id, hook := range tenant.Webhooks() {
			if b, _ := json.Marshal(hook); strings.Contains(string(b), "{{") {
				t.Errorf("%v: webhook %s written with a placeholder: %s", auth, id, b)
			}
		}
		if code != 2 || len(tenant.Writes()) != 0 || !strings.Contains(errOut, "export") {
			t.Errorf("%v: exit %d, writes %v, want 2 before any write, pointing to export\n%s%s", auth, code, tenant.Writes(), out, errOut)
		}
		tenant.Close()
	}
	// export still prints them, placeholders for the operator to fill.
	if out := mustEmfa(t, "verify", "export", "--config", path, "--auth", "mtls", "--url", "https://emfa.example.com"); !strings.Contains(out, "{{client_certificate_pem}}") {
		t.Errorf("export --auth mtls:\n%s", out)
	}
}
