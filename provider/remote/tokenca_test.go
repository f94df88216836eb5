package remote

import (
	"encoding/json"

	"net/http/httptest"
	"strings"
	"testing"
)

// mtls.ca, the only root trusted for a vendor on a private CA, applied to the token
// endpoint too, which shares the provider's transport: a vendor on a private CA whose
// tokens come from a public IdP (Okta, Entra ID, Auth0) could never fetch a token, every
// call FAILED with "certificate signed by unknown authority", and nothing could be
// configured to fix it. oauth.ca names the token endpoint's trust on its own: a PEM file,
// or "system" for the system roots; unset, it is the vendor's, as before.
func TestTokenEndpointCA(t *testing.T) {
	t.Parallel()
	idp := httptest.NewTLSServer(&tokenEndpoint{expiresIn: 3600})
	t.Cleanup(idp.Close)
	dir := t.TempDir()
	idpCA := writePEM(t, dir, "idp.pem", "CERTIFICATE", idp.Certificate().Raw)
	vendorCA := writePEM(t, dir, "vendor-ca.pem", "CERTIFICATE", newTestPKI(t).cert.Raw)

	for _, tc := range []struct {
		name, mtlsCA, oauthCA string
		want                  string // the Authorization, or a fragment of the error
	}{
		{"vendor on a private CA, the IdP's own", vendorCA, idpCA, "Bearer tok-"},
		{"unset: the vendor's trust, as before", idpCA, "", "Bearer tok-"},
		{"system: mtls.ca no longer trusted for the IdP", idpCA, "system", "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var w Webhook
			doc := map[string]any{"urls": []string{"https://vendor.example"}, "authentication": map[string]any{
				"type":  "oauth",
				"oauth": map[string]any{"token_endpoint": idp.URL, "client_id": "c", "client_secret": "s", "ca": tc.oauthCA},
				"mtls":  map[string]any{"ca": tc.mtlsCA},
			}}
			data, _ := json.Marshal(doc)
			if err := json.Unmarshal(data, &w); err != nil {
				t.Fatal(err)
			}
			if errs := authErrors(w.Authentication); len(errs) > 0 {
				t.Fatalf("validate: %v", errs)
			}
			_, a := provision(t, &w)
			got, err := applied(t, a)
			if err != nil {
				got = err.Error()
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("a file without a certificate is refused at load", func(t *testing.T) {
		var w Webhook
		junk := writePEM(t, dir, "junk.pem", "JUNK", []byte("x"))
		if err := json.Unmarshal([]byte(`{"authentication":{"type":"oauth","oauth":{"token_endpoint":"https://idp.example/token","client_id":"c","ca":`+strconvQuote(junk)+`}}}`), &w); err != nil {
			t.Fatal(err)
		}
		if errs := authErrors(w.Authentication); !strings.Contains(strings.Join(errs, " "), "authentication.oauth.ca") {
			t.Errorf("errors at %v, want authentication.oauth.ca", errs)
		}
	})
}

// authErrors are the paths a's validation refuses.
func authErrors(a Authentication) []string {
	var errs []string
	a.validate("authentication", func(path, format string, args ...any) { errs = append(errs, path) })
	return errs
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }
