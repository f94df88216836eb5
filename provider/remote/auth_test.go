package remote

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/config"
)

// testPKI is a throwaway CA issuing client certificates.
type testPKI struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	key := mustECKey(t, elliptic.P256())
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "emfa test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testPKI{cert: cert, key: key, pool: pool}
}

// clientCert issues a client certificate for cn and writes it and its key to dir,
// returning the two paths.
func (p *testPKI) clientCert(t *testing.T, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	key := mustECKey(t, elliptic.P256())
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writePEM(t, dir, cn+".crt", "CERTIFICATE", der)
	keyFile = writePEM(t, dir, cn+".key", "EC PRIVATE KEY", keyDER)
	return certFile, keyFile
}

func mustECKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// newMTLSServer starts a TLS server that requires a client certificate issued by pki and
// returns it with a file holding its own certificate, for mtls.ca.
func newMTLSServer(t *testing.T, pki *testPKI, h http.Handler) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, writePEM(t, t.TempDir(), "server-ca.pem", "CERTIFICATE", srv.Certificate().Raw)
}

// fakeClock is a settable clock for tokenCache, jwtScheme and rotation.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// provision builds the client and authenticator for w as the engine will.
func provision(t *testing.T, w *Webhook) (*client, *authenticator) {
	t.Helper()
	c, err := newClient(w, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	a, err := newAuthenticator(w.Authentication, c.transport, c.timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return c, a
}

func newRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestHeaderAndBasic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		auth       Authentication
		opt        applyOptions
		wantHeader http.Header
		wantValues map[string]string
	}{
		{
			name: "header",
			auth: Authentication{Type: AuthHeader, Header: HeaderAuth{Values: []HeaderValue{
				{Key: "x-api-key", Value: "k1", Sensitive: true}, {Key: "hdr_integration_key", Value: "DI123"},
			}}},
			wantHeader: http.Header{"X-Api-Key": {"k1"}, "Hdr_integration_key": {"DI123"}},
			wantValues: map[string]string{"x-api-key": "k1", "hdr_integration_key": "DI123"},
		},
		{
			name: "header skipped",
			auth: Authentication{Type: AuthHeader, Header: HeaderAuth{Values: []HeaderValue{
				{Key: "hdr_signing_key", Value: "s"},
			}}},
			opt:        applyOptions{skip: true},
			wantHeader: http.Header{},
			wantValues: map[string]string{"hdr_signing_key": "s"},
		},
		{
			name: "header title-cased",
			auth: Authentication{Type: AuthHeader, Header: HeaderAuth{Values: []HeaderValue{
				{Key: "Authorization", Value: "bearer abc"},
			}}},
			opt:        applyOptions{titleCaseBearer: true},
			wantHeader: http.Header{"Authorization": {"Bearer abc"}},
			wantValues: map[string]string{"Authorization": "bearer abc"},
		},
		{
			name:       "basic",
			auth:       Authentication{Type: AuthBasic, Basic: BasicAuth{Username: "user", Password: "p@ss:word"}},
			wantHeader: http.Header{"Authorization": {"Basic dXNlcjpwQHNzOndvcmQ="}},
			wantValues: map[string]string{},
		},
		{name: "none", auth: Authentication{}, wantHeader: http.Header{}, wantValues: map[string]string{}},
		{name: "none spelled", auth: Authentication{Type: AuthNone}, wantHeader: http.Header{}, wantValues: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := newAuthenticator(tt.auth, http.DefaultTransport.(*http.Transport), time.Second)
			if err != nil {
				t.Fatal(err)
			}
			req := newRequest(t, "http://vendor.example/x")
			if err := a.apply(context.Background(), req, tt.opt); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantHeader, req.Header); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantValues, a.headerValues()); diff != "" {
				t.Errorf("headerValues (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := newAuthenticator(Authentication{Type: "kerberos"}, nil, time.Second); err == nil {
		t.Error("unknown type: no error")
	}
}

func TestTitleCaseBearer(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"bearer abc": "Bearer abc",
		"BEARER abc": "Bearer abc",
		"Bearer abc": "Bearer abc",
		"bearer":     "bearer",
		"Basic abc":  "Basic abc",
		"bearerabc":  "bearerabc",
		"":           "",
	} {
		if got := titleCaseBearer(in); got != want {
			t.Errorf("titleCaseBearer(%q) = %q, want %q", in, got, want)
		}
	}
}

// tokenEndpoint is a fake OAuth token endpoint. check inspects each request and returns
// a complaint or ""; the endpoint answers 400 with the complaint.
type tokenEndpoint struct {
	hits      atomic.Int64
	expiresIn int // 0: none in the response
	check     func(r *http.Request) string
	gate      chan struct{} // if set, each request waits for it
}

func (e *tokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e.gate != nil {
		<-e.gate
	}
	n := e.hits.Add(1)
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		http.Error(w, "grant_type", http.StatusBadRequest)
		return
	}
	if e.check != nil {
		if msg := e.check(r); msg != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": msg})
			return
		}
	}
	body := map[string]any{"access_token": fmt.Sprintf("tok-%d", n), "token_type": "bearer"}
	if e.expiresIn > 0 {
		body["expires_in"] = e.expiresIn
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

func TestOAuthClientAuthentication(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	dir := t.TempDir()
	certFile, keyFile := pki.clientCert(t, dir, "emfa-client")

	tests := []struct {
		method string
		tls    bool
		check  func(r *http.Request) string
	}{
		{ClientSecretBasic, false, func(r *http.Request) string {
			if u, p, ok := r.BasicAuth(); !ok || u != "client-1" || p != "s3cret" {
				return "no basic credentials"
			}
			if r.PostForm.Has("client_secret") || r.PostForm.Has("client_id") {
				return "credentials in the body"
			}
			return ""
		}},
		{ClientSecretPost, false, func(r *http.Request) string {
			if r.Header.Get("Authorization") != "" {
				return "authorization header sent"
			}
			if r.PostForm.Get("client_id") != "client-1" || r.PostForm.Get("client_secret") != "s3cret" {
				return "no credentials in the body"
			}
			return ""
		}},
		{TLSClientAuth, true, func(r *http.Request) string {
			if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "emfa-client" {
				return "no client certificate"
			}
			if r.Header.Get("Authorization") != "" || r.PostForm.Has("client_secret") {
				return "a secret was sent"
			}
			if r.PostForm.Get("client_id") != "client-1" {
				return "no client_id in the body"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			t.Parallel()
			ep := &tokenEndpoint{expiresIn: 3600, check: func(r *http.Request) string {
				if got := r.PostForm.Get("scope"); got != "mfa.read mfa.write" {
					return "scope " + got
				}
				return tt.check(r)
			}}
			auth := Authentication{Type: AuthOAuth, OAuth: OAuth{
				ClientID: "client-1", ClientSecret: "s3cret", TokenEndpointAuthMethod: tt.method,
				Scope: " mfa.read  mfa.write ",
			}}
			if tt.tls {
				srv, caFile := newMTLSServer(t, pki, ep)
				auth.OAuth.TokenEndpoint = srv.URL + "/token"
				auth.MTLS = MTLS{Cert: certFile, Key: keyFile, CA: caFile}
			} else {
				srv := httptest.NewServer(ep)
				t.Cleanup(srv.Close)
				auth.OAuth.TokenEndpoint = srv.URL + "/token"
			}
			w := &Webhook{URLs: []string{"https://vendor.example"}, Authentication: auth}
			if err := w.Validate(); err != nil {
				t.Fatal(err)
			}
			_, a := provision(t, w)
			req := newRequest(t, "https://vendor.example/x")
			if err := a.apply(context.Background(), req, applyOptions{}); err != nil {
				t.Fatal(err)
			}
			if got := req.Header.Get("Authorization"); got != "Bearer tok-1" {
				t.Errorf("Authorization = %q", got)
			}
		})
	}
}

// newOAuth provisions oauth against ep with a fake clock.
func newOAuth(t *testing.T, ep *tokenEndpoint, o OAuth) (*authenticator, *tokenCache, *fakeClock) {
	t.Helper()
	srv := httptest.NewServer(ep)
	t.Cleanup(srv.Close)
	o.TokenEndpoint, o.ClientID, o.ClientSecret = srv.URL, "c", "s"
	_, a := provision(t, &Webhook{URLs: []string{srv.URL}, Authentication: Authentication{Type: AuthOAuth, OAuth: o}})
	clock := newFakeClock()
	tc := a.scheme.(*oauthScheme).tokens
	tc.now = clock.now
	return a, tc, clock
}

// bearer applies a and returns the token it set.
func bearer(t *testing.T, a *authenticator) string {
	t.Helper()
	req := newRequest(t, "http://vendor.example")
	if err := a.apply(context.Background(), req, applyOptions{}); err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
}

func TestOAuthTokenCached(t *testing.T) {
	t.Parallel()
	ep := &tokenEndpoint{expiresIn: 3600}
	a, _, _ := newOAuth(t, ep, OAuth{})

	// Many concurrent first calls share one fetch.
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			req := newRequest(t, "http://vendor.example")
			if err := a.apply(context.Background(), req, applyOptions{}); err != nil {
				t.Error(err)
			}
			if got := req.Header.Get("Authorization"); got != "Bearer tok-1" {
				t.Errorf("Authorization = %q", got)
			}
		})
	}
	wg.Wait()
	for range 10 {
		bearer(t, a)
	}
	if n := ep.hits.Load(); n != 1 {
		t.Errorf("token endpoint hit %d times for 42 calls, want 1", n)
	}
}

func TestOAuthTokenLifetime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		expiresIn int // in the token response
		o         OAuth
		renewAt   time.Duration // 0: never
	}{
		{"window default 120", 3600, OAuth{}, 3480 * time.Second},
		{"window configured", 3600, OAuth{Window: 600}, 3000 * time.Second},
		{"window over half the lifetime", 60, OAuth{}, 30 * time.Second},
		{"expires_in fallback", 0, OAuth{ExpiresIn: 600}, 480 * time.Second},
		{"response beats fallback", 1200, OAuth{ExpiresIn: 600}, 1080 * time.Second},
		{"no lifetime at all", 0, OAuth{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ep := &tokenEndpoint{expiresIn: tt.expiresIn}
			a, _, clock := newOAuth(t, ep, tt.o)
			if got := bearer(t, a); got != "tok-1" {
				t.Fatalf("first token %q", got)
			}
			if tt.renewAt == 0 {
				clock.advance(365 * 24 * time.Hour)
				if got := bearer(t, a); got != "tok-1" {
					t.Errorf("a token without lifetime was replaced: %q", got)
				}
				return
			}
			clock.advance(tt.renewAt - time.Second)
			if got := bearer(t, a); got != "tok-1" {
				t.Errorf("1s before renewal: %q, want tok-1", got)
			}
			clock.advance(time.Second)
			if got := bearer(t, a); got != "tok-1" {
				t.Errorf("at renewal: %q, want tok-1 (the renewal runs behind the call)", got)
			}
			renewed(a)
			if got := bearer(t, a); got != "tok-2" {
				t.Errorf("after renewal: %q, want tok-2", got)
			}
			if n := ep.hits.Load(); n != 2 {
				t.Errorf("hits = %d, want 2", n)
			}
		})
	}
}

func TestOAuthInvalidate(t *testing.T) {
	t.Parallel()
	ep := &tokenEndpoint{expiresIn: 3600}
	a, _, _ := newOAuth(t, ep, OAuth{})

	rejected := newRequest(t, "http://vendor.example")
	if err := a.apply(context.Background(), rejected, applyOptions{}); err != nil {
		t.Fatal(err)
	}
	// The vendor answered 401: the engine invalidates and retries once.
	a.invalidate(rejected)
	if got := bearer(t, a); got != "tok-2" {
		t.Fatalf("after invalidate: %q, want tok-2", got)
	}
	// Other calls rejected with the old token must not throw the new one away.
	a.invalidate(rejected)
	if got := bearer(t, a); got != "tok-2" {
		t.Errorf("stale invalidate dropped the new token: %q", got)
	}
	// A call sent without the token (skip_authentication) says nothing about it.
	a.invalidate(newRequest(t, "http://vendor.example"))
	if got := bearer(t, a); got != "tok-2" {
		t.Errorf("invalidate of an unauthenticated call dropped the token: %q", got)
	}
	a.invalidate(nil)
	if got := bearer(t, a); got != "tok-3" {
		t.Errorf("after invalidate(nil): %q, want tok-3", got)
	}
}

func TestOAuthTokenErrors(t *testing.T) {
	t.Parallel()
	ep := &tokenEndpoint{check: func(*http.Request) string { return "bad client" }}
	a, _, _ := newOAuth(t, ep, OAuth{})
	err := a.apply(context.Background(), newRequest(t, "http://vendor.example"), applyOptions{})
	if err == nil || !strings.Contains(err.Error(), "oauth token") || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("err = %v", err)
	}
	// A failed fetch is not cached: the next call tries again.
	a.apply(context.Background(), newRequest(t, "http://vendor.example"), applyOptions{})
	if n := ep.hits.Load(); n != 2 {
		t.Errorf("hits = %d, want 2", n)
	}
}

func TestOAuthWaitBoundedByContext(t *testing.T) {
	t.Parallel()
	ep := &tokenEndpoint{expiresIn: 3600, gate: make(chan struct{})}
	a, _, _ := newOAuth(t, ep, OAuth{})

	// A caller whose deadline passes while the fetch hangs gives up alone.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := a.apply(ctx, newRequest(t, "http://vendor.example"), applyOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	close(ep.gate)
	if got := bearer(t, a); got != "tok-1" {
		t.Errorf("token %q, want tok-1 (the fetch the first caller started)", got)
	}
	if n := ep.hits.Load(); n != 1 {
		t.Errorf("hits = %d, want 1", n)
	}
}

func TestMTLS(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	dir := t.TempDir()
	certFile, keyFile := pki.clientCert(t, dir, "emfa-client")
	otherCert, otherKey := pki.clientCert(t, dir, "other")
	srv, caFile := newMTLSServer(t, pki, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))

	t.Run("client certificate presented", func(t *testing.T) {
		t.Parallel()
		c, a := provision(t, &Webhook{Authentication: Authentication{Type: AuthMTLS, MTLS: MTLS{
			Cert: certFile, Key: keyFile, CA: caFile,
		}}})
		req := newRequest(t, srv.URL)
		if err := a.apply(context.Background(), req, applyOptions{}); err != nil {
			t.Fatal(err)
		}
		resp, err := c.do(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 200 || string(resp.Body) != "emfa-client" {
			t.Errorf("response %d %q", resp.Status, resp.Body)
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		t.Parallel()
		c, _ := provision(t, &Webhook{Authentication: Authentication{MTLS: MTLS{CA: caFile}}})
		if _, err := c.do(context.Background(), newRequest(t, srv.URL)); err == nil {
			t.Error("the server took a call without a client certificate")
		}
	})
	t.Run("untrusted server", func(t *testing.T) {
		t.Parallel()
		c, _ := provision(t, &Webhook{Authentication: Authentication{Type: AuthMTLS, MTLS: MTLS{
			Cert: certFile, Key: keyFile,
		}}})
		_, err := c.do(context.Background(), newRequest(t, srv.URL))
		var uerr x509.UnknownAuthorityError
		if !errors.As(err, &uerr) {
			t.Errorf("err = %v, want an unknown authority", err)
		}
	})

	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		m    MTLS
		want string
	}{
		{"mismatched key", MTLS{Cert: certFile, Key: otherKey}, "private key does not match"},
		{"missing key", MTLS{Cert: certFile, Key: filepath.Join(dir, "nope.key")}, "no such file"},
		{"garbage certificate", MTLS{Cert: bad, Key: keyFile}, "failed to find any PEM data"},
		{"garbage ca", MTLS{Cert: otherCert, Key: otherKey, CA: bad}, "no PEM certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newClient(&Webhook{Authentication: Authentication{Type: AuthMTLS, MTLS: tt.m}}, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "mtls") {
				t.Errorf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestJWT(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaFile := writePEM(t, dir, "rsa.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey))
	pkcs8, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaInline := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	ecKey := mustECKey(t, elliptic.P256())
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	ecFile := writePEM(t, dir, "ec.pem", "EC PRIVATE KEY", ecDER)
	hmacKey := "0123456789abcdef0123456789abcdef"
	prefix := "JWT "

	tests := []struct {
		alg        string
		key        string
		verify     any
		headerName string
		prefix     *string
		wantHeader string
		wantPrefix string
	}{
		{"HS256", hmacKey, []byte(hmacKey), "", nil, "Authorization", "Bearer "},
		{"RS256", rsaFile, rsaKey.Public(), "X-Vendor-Token", &prefix, "X-Vendor-Token", "JWT "},
		{"PS256", rsaInline, rsaKey.Public(), "", nil, "Authorization", "Bearer "},
		{"ES256", ecFile, ecKey.Public(), "X-Jwt", new(string), "X-Jwt", ""},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			t.Parallel()
			a, err := newAuthenticator(Authentication{Type: AuthJWT, JWT: JWT{
				Alg: tt.alg, Key: config.Secret(tt.key), KeyID: "key-1",
				HTTPHeaderName: tt.headerName, HTTPHeaderPrefix: tt.prefix,
				Sub: "emfa", Iss: "https://emfa.example", Aud: "vendor", Lifetime: 300,
				AdditionalClaims: map[string]any{"tenant": "acme", "sub": "overridden", "n": 3},
			}}, nil, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			clock := newFakeClock()
			a.scheme.(*jwtScheme).now = clock.now

			var jtis []string
			for range 2 {
				req := newRequest(t, "http://vendor.example")
				if err := a.apply(context.Background(), req, applyOptions{}); err != nil {
					t.Fatal(err)
				}
				v := req.Header.Get(tt.wantHeader)
				if !strings.HasPrefix(v, tt.wantPrefix) {
					t.Fatalf("%s = %q, want prefix %q", tt.wantHeader, v, tt.wantPrefix)
				}
				tok, err := jwt.ParseSigned(strings.TrimPrefix(v, tt.wantPrefix), []jose.SignatureAlgorithm{jose.SignatureAlgorithm(tt.alg)})
				if err != nil {
					t.Fatal(err)
				}
				if h := tok.Headers[0]; h.KeyID != "key-1" || h.ExtraHeaders["typ"] != "JWT" {
					t.Errorf("header = %+v", h)
				}
				var std jwt.Claims
				var extra struct {
					Tenant string `json:"tenant"`
					N      int    `json:"n"`
				}
				if err := tok.Claims(tt.verify, &std, &extra); err != nil {
					t.Fatalf("signature: %v", err)
				}
				if std.Subject != "emfa" || std.Issuer != "https://emfa.example" || !std.Audience.Contains("vendor") {
					t.Errorf("claims = %+v", std)
				}
				if iat, exp := std.IssuedAt.Time(), std.Expiry.Time(); !iat.Equal(clock.now().Add(-jwtClockSkew)) || exp.Sub(clock.now()) != 300*time.Second ||
					!std.NotBefore.Time().Equal(iat) {
					t.Errorf("iat %v nbf %v exp %v", iat, std.NotBefore.Time(), exp)
				}
				if err := std.Validate(jwt.Expected{Issuer: "https://emfa.example", AnyAudience: jwt.Audience{"vendor"}, Time: clock.now()}); err != nil {
					t.Error(err)
				}
				if extra.Tenant != "acme" || extra.N != 3 {
					t.Errorf("additional claims = %+v", extra)
				}
				jtis = append(jtis, std.ID)
				clock.advance(time.Second)
			}
			if jtis[0] == "" || jtis[0] == jtis[1] {
				t.Errorf("jti %q then %q", jtis[0], jtis[1])
			}
		})
	}
}

func TestJWTKeyErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p384, err := x509.MarshalECPrivateKey(mustECKey(t, elliptic.P384()))
	if err != nil {
		t.Fatal(err)
	}
	ecFile := writePEM(t, dir, "p384.pem", "EC PRIVATE KEY", p384)
	certFile := writePEM(t, dir, "cert.pem", "CERTIFICATE", []byte{1})
	for _, tt := range []struct {
		name, alg, key, want string
	}{
		{"hmac key too short", "HS256", "short", "at least 32 bytes"},
		{"hs512 needs 64 bytes", "HS512", strings.Repeat("k", 32), "at least 64 bytes"},
		{"curve mismatch", "ES256", ecFile, "P-384 cannot sign ES256"},
		{"ec key for rsa", "RS256", ecFile, "cannot sign RS256"},
		{"missing file", "RS256", filepath.Join(dir, "missing.pem"), "neither PEM text nor a readable file"},
		{"not a key", "PS256", certFile, "not an unencrypted private key"},
		{"garbage", "ES256", "-----BEGIN nothing", "no PEM block"},
		{"unknown alg", "EdDSA", ecFile, "not supported"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := newAuthenticator(Authentication{Type: AuthJWT, JWT: JWT{Alg: tt.alg, Key: config.Secret(tt.key), Lifetime: 300}}, nil, time.Second)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to say %q", err, tt.want)
			}
		})
	}
}
