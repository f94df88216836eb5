package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReloadAppliesClientCA: a reload that replaces server.tls.clientCA (an operator
// dropping a compromised CA) applies at once: a client certificate of the old CA is refused,
// on a new connection and on one kept alive from before the reload; the new CA's is
// admitted; with requireClientCert a call without a certificate is refused, /healthz too.
func TestReloadAppliesClientCA(t *testing.T) {
	oldCA, newCA := newPKI(t, "old clients CA"), newPKI(t, "new clients CA")
	dir := t.TempDir()
	writeKeyPair(t, dir, oldCA.issue(t, "emfa", 10, true))
	path := writeTestConfig(t, "", oauthProviders)
	tlsLine := func(ca *testPKI) string {
		return "  tls: {cert: " + filepath.Join(dir, "tls.crt") + ", key: " + filepath.Join(dir, "tls.key") +
			", clientCA: " + filepath.Join(ca.dir, "ca.pem") + ", requireClientCert: true}\n  auth:\n"
	}
	original := mustRead(t, path)
	if err := os.WriteFile(path, []byte(strings.Replace(original, "  auth:\n", tlsLine(oldCA)+"    mtls: {subjects: [verify]}\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	base, logs, reload := reloadingServe(t, path)
	base = strings.Replace(base, "http://", "https://", 1)
	roots := x509.NewCertPool()
	roots.AddCert(oldCA.cert) // the server's certificate is the old CA's throughout
	client := func(certs ...tls.Certificate) *http.Client {
		tc := &tls.Config{RootCAs: roots}
		if len(certs) > 0 { // sent whatever CAs the server names
			tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &certs[0], nil }
		}
		tr := &http.Transport{TLSClientConfig: tc}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}
	get := func(c *http.Client, path string) (int, error) {
		resp, err := c.Get(base + path)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body) // read to the end: the connection is kept alive
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	kept := client(oldCA.issue(t, "verify", 20, false))
	var reused bool
	kept.Transport.(*http.Transport).TLSClientConfig.VerifyConnection = func(tls.ConnectionState) error {
		reused = false // a new handshake
		return nil
	}
	if code, err := get(kept, "/v1/providers/emfa/test"); err != nil || code != 200 {
		t.Fatalf("before the reload, the old CA's certificate: %d %v", code, err)
	}
	reused = true
	if _, err := get(client(newCA.issue(t, "verify", 21, false)), "/v1/providers/emfa/test"); err == nil {
		t.Fatal("before the reload, the new CA's certificate was admitted")
	}

	replaceFile(t, path, strings.Replace(original, "  auth:\n", tlsLine(newCA)+"    mtls: {subjects: [verify]}\n", 1))
	if err := reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if code, err := get(client(oldCA.issue(t, "verify", 22, false)), "/v1/providers/emfa/test"); err == nil {
		t.Errorf("after the reload, the old CA's certificate on a new connection: %d, want a refused handshake", code)
	}
	if code, err := get(kept, "/v1/providers/emfa/test"); err == nil && code == 200 {
		t.Errorf("after the reload, the old CA's certificate on a connection kept from before: %d, want a refusal", code)
	}
	if !reused {
		t.Error("the connection kept from before the reload was not reused: the test shows nothing")
	}
	if code, err := get(client(newCA.issue(t, "verify", 23, false)), "/v1/providers/emfa/test"); err != nil || code != 200 {
		t.Errorf("after the reload, the new CA's certificate: %d %v, want 200", code, err)
	}
	if code, err := get(client(), "/healthz"); err == nil {
		t.Errorf("after the reload, /healthz without a certificate: %d, want a refused handshake", code)
	}
	if !strings.Contains(logs.String(), "server.tls") {
		t.Errorf("the reload does not say server.tls changed:\n%s", grepLines(logs.String(), "reload"))
	}

	// Turning TLS off cannot apply to the running listener: kept, and said so.
	replaceFile(t, path, original)
	if err := reload(); err != nil {
		t.Fatalf("reload without server.tls: %v", err)
	}
	if !strings.Contains(logs.String(), "server.tls changed: it cannot change while serving") {
		t.Errorf("no warning for server.tls removed:\n%s", grepLines(logs.String(), "reload"))
	}
	if code, err := get(client(newCA.issue(t, "verify", 24, false)), "/healthz"); err != nil || code != 200 {
		t.Errorf("after a reload removing server.tls, HTTPS with the new CA: %d %v", code, err)
	}
}
