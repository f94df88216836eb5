package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/verifyfake"
)

const oauthProviders = `providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp]
    engine: builtin
`

// oauthConfig is a test configuration that also admits emfa's own OAuth tokens.
func oauthConfig(t *testing.T) string {
	t.Helper()
	path := writeTestConfig(t, "", oauthProviders)
	cfg := strings.Replace(mustRead(t, path), "  auth:\n", "  auth:\n    oauth: {tokenLifetime: 5m, signingKeyFile: "+
		filepath.Join(filepath.Dir(path), "oauth.pem")+"}\n", 1)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var clientLine = regexp.MustCompile(`(?m)^client_id: (\S+)\nclient_secret: (\S+)$`)

func TestOAuthClientReachesContract(t *testing.T) {
	cfg := oauthConfig(t)
	out := mustEmfa(t, "clients", "create", "--name", "verify", "--config", cfg, "--init")
	m := clientLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("clients create printed %q", out)
	}
	id, secret := m[1], m[2]
	if list := mustEmfa(t, "clients", "list", "--config", cfg); !strings.Contains(list, id) || strings.Contains(list, secret) {
		t.Errorf("clients list: %q", list)
	}
	base, _ := startServe(t, cfg)

	tokenResp, err := http.PostForm(base+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	_ = json.NewDecoder(tokenResp.Body).Decode(&tok)
	tokenResp.Body.Close()
	if tokenResp.StatusCode != 200 || tok.AccessToken == "" || tok.ExpiresIn != 300 {
		t.Fatalf("token: %d %+v", tokenResp.StatusCode, tok)
	}
	call := func(token string) int {
		req, _ := http.NewRequest("GET", base+"/v1/providers/emfa/test", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := call(tok.AccessToken); code != 200 {
		t.Errorf("contract with the token: %d", code)
	}
	if code := call(tok.AccessToken + "x"); code != 401 {
		t.Errorf("contract with a wrong token: %d, want 401", code)
	}
	mustEmfa(t, "clients", "revoke", "verify", "--config", cfg)
	for name, want := range map[string]string{"verify": `client "verify" is revoked already`, "nobody": `no client named "nobody"`} {
		if code, _, errOut := emfa(t, "clients", "revoke", name, "--config", cfg); code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("clients revoke %s: exit %d, %q, want %q", name, code, errOut, want)
		}
	}
	resp, err := http.PostForm(base+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("token for a revoked client: %d, want 401", resp.StatusCode)
	}
}

func TestVerifyExport(t *testing.T) {
	cfg := oauthConfig(t)
	out := mustEmfa(t, "verify", "export", "--config", cfg, "--url", "https://emfa.example.com/")
	var pairs []verifyPair
	if err := json.Unmarshal([]byte(out), &pairs); err != nil || len(pairs) != 1 {
		t.Fatalf("export: %v\n%s", err, out)
	}
	hook, prov := pairs[0].Webhook, pairs[0].MFAProvider
	if hook["type"] != "realtime" || hook["urls"].([]any)[0] != "https://emfa.example.com/v1/providers/emfa" {
		t.Errorf("webhook: %v", hook)
	}
	auth := hook["authentication"].(map[string]any)
	oauth, _ := auth["oauth"].(map[string]any)
	if auth["type"] != "oauth" || oauth["token_endpoint"] != "https://emfa.example.com/oauth2/token" || oauth["client_secret"] != "{{emfa_oauth_client_secret}}" {
		t.Errorf("authentication: %v", auth)
	}
	res := hook["resources"].(map[string]any)
	for _, r := range []string{"enrollments", "initiate", "validate", "result", "test"} {
		if _, ok := res[r].(map[string]any)["method"]; !ok {
			t.Errorf("resource %s: %v", r, res[r])
		}
	}
	if prov["type"] != "generic" || prov["credentialPrefix"] != "emfa" || prov["webhookId"] != "{{webhook_id}}" ||
		!slices.Equal(prov["capabilities"].([]any), []any{"totp"}) {
		t.Errorf("mfa provider: %v", prov)
	}
	basic := mustEmfa(t, "verify", "export", "--config", cfg, "--auth", "basic", "--url", "https://emfa.example.com")
	if !strings.Contains(basic, `"{{emfa_basic_password}}"`) || strings.Contains(basic, "sim-password-0123") {
		t.Errorf("export --auth basic shows the secret or no placeholder:\n%s", basic)
	}
	if code, _, errOut := emfa(t, "verify", "export", "--config", cfg, "--auth", "mtls", "--url", "https://emfa.example.com"); code != 2 || !strings.Contains(errOut, "not configured") {
		t.Errorf("--auth mtls without mtls: %d %s", code, errOut)
	}
}

// TestVerifyExportURL: without --url, export's webhook URL is selfService.publicURL, where
// users reach emfa; without that, a wildcard or loopback server.listen (the container's
// 0.0.0.0:8080), which Verify cannot call, is refused as register refuses it, asking for
// --url, instead of written into the webhook.
func TestVerifyExportURL(t *testing.T) {
	cfg := writeTestConfig(t, "", oauthProviders)
	for _, listen := range []string{"0.0.0.0:8080", "[::]:8080", ":8080", "127.0.0.1:8080", "localhost:8080"} {
		t.Setenv("EMFA_SERVER_LISTEN", listen)
		code, out, errOut := emfa(t, "verify", "export", "--config", cfg)
		if code != 2 || out != "" || !strings.Contains(errOut, "--url") || !strings.Contains(errOut, listen) {
			t.Errorf("listen %s without --url: exit %d %q %q, want 2 asking for --url", listen, code, out, errOut)
		}
	}
	t.Setenv("EMFA_SERVER_LISTEN", "10.1.2.3:8080") // an address Verify may reach: kept
	if out := mustEmfa(t, "verify", "export", "--config", cfg); !strings.Contains(out, `"http://10.1.2.3:8080/v1/providers/emfa"`) {
		t.Errorf("listen 10.1.2.3:8080: %s", out)
	}
	t.Setenv("EMFA_SERVER_LISTEN", "0.0.0.0:8080")
	t.Setenv("EMFA_SELFSERVICE_PUBLICURL", "https://mfa.example.com/")
	out := mustEmfa(t, "verify", "export", "--config", cfg)
	if !strings.Contains(out, `"https://mfa.example.com/v1/providers/emfa"`) {
		t.Errorf("with selfService.publicURL, the webhook's URL is not it:\n%s", out)
	}
	if out := mustEmfa(t, "verify", "export", "--config", cfg, "--url", "https://verify-side.example.com"); !strings.Contains(out, `"https://verify-side.example.com/v1/providers/emfa"`) {
		t.Errorf("--url does not win over selfService.publicURL:\n%s", out)
	}
	// register takes the same default: publicURL is not refused as a wildcard listen is.
	tenant := verifyfake.New("api-client", "api-secret")
	defer tenant.Close()
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")
	code, _, errOut := emfa(t, "verify", "register", "--config", cfg, "--tenant", tenant.URL, "--client-id", "api-client", "--auth", "basic")
	if first, _, _ := strings.Cut(errOut, "\n"); code != 2 || strings.Contains(first, "server.listen") || !strings.Contains(first, "--tenant") {
		t.Errorf("register with publicURL: exit %d %q, want only the http:// tenant refused", code, errOut)
	}
}

func TestVerifyRegister(t *testing.T) {
	cfg := oauthConfig(t)
	m := clientLine.FindStringSubmatch(mustEmfa(t, "clients", "create", "--name", "verify", "--config", cfg, "--init"))
	base, _ := startServe(t, cfg)
	tenant := verifyfake.New("api-client", "api-secret")
	defer tenant.Close()
	args := []string{"verify", "register", "--config", cfg, "--tenant", tenant.URL, "--client-id", "api-client",
		"--url", base, "--oauth-client-id", m[1], "--oauth-client-secret", m[2], "--allow-http"}
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")

	out := mustEmfa(t, args...)
	for _, want := range []string{`webhook "Built-in factors": created`, `mfa provider "emfa": created`, `test ok`} {
		if !strings.Contains(out, want) {
			t.Errorf("first run: no %q in\n%s", want, out)
		}
	}
	if w := tenant.Writes(); !slices.Equal(w, []string{"POST webhooks", "POST mfaproviders"}) {
		t.Errorf("writes: %v", w)
	}
	var hookID string
	for id := range tenant.Webhooks() {
		hookID = id
	}
	for _, p := range tenant.Providers() {
		if p["webhookId"] != hookID || p["type"] != "generic" {
			t.Errorf("provider: %v (webhook %s)", p, hookID)
		}
	}
	// Idempotent: a second run changes nothing.
	out = mustEmfa(t, args...)
	if strings.Count(out, "unchanged") != 2 || len(tenant.Writes()) != 2 {
		t.Errorf("second run:\n%s\nwrites %v", out, tenant.Writes())
	}
	// It needs only the secrets it sends: the server's, not the store's encryption key.
	noKey := filepath.Join(t.TempDir(), "emfa.yaml")
	text := regexp.MustCompile(`encryptionKey: .*`).ReplaceAllLiteralString(mustRead(t, cfg), `encryptionKey: "${EMFA_TEST_UNSET_KEY}"`)
	if err := os.WriteFile(noKey, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	noKeyArgs := slices.Clone(args)
	noKeyArgs[slices.Index(noKeyArgs, cfg)] = noKey
	if code, out, errOut := emfa(t, noKeyArgs...); code != 0 || strings.Count(out, "unchanged") != 2 {
		t.Errorf("register without the encryption key: %d\n%s%s", code, out, errOut)
	}
	noPW := strings.Replace(text, `password: "sim-password-0123"`, `password: "${EMFA_TEST_UNSET_KEY}"`, 1)
	if err := os.WriteFile(noKey, []byte(noPW), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := emfa(t, noKeyArgs...); code != 1 || !strings.Contains(errOut, "EMFA_TEST_UNSET_KEY") {
		t.Errorf("register without the password it sends: %d %s", code, errOut)
	}
	// So it is with the embedded default where there is no data directory (another
	// folder, an operator's workstation): before, the missing password was stood in for
	// by a well-formed one anyone could write, sent to the tenant, and the webhook's
	// working password replaced with it.
	t.Setenv("EMFA_DATA_DIR", filepath.Join(t.TempDir(), "no-such-dir"))
	t.Setenv("EMFA_VERIFY_PASSWORD", "")
	bare := verifyfake.New("api-client", "api-secret")
	defer bare.Close()
	code, out, errOut := emfa(t, "verify", "register", "--tenant", bare.URL, "--client-id", "api-client",
		"--url", "https://emfa.example.com", "--auth", "basic", "--allow-http")
	if code != 1 || !strings.Contains(errOut, "EMFA_VERIFY_PASSWORD") || len(bare.Writes()) != 0 {
		t.Errorf("register with no data directory: %d, writes %v\n%s%s", code, bare.Writes(), out, errOut)
	}
	// A wrong API secret is refused by the tenant.
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "wrong")
	if code, _, errOut := emfa(t, args...); code != 1 || !strings.Contains(errOut, "refused the API client's token request (invalid_client)") || !strings.Contains(errOut, "--client-secret") {
		t.Errorf("wrong tenant secret: %d %s", code, errOut)
	}
}

// TestVerifyRegisterRefusesUnreachableURL: without --url, a listen address Verify cannot
// call (the container's 0.0.0.0:8080, loopback) is refused before the tenant is asked for
// anything; so is http:// without --allow-http, which names what would go in clear. A
// failed webhook test says it may be the URL or the credentials.
func TestVerifyRegisterRefusesUnreachableURL(t *testing.T) {
	cfg := writeTestConfig(t, "", oauthProviders)
	tenant := verifyfake.New("api-client", "api-secret")
	defer tenant.Close()
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")
	args := []string{"verify", "register", "--config", cfg, "--tenant", tenant.URL, "--client-id", "api-client", "--auth", "basic"}
	for _, listen := range []string{"0.0.0.0:8080", "[::]:8080", ":8080", "127.0.0.1:8080", "localhost:8080", "[::1]:8080"} {
		t.Setenv("EMFA_SERVER_LISTEN", listen)
		code, _, errOut := emfa(t, append(args, "--allow-http")...)
		if code != 2 || !strings.Contains(errOut, "--url") || !strings.Contains(errOut, listen) {
			t.Errorf("listen %s without --url: exit %d %q, want 2 asking for --url", listen, code, errOut)
		}
	}
	if w := tenant.Writes(); len(w) != 0 {
		t.Errorf("the tenant was changed: %v", w)
	}
	t.Setenv("EMFA_SERVER_LISTEN", "127.0.0.1:0")
	for _, c := range []struct {
		extra []string
		want  string
	}{
		{[]string{"--url", "http://emfa.example.com"}, "--allow-http"},
		{[]string{"--url", "https://emfa.example.com"}, "--allow-http"}, // the tenant is http://
	} {
		if code, _, errOut := emfa(t, append(slices.Clone(args), c.extra...)...); code != 2 || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, "in clear") {
			t.Errorf("%v: exit %d %q, want 2 naming %s", c.extra, code, errOut, c.want)
		}
	}
	if w := tenant.Writes(); len(w) != 0 {
		t.Errorf("the tenant was changed: %v", w)
	}
	// Registered at an address where nothing answers: the test fails and the message
	// names both the URL and the credentials as possible causes.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	code, out, errOut := emfa(t, append(slices.Clone(args), "--url", dead, "--allow-http")...)
	if code != 1 || !strings.Contains(errOut, dead) || !strings.Contains(errOut, "--url") || !strings.Contains(errOut, "credentials") {
		t.Errorf("a webhook test that fails: exit %d\n%s%s", code, out, errOut)
	}
}

// testPKI is a CA that signs certificates, written as PEM files.
type testPKI struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	dir  string
}

func newPKI(t *testing.T, name string) *testPKI {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p := &testPKI{cert: cert, key: key, dir: t.TempDir()}
	writePEM(t, filepath.Join(p.dir, "ca.pem"), "CERTIFICATE", der)
	return p
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// issue signs a leaf for cn (a server certificate for 127.0.0.1 when server is true).
func (p *testPKI) issue(t *testing.T, cn string, serial int64, server bool) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn, Organization: []string{"Example"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writeKeyPair(t *testing.T, dir string, c tls.Certificate) {
	t.Helper()
	kder, _ := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	writePEM(t, filepath.Join(dir, "tls.key"), "EC PRIVATE KEY", kder)
	writePEM(t, filepath.Join(dir, "tls.crt"), "CERTIFICATE", c.Certificate[0])
}

// serveMTLS serves over HTTPS, its certificate (serial 10) in dir and issued by ca, which
// is server.tls's client CA; server.auth.mtls admits the subject "verify". It returns the
// https:// base, the pool that trusts the server, and the server's log.
func serveMTLS(t *testing.T, ca *testPKI, dir string) (string, *x509.CertPool, *lockedLog) {
	t.Helper()
	writeKeyPair(t, dir, ca.issue(t, "emfa", 10, true))
	path := writeTestConfig(t, "", oauthProviders)
	cfg := strings.Replace(mustRead(t, path), "  auth:\n", "  tls: {cert: "+filepath.Join(dir, "tls.crt")+", key: "+filepath.Join(dir, "tls.key")+
		", clientCA: "+filepath.Join(ca.dir, "ca.pem")+"}\n  auth:\n    mtls: {subjects: [verify]}\n", 1)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	base, log := startServe(t, path)
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	return strings.Replace(base, "http://", "https://", 1), roots, log
}

func TestMTLSReachesContract(t *testing.T) {
	ca, other := newPKI(t, "clients CA"), newPKI(t, "another CA")
	dir := t.TempDir()
	base, roots, _ := serveMTLS(t, ca, dir)
	call := func(certs ...tls.Certificate) (int, *x509.Certificate, error) {
		tc := &tls.Config{RootCAs: roots}
		if len(certs) > 0 { // sent whatever CAs the server names
			tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &certs[0], nil }
		}
		tr := &http.Transport{TLSClientConfig: tc}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(base + "/v1/providers/emfa/test")
		if err != nil {
			return 0, nil, err
		}
		resp.Body.Close()
		return resp.StatusCode, resp.TLS.PeerCertificates[0], nil
	}
	code, served, err := call(ca.issue(t, "verify", 20, false))
	if err != nil || code != 200 {
		t.Fatalf("client certificate of the CA, pinned subject: %d %v", code, err)
	}
	if code, _, err := call(ca.issue(t, "intruder", 21, false)); err != nil || code != 401 {
		t.Errorf("another subject: %d %v, want 401", code, err)
	}
	if code, _, err := call(); err != nil || code != 401 {
		t.Errorf("no client certificate: %d %v, want 401", code, err)
	}
	if code, _, err := call(other.issue(t, "verify", 22, false)); err == nil {
		t.Errorf("a certificate of another CA: %d, want a refused handshake", code)
	}
	// A renewed server certificate is served without a restart.
	writeKeyPair(t, dir, ca.issue(t, "emfa", 11, true))
	later := time.Now().Add(2 * time.Second)
	for _, f := range []string{"tls.crt", "tls.key"} {
		_ = os.Chtimes(filepath.Join(dir, f), later, later)
	}
	_, renewed, err := call(ca.issue(t, "verify", 23, false))
	if err != nil || renewed.SerialNumber.Cmp(served.SerialNumber) == 0 || renewed.SerialNumber.Int64() != 11 {
		t.Errorf("after renewal: serial %v (was %v), %v", renewed.SerialNumber, served.SerialNumber, err)
	}
}
