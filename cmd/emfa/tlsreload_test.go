package main

import (
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTLSRenewalThatDoesNotLoadIsLogged: the certificate files replaced by a pair that
// does not load (a certificate whose key is not the key file's, as a renewal that wrote
// only one of them leaves) keep the previous certificate served, as the README says —
// and the operator is told so, once, not at every handshake. Before, nothing was logged:
// the old certificate went on being served, unnoticed, until it expired.
func TestTLSRenewalThatDoesNotLoadIsLogged(t *testing.T) {
	ca := newPKI(t, "clients CA")
	dir := t.TempDir()
	base, roots, logs := serveMTLS(t, ca, dir)
	call := func() (*tls.ConnectionState, error) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(base + "/healthz")
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		return resp.TLS, nil
	}
	first, err := call()
	if err != nil {
		t.Fatal(err)
	}
	// A new certificate written, its key not: the pair does not match.
	other := ca.issue(t, "emfa", 11, true)
	writePEM(t, filepath.Join(dir, "tls.crt"), "CERTIFICATE", other.Certificate[0])
	later := time.Now().Add(2 * time.Second)
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.Chtimes(filepath.Join(dir, f), later, later); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		cs, err := call()
		if err != nil {
			t.Fatalf("after a bad renewal: %v, want the previous certificate served", err)
		}
		if got := cs.PeerCertificates[0].SerialNumber; got.Cmp(first.PeerCertificates[0].SerialNumber) != 0 {
			t.Fatalf("after a bad renewal: serial %v served, want the previous one", got)
		}
	}
	lines := grepLines(logs.String(), "server.tls")
	if !strings.Contains(lines, "previous certificate") || !strings.Contains(lines, "tls.crt") {
		t.Fatalf("a renewal that does not load is not logged:\n%s", lines)
	}
	if n := strings.Count(lines, "previous certificate"); n != 1 {
		t.Errorf("logged %d times over 3 handshakes, want once:\n%s", n, lines)
	}
}
