package remote

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/net/http/httpguts"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/emfa/emfa/provider"
)

// applyOptions carries what an outgoing transform decided for one call.
type applyOptions struct {
	// skip is skip_authentication: the transform authenticates the request itself (IBM's
	// DUO webhook signs each request with the header values), so the configured
	// authentication is left out. It cannot remove an mtls client certificate, which
	// belongs to the connection.
	skip bool
	// titleCaseBearer is title_case_bearer: rewrite "bearer …" to "Bearer …" in the
	// Authorization header, whoever set it, for vendors that compare case-sensitively.
	titleCaseBearer bool
}

// scheme is one authentication type's per-call work.
type scheme interface {
	apply(ctx context.Context, req *http.Request) error
	// invalidate is told that the vendor rejected req (401/403) and drops whatever
	// credential req carried, so that the next apply obtains a fresh one.
	invalidate(req *http.Request)
}

var (
	_ scheme = headerScheme(nil)
	_ scheme = basicScheme{}
	_ scheme = (*oauthScheme)(nil)
	_ scheme = (*jwtScheme)(nil)
)

// authenticator is a provider's outbound authentication, built once when the provider is
// provisioned and shared by all its calls.
type authenticator struct {
	scheme scheme            // nil for none and mtls, whose work is on the transport
	header map[string]string // authentication_header for transforms; read-only
	stop   context.CancelFunc
}

// newAuthenticator builds the authentication a describes. Token endpoint calls (oauth) go
// through base, which must be the provider's transport so that tls_client_auth presents
// the same client certificate, and are bounded by timeout.
func newAuthenticator(a Authentication, base *http.Transport, timeout time.Duration) (*authenticator, error) {
	auth := &authenticator{header: map[string]string{}, stop: func() {}}
	switch a.Type {
	case "", AuthNone, AuthMTLS:
	case AuthHeader:
		auth.scheme = headerScheme(a.Header.Values)
		for _, v := range a.Header.Values {
			auth.header[v.Key] = v.Value.Reveal()
		}
	case AuthBasic:
		auth.scheme = basicScheme{user: a.Basic.Username, pass: a.Basic.Password.Reveal()}
	case AuthOAuth:
		tr, err := tokenTransport(a.OAuth, base)
		if err != nil {
			return nil, fmt.Errorf("authentication oauth: %w", err)
		}
		s, stop := newOAuthScheme(a.OAuth, tr, timeout)
		auth.scheme, auth.stop = s, stop
		if tr != base {
			auth.stop = func() { stop(); tr.CloseIdleConnections() }
		}
	case AuthJWT:
		s, err := newJWTScheme(a.JWT)
		if err != nil {
			return nil, fmt.Errorf("authentication jwt: %w", err)
		}
		auth.scheme = s
	default:
		return nil, errors.New("authentication: unknown type")
	}
	return auth, nil
}

// apply authenticates req as configured, unless opt.skip.
func (a *authenticator) apply(ctx context.Context, req *http.Request, opt applyOptions) error {
	if !opt.skip && a.scheme != nil {
		if err := a.scheme.apply(ctx, req); err != nil {
			return err
		}
	}
	if opt.titleCaseBearer {
		if v := req.Header.Get("Authorization"); v != "" {
			req.Header.Set("Authorization", titleCaseBearer(v))
		}
	}
	return nil
}

// invalidate drops the credential the rejected request req carried (an OAuth token), so
// the retry fetches a new one. It is keyed on req so that many calls rejected at once
// cause one token fetch, not one each; a nil req drops the cached token unconditionally.
func (a *authenticator) invalidate(req *http.Request) {
	if a.scheme != nil {
		a.scheme.invalidate(req)
	}
}

// tokenBased reports whether a refused call deserves one retry with a fresh credential:
// only a cached OAuth token can be stale; the other schemes would send the same thing.
func (a *authenticator) tokenBased() bool {
	_, ok := a.scheme.(*oauthScheme)
	return ok
}

// headerValues are the header authentication values by key, as transforms read them in
// authentication_header. Callers must not modify the map.
func (a *authenticator) headerValues() map[string]string { return a.header }

// Close ends the token source's long-lived context.
func (a *authenticator) Close() { a.stop() }

// titleCaseBearer rewrites a value starting "bearer " (any case) to start "Bearer ".
func titleCaseBearer(v string) string {
	const p = "Bearer "
	if len(v) >= len(p) && strings.EqualFold(v[:len(p)], p) {
		return p + v[len(p):]
	}
	return v
}

type headerScheme []HeaderValue

func (h headerScheme) apply(_ context.Context, req *http.Request) error {
	for _, v := range h {
		req.Header.Set(v.Key, v.Value.Reveal())
	}
	return nil
}

func (headerScheme) invalidate(*http.Request) {}

type basicScheme struct{ user, pass string }

func (b basicScheme) apply(_ context.Context, req *http.Request) error {
	req.SetBasicAuth(b.user, b.pass)
	return nil
}

func (basicScheme) invalidate(*http.Request) {}

// clientTLSConfig is the TLS configuration of a provider's transport: the client
// certificate for mtls and for oauth's tls_client_auth, and mtls.ca as the only trusted
// root when set (for any type). Files are read once, here.
func clientTLSConfig(a Authentication) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if a.Type == AuthMTLS || (a.Type == AuthOAuth && a.OAuth.TokenEndpointAuthMethod == TLSClientAuth) {
		cert, err := tls.LoadX509KeyPair(a.MTLS.Cert, a.MTLS.Key)
		if err != nil {
			return nil, fmt.Errorf("mtls: client certificate %s with key %s: %w", a.MTLS.Cert, a.MTLS.Key, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if a.MTLS.CA != "" {
		data, err := os.ReadFile(a.MTLS.CA)
		if err != nil {
			return nil, fmt.Errorf("mtls: ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("mtls: ca %s: no PEM certificate in it", a.MTLS.CA)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// tokenTransport is the transport of o's token endpoint calls: base, which trusts what
// the vendor's calls trust (mtls.ca, else the system roots), or, when o.CA says whom the
// token endpoint's certificate is from, a copy of base trusting that alone (the system
// roots, or the CA o.CA names), with the same client certificate for tls_client_auth.
// Trust is widened only as configured: a private CA for the vendor no longer shuts out a
// public IdP, and unset, nothing changes.
func tokenTransport(o OAuth, base *http.Transport) (*http.Transport, error) {
	if o.CA == "" || base == nil {
		return base, nil
	}
	var roots *x509.CertPool // the system roots
	if o.CA != OAuthCASystem {
		data, err := os.ReadFile(o.CA)
		if err != nil {
			return nil, fmt.Errorf("ca: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("ca %s: no PEM certificate in it", o.CA)
		}
	}
	tr := base.Clone()
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr.TLSClientConfig.RootCAs = roots
	return tr, nil
}

// oauthScheme sends a cached client-credentials token as a bearer token.
type oauthScheme struct{ tokens *tokenCache }

func newOAuthScheme(o OAuth, base *http.Transport, timeout time.Duration) (*oauthScheme, context.CancelFunc) {
	cfg := &clientcredentials.Config{
		ClientID:     o.ClientID,
		ClientSecret: o.ClientSecret.Reveal(),
		TokenURL:     o.TokenEndpoint,
		Scopes:       strings.Fields(o.Scope),
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
	switch o.TokenEndpointAuthMethod {
	case ClientSecretPost:
		cfg.AuthStyle = oauth2.AuthStyleInParams
	case TLSClientAuth:
		// RFC 8705 §2: the certificate authenticates; client_id still goes in the body.
		cfg.AuthStyle, cfg.ClientSecret = oauth2.AuthStyleInParams, ""
	}
	// The token source outlives every call, so it gets the one long-lived context; a
	// fetch is bounded by the HTTP client's timeout instead.
	ctx, cancel := context.WithCancel(context.Background())
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{
		Transport:     switchRefused{base},
		Timeout:       timeout,
		CheckRedirect: noRedirect,
	})
	window := o.Window
	if window == 0 {
		window = DefaultOAuthWindow
	}
	tc := &tokenCache{
		src:      tokenSourceFunc(func() (*oauth2.Token, error) { return sendable(cfg.Token(ctx)) }),
		window:   time.Duration(window) * time.Second,
		fallback: time.Duration(o.ExpiresIn) * time.Second,
		now:      time.Now,
	}
	return &oauthScheme{tokens: tc}, cancel
}

// errUnsendableToken is a token net/http would refuse to send: refused as its fetch's
// failure, it is neither cached for its lifetime nor sent, every call then failing as a
// network fault of the vendor, counted against its URL, that no request reached.
var errUnsendableToken = errors.New("oauth2: the token endpoint's access_token (or token_type) holds a control character: it cannot be sent in a header")

// sendable is tok, err from a fetch, or errUnsendableToken for a token whose
// Authorization value is no HTTP header value.
func sendable(tok *oauth2.Token, err error) (*oauth2.Token, error) {
	if err == nil && !httpguts.ValidHeaderFieldValue(tok.Type()+" "+tok.AccessToken) {
		return nil, errUnsendableToken
	}
	return tok, err
}

func (o *oauthScheme) apply(ctx context.Context, req *http.Request) error {
	tok, err := o.tokens.token(ctx)
	if err != nil {
		return fmt.Errorf("oauth token: %w", tokenError(err))
	}
	tok.SetAuthHeader(req)
	return nil
}

// maxTokenErrorText bounds each of a token endpoint's error fields a failure quotes.
const maxTokenErrorText = 200

// tokenError is a failed token fetch as a call's failure says it (the log, a lifecycle
// propagation's audit reason): oauth2's error quotes the token endpoint's whole body, up
// to 1 MiB, when it holds no OAuth error code (a proxy's page, a gateway's own JSON), once
// per waiting call. Its status and, bounded, its error code and description say what
// failed; the body is left out. errors.As still finds the oauth2.RetrieveError.
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return err
	}
	msg := fmt.Sprintf("oauth2: the token endpoint refused the request (%d bytes)", len(re.Body))
	if re.Response != nil {
		msg = fmt.Sprintf("oauth2: the token endpoint answered %s (%d bytes)", re.Response.Status, len(re.Body))
	}
	if re.ErrorCode != "" {
		msg += fmt.Sprintf(": error %q", provider.Printable(re.ErrorCode, maxTokenErrorText))
		if re.ErrorDescription != "" {
			msg += fmt.Sprintf(" %q", provider.Printable(re.ErrorDescription, maxTokenErrorText))
		}
	}
	return provider.Retold(err, msg)
}

func (o *oauthScheme) invalidate(req *http.Request) {
	if req == nil {
		o.tokens.invalidate("")
		return
	}
	// The scheme is the token's type as the endpoint named it (oauth2's Token.Type:
	// "Bearer", or "JWT", "Token"…), perhaps title-cased since: the token is what
	// follows it.
	if _, v, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok && v != "" {
		o.tokens.invalidate(v)
	}
}

type tokenSourceFunc func() (*oauth2.Token, error)

func (f tokenSourceFunc) Token() (*oauth2.Token, error) { return f() }

// tokenCache is an oauth2.TokenSource that keeps src's token until window before it
// expires (oauth2.ReuseTokenSource allows a fixed 10 s), assumes fallback as the lifetime
// of a token that states none, can be told to drop a rejected token, and runs one fetch
// at a time however many calls wait for it. In the window a call starts the renewal (if
// none is under way) and goes out with the token it has, without waiting: a renewal that
// fails or hangs leaves the token in use until it expires, as the window is room for a
// renewal, not the token's end. Only a call with no token, or an expired one, waits.
type tokenCache struct {
	src      oauth2.TokenSource
	window   time.Duration
	fallback time.Duration
	now      func() time.Time

	mu       sync.Mutex
	tok      *oauth2.Token
	renewAt  time.Time // zero: keep until invalidated
	expireAt time.Time // when tok expires; zero when renewAt is
	inflight *tokenFetch
}

type tokenFetch struct {
	done chan struct{}
	tok  *oauth2.Token
	err  error
}

var _ oauth2.TokenSource = (*tokenCache)(nil)

// Token implements oauth2.TokenSource.
func (c *tokenCache) Token() (*oauth2.Token, error) { return c.token(context.Background()) }

// token returns the cached token or waits for a fetch; ctx bounds the wait, not the fetch,
// so a caller giving up does not fail the others waiting for the same fetch.
func (c *tokenCache) token(ctx context.Context) (*oauth2.Token, error) {
	c.mu.Lock()
	if c.tok != nil && (c.renewAt.IsZero() || c.now().Before(c.renewAt)) {
		tok := c.tok
		c.mu.Unlock()
		return tok, nil
	}
	f := c.inflight
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		c.inflight = f
		go c.fetch(f)
	}
	if c.tok != nil && c.now().Before(c.expireAt) {
		// In the window the renewal runs behind the call: a token endpoint that hangs
		// would otherwise hold the call, whose deadline is the fetch's, until it failed
		// with a token good for up to window more.
		tok := c.tok
		c.mu.Unlock()
		return tok, nil
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (c *tokenCache) fetch(f *tokenFetch) {
	tok, err := c.src.Token()
	c.mu.Lock()
	if err == nil {
		c.tok = tok
		c.renewAt, c.expireAt = c.renewal(tok)
	}
	c.inflight = nil
	c.mu.Unlock()
	f.tok, f.err = tok, err
	close(f.done)
}

// renewal is when a token just received stops being used: window before its expiry, or
// halfway through a lifetime shorter than twice the window; and when it expires. Both
// are zero for a token kept until invalidated.
func (c *tokenCache) renewal(tok *oauth2.Token) (renewAt, expireAt time.Time) {
	now := c.now()
	var life time.Duration
	switch {
	case tok.ExpiresIn > 0:
		life = time.Duration(tok.ExpiresIn) * time.Second
	case !tok.Expiry.IsZero():
		// A form-encoded response (oauth2 set only Expiry, from the real clock), or a
		// negative expires_in.
		life = time.Until(tok.Expiry)
	}
	if life <= 0 {
		// None stated, or none that is a lifetime: a negative expires_in, or a form's so
		// large that oauth2's arithmetic wrapped it into the past. Taken as its own, such
		// a token was stale on arrival and every call fetched one.
		life = c.fallback
	}
	if life <= 0 {
		return time.Time{}, time.Time{}
	}
	return now.Add(life - min(c.window, life/2)), now.Add(life)
}

// invalidate drops the cached token if it is access, or whatever is cached if access is "".
func (c *tokenCache) invalidate(access string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != nil && (access == "" || c.tok.AccessToken == access) {
		c.tok, c.renewAt, c.expireAt = nil, time.Time{}, time.Time{}
	}
}

// jwtScheme signs a fresh JWT for every call.
type jwtScheme struct {
	signer   jose.Signer
	name     string
	prefix   string
	claims   map[string]any // everything but the per-call claims
	lifetime time.Duration
	now      func() time.Time
}

func newJWTScheme(j JWT) (*jwtScheme, error) {
	if !slices.Contains(jwtAlgs, j.Alg) {
		return nil, errors.New("alg: not supported")
	}
	alg := jose.SignatureAlgorithm(j.Alg)
	key, err := jwtKey(alg, j.Key.Reveal())
	if err != nil {
		return nil, err
	}
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if j.KeyID != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), j.KeyID)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	s := &jwtScheme{
		signer:   signer,
		name:     j.HTTPHeaderName,
		prefix:   DefaultJWTHeaderPrefix,
		claims:   maps.Clone(j.AdditionalClaims),
		lifetime: time.Duration(j.Lifetime) * time.Second,
		now:      time.Now,
	}
	if s.name == "" {
		s.name = DefaultJWTHeaderName
	}
	if j.HTTPHeaderPrefix != nil {
		s.prefix = *j.HTTPHeaderPrefix
	}
	if s.claims == nil {
		s.claims = map[string]any{}
	}
	// The configured registered claims win over additionalClaims of the same name.
	for k, v := range map[string]string{"sub": j.Sub, "iss": j.Iss, "aud": j.Aud} {
		if v != "" {
			s.claims[k] = v
		}
	}
	// Sign once now so a key too short for its algorithm fails at load, not per call.
	if _, err := s.sign(); err != nil {
		return nil, err
	}
	return s, nil
}

// jwtClockSkew backdates a JWT's nbf and iat: signed exactly now, a token was refused as
// not yet valid by a vendor whose clock ran a second behind and that allows no leeway
// (PyJWT's and node-jsonwebtoken's default; RFC 7519 §4.1.5 leaves leeway to the
// verifier). GitHub asks its apps for iat 60 s in the past for the same drift; exp is not
// moved, so a token is never valid for longer than lifetime from now.
const jwtClockSkew = 30 * time.Second

func (s *jwtScheme) sign() (string, error) {
	now := s.now()
	claims := maps.Clone(s.claims)
	claims["iat"] = jwt.NewNumericDate(now.Add(-jwtClockSkew))
	claims["nbf"] = jwt.NewNumericDate(now.Add(-jwtClockSkew))
	claims["exp"] = jwt.NewNumericDate(now.Add(s.lifetime))
	claims["jti"] = rand.Text()
	tok, err := jwt.Signed(s.signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return tok, nil
}

func (s *jwtScheme) apply(_ context.Context, req *http.Request) error {
	tok, err := s.sign()
	if err != nil {
		return fmt.Errorf("authentication jwt: %w", err)
	}
	req.Header.Set(s.name, s.prefix+tok)
	return nil
}

func (*jwtScheme) invalidate(*http.Request) {}

// jwtKey is the signing key for alg: the secret's bytes for HS*, else a PEM private key
// given inline or as a file path, of the type and size alg needs.
func jwtKey(alg jose.SignatureAlgorithm, secret string) (any, error) {
	family := string(alg[:min(2, len(alg))])
	if family == "HS" {
		// RFC 7518 §3.2: a key at least as long as the hash, which go-jose enforces only
		// when it signs, at serve; the secret's length is not said.
		if want := map[jose.SignatureAlgorithm]int{jose.HS256: 32, jose.HS384: 48, jose.HS512: 64}[alg]; len(secret) < want {
			return nil, fmt.Errorf("key: an %s secret must be at least %d bytes (RFC 7518 §3.2)", alg, want)
		}
		return []byte(secret), nil
	}
	data := []byte(secret)
	if !strings.HasPrefix(strings.TrimSpace(secret), "-----BEGIN") {
		var err error
		if data, err = os.ReadFile(secret); err != nil {
			// The path is not secret, but a mistyped inline key would be; keep both out.
			return nil, errors.New("key: neither PEM text nor a readable file")
		}
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("key: no PEM block")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("key: PEM block %q is not an unencrypted private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if family != "RS" && family != "PS" {
			return nil, fmt.Errorf("key: an RSA key cannot sign %s", alg)
		}
	case *ecdsa.PrivateKey:
		want := map[jose.SignatureAlgorithm]elliptic.Curve{
			jose.ES256: elliptic.P256(), jose.ES384: elliptic.P384(), jose.ES512: elliptic.P521(),
		}[alg]
		if want == nil || k.Curve != want {
			return nil, fmt.Errorf("key: an EC key on %s cannot sign %s", k.Curve.Params().Name, alg)
		}
	default:
		return nil, fmt.Errorf("key: %T keys are not supported", key)
	}
	return key, nil
}
