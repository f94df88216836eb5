package main

import (
	"cmp"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/store"
)

// oauth builds the bearer-token authentication server.auth.oauth asks for; nil when
// there is none.
func (e *env) oauth() (*adapter.OAuth, error) {
	o := e.cfg.Server.Auth.OAuth
	if o == nil {
		return nil, nil
	}
	out := &adapter.OAuth{Lifetime: o.TokenLifetime, Now: e.now}
	if o.IssuesTokens() {
		clients, ok := e.store.(store.OAuthClients)
		if !ok {
			return nil, errors.New("server.auth.oauth: the store keeps no OAuth clients")
		}
		path := signingKeyPath(o)
		_, before := os.Lstat(path)
		key, err := signingKey(o)
		if err != nil {
			return nil, fmt.Errorf("server.auth.oauth: signing key: %w", err)
		}
		if o.SigningKey == "" && errors.Is(before, fs.ErrNotExist) {
			// Said as the generated password and encryption key are: a key to keep.
			e.log.Info("server.auth.oauth: generated the signing key of emfa's tokens, kept in "+path+
				" (every replica needs the same: set signingKey or a shared signingKeyFile)", "file", path)
		}
		out.Clients, out.Key = clients, key
	}
	if j := o.JWKS; j != nil {
		out.JWKS = &adapter.JWKS{URL: j.URL, Issuer: j.Issuer, Audience: j.Audience, Algorithms: j.Algorithms, Now: e.now}
	}
	return out, nil
}

// signingKey is the configured key, or the one kept in a file (created when missing; a
// symbolic link to nothing is refused, adapter.SigningKeyFile).
func signingKey(o *config.OAuthAuth) (*ecdsa.PrivateKey, error) {
	if o.SigningKey != "" {
		return adapter.ParseSigningKey([]byte(o.SigningKey.Reveal()))
	}
	return adapter.SigningKeyFile(signingKeyPath(o))
}

// signingKeyPath is the file that keeps o's signing key when the configuration holds none.
func signingKeyPath(o *config.OAuthAuth) string {
	if o.SigningKeyFile != "" {
		return o.SigningKeyFile
	}
	return filepath.Join(cmp.Or(os.Getenv("EMFA_DATA_DIR"), "emfa-data"), "oauth-signing-key.pem")
}

// tlsSettings is one configuration's server.tls, built whole: what a handshake uses, and
// what a connection made under an earlier one is checked against.
type tlsSettings struct {
	cfg *tls.Config
	// roots are the DER of clientCA's certificates: a connection whose verified chain
	// ends in none of them was admitted by a CA no longer trusted.
	roots   map[string]bool
	require bool
	// now is the clock a kept connection's certificates are checked by (default time.Now).
	now func() time.Time
}

func newTLSSettings(t *config.TLS, log *slog.Logger) (*tlsSettings, error) {
	return newTLSSettingsAt("server.tls", t, log)
}

// newTLSSettingsAt is newTLSSettings for the section at path (server.tls, admin.tls),
// which its errors name. log, when set, is told of a renewal that does not load.
func newTLSSettingsAt(path string, t *config.TLS, log *slog.Logger) (*tlsSettings, error) {
	r := &certReloader{path: path, certFile: t.Cert, keyFile: t.Key, log: log}
	if _, err := r.get(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.get() }}
	s := &tlsSettings{cfg: cfg, require: t.RequireClientCert}
	if t.ClientCA != "" {
		data, err := os.ReadFile(t.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("%s.clientCA: %w", path, err)
		}
		pool := x509.NewCertPool()
		s.roots = map[string]bool{}
		for rest := data; ; {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			if c, err := x509.ParseCertificate(b.Bytes); b.Type == "CERTIFICATE" && err == nil {
				pool.AddCert(c)
				s.roots[string(c.Raw)] = true
			}
		}
		if len(s.roots) == 0 {
			return nil, fmt.Errorf("%s.clientCA: %s holds no PEM certificate", path, t.ClientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		if t.RequireClientCert {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return s, nil
}

// admits reports whether a connection's TLS state, verified at its handshake under
// whatever settings were current then, still meets s: a client certificate, when s
// requires one, that chains to one of s's client CAs, every certificate of that chain
// still valid (a connection kept alive may outlive its client certificate). A connection without a client CA
// configured is admitted (no certificate is verified, none is relied on). A request
// without TLS state (nil) where a client CA is configured is not: s serves its listener
// in HTTPS, so one is always there, and its absence is never read as a pass.
func (s *tlsSettings) admits(cs *tls.ConnectionState) bool {
	if s.roots == nil {
		return true
	}
	if cs == nil {
		return false
	}
	if len(cs.PeerCertificates) == 0 {
		return !s.require
	}
	now := time.Now
	if s.now != nil {
		now = s.now
	}
	for _, chain := range cs.VerifiedChains {
		if len(chain) > 0 && s.roots[string(chain[len(chain)-1].Raw)] && validAt(chain, now()) {
			return true
		}
	}
	return false
}

// validAt reports whether every certificate of chain is valid at t: one verified at its
// connection's handshake may have expired since, on a connection kept alive.
func validAt(chain []*x509.Certificate, t time.Time) bool {
	for _, c := range chain {
		if t.Before(c.NotBefore) || t.After(c.NotAfter) {
			return false
		}
	}
	return true
}

// serverTLS is the HTTPS listener's server.tls: every handshake reads the current
// settings, which a reload swaps, so that a changed clientCA or requireClientCert holds
// without a restart — an operator who removes a compromised CA must not have to restart
// for it to stop admitting. Connections kept alive from before a reload are checked
// against the current settings on every request (live.ServeHTTP).
type serverTLS struct {
	cur atomic.Pointer[tlsSettings]
}

func (s *serverTLS) config() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return s.cur.Load().cfg, nil
	}}
}

// certReloader keeps a certificate and re-reads it when a file's modification time
// changes. A pair that does not load (a renewal half written) keeps the previous one,
// and says so in the log: else the operator learns that the renewal failed only when
// the certificate still served expires.
type certReloader struct {
	path              string // the section, for errors: server.tls, admin.tls
	certFile, keyFile string
	log               *slog.Logger // nil: nothing is logged (emfa check)

	mu      sync.Mutex
	cert    *tls.Certificate
	modTime [2]time.Time
	// failed is the failure last logged (its error and the files' times), so that a pair
	// that does not load is logged once, not at every handshake, and a later bad pair
	// again; empty once a pair loads.
	failed string
}

// notAfter is when c expires (zero when its leaf was not parsed: GODEBUG x509keypairleaf=0).
func notAfter(c *tls.Certificate) time.Time {
	if c.Leaf == nil {
		return time.Time{}
	}
	return c.Leaf.NotAfter
}

// keep logs, once per failure, that the files do not load and the previous certificate
// is still served; it returns that certificate.
func (r *certReloader) keep(err error, mod [2]time.Time) (*tls.Certificate, error) {
	key := fmt.Sprint(err, mod)
	if r.log != nil && key != r.failed {
		r.log.Error(r.path+": the certificate files changed but do not load: the previous certificate is still served",
			"cert", r.certFile, "key", r.keyFile, "expires", notAfter(r.cert), "err", err)
	}
	r.failed = key
	return r.cert, nil
}

func (r *certReloader) get() (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var mod [2]time.Time
	for i, f := range []string{r.certFile, r.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			if r.cert != nil {
				return r.keep(err, mod)
			}
			return nil, fmt.Errorf("%s: %w", r.path, err)
		}
		mod[i] = st.ModTime()
	}
	if r.cert != nil && mod == r.modTime {
		return r.cert, nil
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		if r.cert != nil {
			return r.keep(err, mod)
		}
		return nil, fmt.Errorf("%s: %w", r.path, err)
	}
	if r.failed != "" && r.log != nil {
		r.log.Info(r.path+": the certificate files load again: the new certificate is served", "cert", r.certFile, "expires", notAfter(&cert))
	}
	r.cert, r.modTime, r.failed = &cert, mod, ""
	return r.cert, nil
}

// listenTLS is the main listener over ln (env.listen), in HTTPS when server.tls is set,
// with the settings a reload swaps (nil without TLS).
func (e *env) listenTLS(ln net.Listener, t *config.TLS, onPark func()) (net.Listener, *serverTLS, error) {
	if t == nil {
		return e.listen(ln, "server", nil, onPark), nil, nil
	}
	settings, err := newTLSSettings(t, e.log)
	if err != nil {
		return nil, nil, err
	}
	s := &serverTLS{}
	s.cur.Store(settings)
	return e.listen(ln, "server", s.config(), onPark), s, nil
}
