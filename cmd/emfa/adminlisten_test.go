package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/smtpfake"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/telemetry"
)

// TestActivationLinkOnAdminListener: with admin.listen, the admin API is served there
// alone, its activation links included (pointing to the main listener's page), and the
// self-service pages are not.
func TestActivationLinkOnAdminListener(t *testing.T) {
	mail := smtpfake.Start(t, smtpfake.Options{})
	cfg := selfServiceConfig(t, mail, "https://mfa.example.com")
	// selfServiceConfig has no admin section: add one with its own listener.
	cfg = appendConfig(t, cfg, "admin:\n  listen: \"127.0.0.1:0\"\n")
	e := openTestEnv(t, cfg)
	snap, err := e.snapshot(snapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if snap.admin == nil {
		t.Fatal("no admin handler with admin.listen set")
	}
	ctx := context.Background()
	token, err := snap.manager.CreateToken(ctx, "cli", "idm", lifecycle.ScopeWrite)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snap.manager.CreateUser(ctx, "cli", lifecycle.UserInput{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/admin/v1/users/alice/activation-link", strings.NewReader(`{"deliver":false}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	snap.admin.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated || !strings.Contains(rec.Body.String(), `"url":"https://mfa.example.com/self-service/link/`) {
		t.Errorf("activation link on admin.listen with selfService.enabled: %d %s", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	snap.admin.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/self-service/", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("the self-service page on the admin listener: %d", rec.Code)
	}
}

func appendConfig(t *testing.T, path, more string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, more...), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// adminAddr is the address serve's admin listener took, from its log.
func adminAddr(t *testing.T, logs *lockedLog) string {
	t.Helper()
	m := regexp.MustCompile(`"msg":"admin API serving"[^\n]*"addr":"([^"]+)"`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("serve did not log its admin listener:\n%s", logs)
	}
	return m[1]
}

// tlsServerConfig is a test configuration with server.tls (the key pair in dir), admin.listen
// on a free loopback port and more appended.
func tlsServerConfig(t *testing.T, dir, more string) string {
	t.Helper()
	path := writeTestConfig(t, "", oauthProviders)
	cfg := strings.Replace(mustRead(t, path), "  auth:\n", "  tls: {cert: "+filepath.Join(dir, "tls.crt")+", key: "+filepath.Join(dir, "tls.key")+"}\n  auth:\n", 1)
	cfg += "admin:\n  listen: \"127.0.0.1:0\"\n" + more
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAdminListenerServesTLS: with server.tls, admin.listen serves HTTPS with the same
// certificate, not the admin tokens, seeds and activation links in clear; a reload that
// moves server.tls to another certificate applies there too.
func TestAdminListenerServesTLS(t *testing.T) {
	ca := newPKI(t, "server CA")
	dir := t.TempDir()
	writeKeyPair(t, dir, ca.issue(t, "emfa", 10, true))
	path := tlsServerConfig(t, dir, "")
	_, logs, reload := reloadingServe(t, path)
	admin := adminAddr(t, logs)
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	// get answers the status and the serial of the certificate the listener presented.
	get := func(url string) (int, int64, error) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(url)
		if err != nil {
			return 0, 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		var serial int64
		if resp.TLS != nil {
			serial = resp.TLS.PeerCertificates[0].SerialNumber.Int64()
		}
		return resp.StatusCode, serial, nil
	}
	if code, serial, err := get("https://" + admin + "/admin/v1/openapi.json"); err != nil || code != http.StatusOK || serial != 10 {
		t.Fatalf("https on admin.listen with server.tls: %d, certificate %d, %v; want 200 with server.tls's certificate (10)", code, serial, err)
	}
	if code, _, err := get("http://" + admin + "/admin/v1/openapi.json"); err == nil && code == http.StatusOK {
		t.Errorf("plain http on admin.listen with server.tls: %d, want no answer", code)
	}

	next := t.TempDir()
	writeKeyPair(t, next, ca.issue(t, "emfa", 11, true))
	replaceFile(t, path, strings.ReplaceAll(mustRead(t, path), dir, next))
	if err := reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if code, serial, err := get("https://" + admin + "/healthz"); err != nil || code != http.StatusOK || serial != 11 {
		t.Errorf("after a reload to another certificate, admin.listen: %d, certificate %d, %v; want 200 with certificate 11", code, serial, err)
	}
}

// TestAdminListenerNoContract: admin.listen does not route the contract (404, as any path
// it does not serve, not the 401 of a route that exists); health and /metrics stay there.
func TestAdminListenerNoContract(t *testing.T) {
	path := appendConfig(t, writeConfig(t, ""), "admin:\n  listen: \"127.0.0.1:0\"\n")
	e := openTestEnv(t, path)
	e.metrics = telemetry.NewMetrics("test") // as serve has them
	snap, err := e.snapshot(snapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path string
		basic        bool
		want         int
	}{
		{http.MethodPost, "/v1/providers/emfa/enrollments", false, http.StatusNotFound},
		{http.MethodPost, "/v1/providers/emfa/enrollments", true, http.StatusNotFound},
		{http.MethodGet, "/v1/providers/emfa/test", true, http.StatusNotFound},
		{http.MethodGet, "/healthz", false, http.StatusOK},
		{http.MethodGet, "/metrics", false, http.StatusOK},
	} {
		req := httptest.NewRequest(tc.method, tc.path, strings.NewReader(`{"userId":"alice"}`))
		req.Header.Set("Content-Type", "application/json")
		if tc.basic {
			req.SetBasicAuth("verify", "sim-password-0123")
		}
		rec := httptest.NewRecorder()
		snap.admin.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s %s (basic %v) on admin.listen: %d %s, want %d", tc.method, tc.path, tc.basic, rec.Code, rec.Body, tc.want)
		}
	}
}

// TestAdminListenerTimeouts: admin.listen's server has the main listener's timeouts: a
// client that sends its request or reads its answer slowly cannot hold a connection.
func TestAdminListenerTimeouts(t *testing.T) {
	path := appendConfig(t, writeConfig(t, ""), "admin:\n  listen: \"127.0.0.1:0\"\n")
	e := openTestEnv(t, path)
	so := snapshotOptions{connTimeout: e.cfg.Server.RequestTimeout + 5*time.Second}
	snap, err := e.snapshot(so)
	if err != nil {
		t.Fatal(err)
	}
	l := &live{}
	l.swap(snap, e, 0)
	ln, err := listenOn("admin.listen", e.cfg.Admin.Listen)
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.serveAdmin(context.Background(), l, ln, so.connTimeout, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.stop()
	main := e.httpServer(http.NotFoundHandler(), so.connTimeout)
	got, want := a.srv, main
	if got.ReadTimeout != so.connTimeout || got.WriteTimeout != so.connTimeout || got.ReadHeaderTimeout != want.ReadHeaderTimeout ||
		got.IdleTimeout != want.IdleTimeout || got.MaxHeaderBytes != want.MaxHeaderBytes {
		t.Errorf("admin.listen's server: read %s write %s header %s idle %s max header %d; want read and write %s, header %s idle %s max header %d",
			got.ReadTimeout, got.WriteTimeout, got.ReadHeaderTimeout, got.IdleTimeout, got.MaxHeaderBytes,
			so.connTimeout, want.ReadHeaderTimeout, want.IdleTimeout, want.MaxHeaderBytes)
	}
}

// TestCheckWarnsExposedAdminAndMetrics: emfa check warns when the contract's listener is
// not on loopback and serves /metrics without a token or the admin API; on loopback (the
// first run) it does not.
func TestCheckWarnsExposedAdminAndMetrics(t *testing.T) {
	loopback := writeConfig(t, "")
	if code, _, stderr := emfa(t, "check", "--config", loopback); code != 0 || strings.Contains(stderr, "warning: metrics") || strings.Contains(stderr, "warning: admin") {
		t.Errorf("check on loopback: exit %d, stderr:\n%s", code, stderr)
	}
	exposed := writeConfig(t, "")
	if err := os.WriteFile(exposed, []byte(strings.Replace(mustRead(t, exposed), `listen: "127.0.0.1:0"`, `listen: "0.0.0.0:8080"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := emfa(t, "check", "--config", exposed)
	if code != 0 {
		t.Fatalf("check: exit %d:\n%s", code, stderr)
	}
	for _, want := range []string{"warning: metrics.token is not set", "warning: admin.listen is not set"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("check on 0.0.0.0 without admin.listen or metrics.token: no %q in\n%s", want, stderr)
		}
	}
}

// TestAdminListenerOwnTLS: admin.tls gives admin.listen a certificate of its own and may
// require a client certificate there; admin.plaintext keeps it plain beside server.tls, and
// a reload cannot turn its TLS off (the listener is HTTPS from the start).
func TestAdminListenerOwnTLS(t *testing.T) {
	serverCA, adminCA, clients := newPKI(t, "server CA"), newPKI(t, "admin CA"), newPKI(t, "operators CA")
	dir, adminDir := t.TempDir(), t.TempDir()
	writeKeyPair(t, dir, serverCA.issue(t, "emfa", 10, true))
	writeKeyPair(t, adminDir, adminCA.issue(t, "emfa-admin", 20, true))
	own := "  tls: {cert: " + filepath.Join(adminDir, "tls.crt") + ", key: " + filepath.Join(adminDir, "tls.key") +
		", clientCA: " + filepath.Join(clients.dir, "ca.pem") + ", requireClientCert: true}\n"
	path := tlsServerConfig(t, dir, own)
	_, logs, reload := reloadingServe(t, path)
	admin := adminAddr(t, logs)
	roots := x509.NewCertPool()
	roots.AddCert(adminCA.cert)
	get := func(certs ...tls.Certificate) (int, error) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get("https://" + admin + "/healthz")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := get(clients.issue(t, "operator", 30, false)); err != nil || code != http.StatusOK {
		t.Errorf("admin.tls with an operator's certificate: %d %v, want 200 with admin.tls's certificate", code, err)
	}
	if code, err := get(); err == nil {
		t.Errorf("admin.tls with requireClientCert, no client certificate: %d, want a refused handshake", code)
	}

	// Plain from a reload: kept HTTPS, and said so.
	replaceFile(t, path, strings.Replace(mustRead(t, path), own, "  plaintext: true\n", 1))
	if err := reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if !strings.Contains(logs.String(), "admin.tls changed: it cannot change while serving") {
		t.Errorf("no warning for admin.listen's TLS turned off by a reload:\n%s", grepLines(logs.String(), "reload"))
	}
	if code, err := get(clients.issue(t, "operator", 31, false)); err != nil || code != http.StatusOK {
		t.Errorf("after a reload turning admin.listen's TLS off: %d %v, want HTTPS as before", code, err)
	}
}

// TestAdminListenerPlaintext: admin.plaintext serves admin.listen in plain HTTP beside
// server.tls (a mesh or a NetworkPolicy protects it), as before admin.listen took TLS.
func TestAdminListenerPlaintext(t *testing.T) {
	ca := newPKI(t, "server CA")
	dir := t.TempDir()
	writeKeyPair(t, dir, ca.issue(t, "emfa", 10, true))
	_, logs, _ := reloadingServe(t, tlsServerConfig(t, dir, "  plaintext: true\n"))
	resp, err := http.Get("http://" + adminAddr(t, logs) + "/admin/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("plain http on admin.listen with admin.plaintext: %d", resp.StatusCode)
	}
}

// TestCheckReadsAdminTLS: emfa check loads admin.tls's files as serve would, as it does
// server.tls's: a missing certificate is found before serve.
func TestCheckReadsAdminTLS(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.pem")
	path := appendConfig(t, writeConfig(t, ""), "admin:\n  listen: \"127.0.0.1:0\"\n  tls: {cert: "+missing+", key: "+missing+"}\n")
	code, _, stderr := emfa(t, "check", "--config", path)
	if code == 0 || !strings.Contains(stderr, ": admin.tls: stat "+missing) {
		t.Errorf("check with admin.tls's files missing: exit %d\n%s", code, stderr)
	}
}
