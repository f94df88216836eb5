package adapter

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/internal/keptfile"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// OAuth admits bearer tokens on the contract routes (Verify's "oauth" webhook
// authentication): tokens emfa issues itself at POST /oauth2/token, and/or tokens of an
// external authorization server checked against its JWKS (oauth_jwks.go).
type OAuth struct {
	// Clients, when set, serves emfa's own token endpoint for these clients; Key signs
	// its tokens and Lifetime is their expires_in (default 15 minutes).
	Clients  store.OAuthClients
	Key      *ecdsa.PrivateKey
	Lifetime time.Duration
	// JWKS, when set, also admits an external authorization server's tokens.
	JWKS *JWKS
	// Now is the clock of issue and expiry (default time.Now).
	Now func() time.Time
}

// The issuer and audience of emfa's own tokens. The audience names the contract: an
// admin API token is an opaque string looked up by hash, never a JWT, so neither kind of
// credential can open the other's routes.
const (
	tokenIssuer   = "emfa"
	tokenAudience = "emfa-contract"
)

// errTokenExpired is told apart in the log: Verify drops its cached token on the 401 and
// fetches a new one.
var errTokenExpired = errors.New("token expired")

// bearerVerifier checks one kind of bearer token.
type bearerVerifier interface {
	verify(ctx context.Context, token string) error
}

// ownTokens verifies the tokens of emfa's own endpoint.
type ownTokens struct {
	pub *ecdsa.PublicKey
	now func() time.Time
}

func (o ownTokens) verify(_ context.Context, token string) error {
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return fmt.Errorf("not a token of emfa's: %w", err)
	}
	var claims jwt.Claims
	if err := tok.Claims(o.pub, &claims); err != nil {
		return fmt.Errorf("bad signature: %w", err)
	}
	return checkClaims(claims, tokenIssuer, tokenAudience, o.now())
}

// checkClaims checks issuer, audience and lifetime, without leeway on expiry: an
// expired token answers 401 so that Verify fetches a new one at once. Its start (nbf,
// iat) has clockSkew of leeway: an authorization server whose clock is a little fast
// issues tokens that start in emfa's future, and Verify sends them at once.
func checkClaims(c jwt.Claims, issuer, audience string, now time.Time) error {
	err := c.ValidateWithLeeway(jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{audience}, Time: now}, clockSkew)
	switch {
	case err == nil && c.Expiry != nil && now.After(c.Expiry.Time()), errors.Is(err, jwt.ErrExpired):
		return errTokenExpired
	case err != nil:
		return err
	case c.Expiry == nil:
		return errors.New("token without expiry")
	}
	return nil
}

// clockSkew is how far in the future a token's nbf and iat may be.
const clockSkew = time.Minute

// tokenIssuerHandler is emfa's token endpoint: client credentials only,
// client_secret_basic or client_secret_post (RFC 6749 §4.4, §2.3.1).
type tokenIssuerHandler struct {
	clients  store.OAuthClients
	signer   jose.Signer
	lifetime time.Duration
	now      func() time.Time
}

func newTokenIssuer(o *OAuth) (*tokenIssuerHandler, error) {
	kid := keyID(&o.Key.PublicKey)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: o.Key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader(jose.HeaderKey("kid"), kid))
	if err != nil {
		return nil, fmt.Errorf("oauth signer: %w", err)
	}
	return &tokenIssuerHandler{clients: o.Clients, signer: signer, lifetime: o.Lifetime, now: o.Now}, nil
}

// oauthError is an RFC 6749 §5.2 error answer.
func oauthError(c echo.Context, status int, code, desc string) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(status, map[string]string{"error": code, "error_description": desc})
}

// token issues a token. It shares the contract's budget of failures per address, but
// checks the client's secret before the throttle, whatever server.auth.allowWeakSecrets
// says: the secret is 32 random characters emfa made (lifecycle.Manager.CreateClient),
// which cannot be guessed, so a throttled address shared with a guesser (Verify's SaaS
// egress, a proxy) still gets Verify its token, while wrong secrets from it are 429. The
// check is a SHA-256 and one store read by id, as an admin API token's is.
func (s *Server) token(c echo.Context) error {
	r := c.Request()
	// RFC 6749 §4.4.2: the parameters come form-encoded. Anything else (JSON, say) would
	// parse as an empty form and be answered as a missing grant type, which misleads.
	const formOnly = "the body must be application/x-www-form-urlencoded"
	if mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType)); err != nil || mt != echo.MIMEApplicationForm {
		return oauthError(c, http.StatusBadRequest, "invalid_request", formOnly)
	}
	if err := r.ParseForm(); err != nil {
		if isTooLarge(err) { // streamed without a Content-Length: as readBody answers it
			return &Error{Status: http.StatusRequestEntityTooLarge, ID: "body_too_large", Msg: "body too large"}
		}
		return oauthError(c, http.StatusBadRequest, "invalid_request", formOnly)
	}
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: the credentials are form-encoded before Basic encoding.
		if v, err := url.QueryUnescape(id); err == nil {
			id = v
		}
		if v, err := url.QueryUnescape(secret); err == nil {
			secret = v
		}
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if !r.PostForm.Has("grant_type") {
		return oauthError(c, http.StatusBadRequest, "invalid_request", "grant_type is missing: send grant_type=client_credentials")
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		return oauthError(c, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
	}
	if err := s.issuer.authenticateClient(c.Request().Context(), id, secret); err != nil {
		if errors.Is(err, errClientUnknown) {
			if ok, wait := s.throttle.spend(c.RealIP(), true); !ok {
				return s.throttled(c, wait)
			}
			s.authFailures.Add(1)
			// The id is the caller's own, unauthenticated: escaped and bounded as a path is.
			s.log.Warn("oauth client authentication failed", "client_id", provider.Printable(id, maxLoggedClientID),
				"remote", c.RealIP(), "reason", err.Error())
			if basic {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Basic realm="emfa"`)
			}
			return oauthError(c, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		}
		return unavailable(err)
	}
	now := s.issuer.now()
	claims := jwt.Claims{
		Issuer: tokenIssuer, Subject: id, Audience: jwt.Audience{tokenAudience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
		Expiry: jwt.NewNumericDate(now.Add(s.issuer.lifetime)), ID: randomString(16),
	}
	token, err := jwt.Signed(s.issuer.signer).Claims(claims).Serialize()
	if err != nil {
		return fmt.Errorf("sign token: %w", err)
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusOK, map[string]any{
		"access_token": token, "token_type": "Bearer", "expires_in": int(s.issuer.lifetime.Seconds()),
	})
}

// maxLoggedClientID bounds a refused client_id in a log line (emfa's own are 17 bytes).
const maxLoggedClientID = 128

var errClientUnknown = errors.New("unknown client, revoked client or wrong secret")

// authenticateClient checks a client's secret; errClientUnknown, or a store fault.
func (t *tokenIssuerHandler) authenticateClient(ctx context.Context, id, secret string) error {
	// The hash is computed whether or not the client exists: the timing does not say.
	got := sha256.Sum256([]byte(secret))
	if id == "" || secret == "" {
		return errClientUnknown
	}
	cl, err := t.clients.GetOAuthClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return errClientUnknown
	}
	if err != nil {
		return err
	}
	want, err := hex.DecodeString(cl.SecretHash)
	if err != nil || subtle.ConstantTimeCompare(got[:], want) != 1 || !cl.RevokedAt.IsZero() {
		return errClientUnknown
	}
	return nil
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// keyID names a key by its RFC 7638 thumbprint.
func keyID(pub *ecdsa.PublicKey) string {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// ParseSigningKey reads a PEM EC P-256 private key (SEC 1 or PKCS #8).
func ParseSigningKey(data []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var key any
	var err error
	if block.Type == "EC PRIVATE KEY" {
		key, err = x509.ParseECPrivateKey(block.Bytes)
	} else {
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, err
	}
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("not an EC P-256 private key")
	}
	return ec, nil
}

// emptyKeyWait is how long a signing key's file found empty is read again: the process
// that has just created it (SigningKeyFile: exclusively, then written) is writing it.
var emptyKeyWait = 2 * time.Second

// SigningKeyFile reads the token signing key kept in path, or creates it (mode 0600)
// when there is none.
func SigningKeyFile(path string) (*ecdsa.PrivateKey, error) {
	return signingKeyFile(path, true)
}

// signingKeyFile is SigningKeyFile; again says whether a file that another process made
// first (the exclusive create refused) may be read once more. Once only: a name that
// is there to create and not to read (a symbolic link to nothing) was tried again without
// end, until the stack ran out.
func signingKeyFile(path string, again bool) (*ecdsa.PrivateKey, error) {
	data, err := keptfile.Read(path, emptyKeyWait)
	if errors.Is(err, fs.ErrNotExist) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			if !again {
				return nil, fmt.Errorf("%s: there to create but not to read (a symbolic link to a file that is not there?): put the key where it points, or name the key's own file", path)
			}
			return signingKeyFile(path, false) // another process made it first
		}
		if err != nil {
			return nil, err
		}
		werr := pem.Encode(f, &pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(path) // not left empty or cut off, for every later start to refuse
			return nil, werr
		}
		return key, nil
	}
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s is empty: remove it for a new signing key to be generated (tokens signed with the old one, if any, are then refused), or write the key into it", path)
	}
	key, err := ParseSigningKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// setupOAuth adds the bearer verifiers and the token endpoint o asks for.
func (s *Server) setupOAuth(o *OAuth) error {
	if o == nil {
		return nil
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Lifetime <= 0 {
		o.Lifetime = 15 * time.Minute
	}
	if o.Clients != nil && o.Key != nil {
		iss, err := newTokenIssuer(o)
		if err != nil {
			return err
		}
		s.issuer = iss
		s.auth.bearer = append(s.auth.bearer, ownTokens{pub: &o.Key.PublicKey, now: o.Now})
	}
	if o.JWKS != nil {
		if o.JWKS.Log == nil {
			o.JWKS.Log = s.log
		}
		s.auth.bearer = append(s.auth.bearer, o.JWKS)
	}
	return nil
}
