// Package remote is emfa's mediating engine: it serves a provider's factors by calling a
// remote MFA vendor, configured exactly like an IBM Verify real-time webhook (urls,
// authentication, headers, resources with CEL transforms), so a Verify webhook JSON can be
// pasted in unchanged.
package remote

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider"
)

// Authentication types, spelled as Verify spells them. The empty type means none.
const (
	AuthNone   = "none"
	AuthHeader = "header"
	AuthBasic  = "basic"
	AuthOAuth  = "oauth"
	AuthMTLS   = "mtls"
	AuthJWT    = "jwt"
)

// OAuth client authentication methods at the token endpoint (RFC 6749, RFC 8705).
const (
	ClientSecretBasic = "client_secret_basic"
	ClientSecretPost  = "client_secret_post"
	TLSClientAuth     = "tls_client_auth"
)

// Defaults applied where the webhook leaves a setting unset.
const (
	DefaultTimeout          = 10 * time.Second
	DefaultMaxResponseBytes = 1 << 20
	// DefaultMaxConnsPerHost bounds the connections to one vendor host, so a slow vendor
	// cannot make emfa open sockets without limit; excess calls queue for a connection.
	DefaultMaxConnsPerHost = 256
	DefaultEjectAfter      = 3
	DefaultEjectFor        = 30 * time.Second
	DefaultOAuthWindow     = 120 // seconds
	DefaultJWTHeaderName   = "Authorization"
	DefaultJWTHeaderPrefix = "Bearer "
)

// Webhook is a Verify real-time webhook as JSON. Fields Verify has that emfa does not use
// (id, description, …) are accepted and ignored.
type Webhook struct {
	Name           string              `json:"name"`
	Type           string              `json:"type"`
	Purpose        []string            `json:"purpose"`
	URLs           []string            `json:"urls"`
	Authentication Authentication      `json:"authentication"`
	Headers        []Header            `json:"headers"`
	ExpectedStatus []int               `json:"expectedStatus"`
	Resources      map[string]Resource `json:"resources"`

	// emfa's additions; Verify has no equivalent.

	// Timeout bounds one vendor call (DefaultTimeout when unset); never beyond the
	// deadline of the call from Verify.
	Timeout Duration `json:"timeout"`
	// MaxResponseBytes caps a vendor's response body (DefaultMaxResponseBytes when unset).
	MaxResponseBytes int64 `json:"maxResponseBytes"`
	// MaxConnsPerHost caps connections to one vendor host (DefaultMaxConnsPerHost).
	MaxConnsPerHost int `json:"maxConnsPerHost"`
	// EjectAfter consecutive failures take a URL out of the rotation for EjectFor
	// (DefaultEjectAfter, DefaultEjectFor when unset).
	EjectAfter int      `json:"ejectAfter"`
	EjectFor   Duration `json:"ejectFor"`
	// Lifecycle maps a directory event type (provider.Event*: user.create, user.delete…)
	// to the calls that carry it to the vendor, in order (lifecycle.go).
	Lifecycle map[string][]LifecycleStep `json:"lifecycle"`
}

// Header is a static request header sent on every vendor call.
type Header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Resource is one named call to the vendor. Every field is optional.
type Resource struct {
	// Suffix is appended verbatim to the base URL (no slash added).
	Suffix string `json:"suffix"`
	// Method defaults to POST.
	Method string `json:"method"`
	// ExpectedStatus overrides the webhook's; both unset means 200-299.
	ExpectedStatus []int     `json:"expectedStatus"`
	Transform      Transform `json:"transform"`
}

// Transform holds a resource's CEL sources.
type Transform struct {
	Outgoing string `json:"outgoing"`
	Incoming string `json:"incoming"`
}

// Authentication is how emfa authenticates to the vendor. Only the section named by Type
// is used, except that MTLS.CA (trust for the vendor's server) applies to every type (and
// to OAuth's token endpoint unless OAuth.CA says otherwise) and MTLS.Cert/Key also serve
// OAuth's tls_client_auth.
type Authentication struct {
	Type   string     `json:"type"`
	Header HeaderAuth `json:"header"`
	Basic  BasicAuth  `json:"basic"`
	OAuth  OAuth      `json:"oauth"`
	MTLS   MTLS       `json:"mtls"`
	JWT    JWT        `json:"jwt"`
}

// HeaderAuth sends each value as a request header; transforms read them as
// authentication_header.<key>.
type HeaderAuth struct {
	Values []HeaderValue `json:"values"`
}

// HeaderValue is one authentication header. Its value is always redacted from logs:
// IBM's own DUO webhook keeps its signing key here without marking it sensitive.
type HeaderValue struct {
	Key       string        `json:"key"`
	Value     config.Secret `json:"value"`
	Sensitive bool          `json:"sensitive"`
}

// BasicAuth is HTTP Basic authentication.
type BasicAuth struct {
	Username string        `json:"username"`
	Password config.Secret `json:"password"`
}

// OAuth is an OAuth 2.0 client-credentials grant; the token is sent as a bearer token.
type OAuth struct {
	TokenEndpoint           string        `json:"token_endpoint"`
	ClientID                string        `json:"client_id"`
	ClientSecret            config.Secret `json:"client_secret"`
	TokenEndpointAuthMethod string        `json:"token_endpoint_auth_method"`
	// Scope is space separated.
	Scope string `json:"scope"`
	// ExpiresIn is the lifetime in seconds assumed when a token response has none.
	ExpiresIn int `json:"expires_in"`
	// Window is how many seconds before its expiry a token is replaced
	// (DefaultOAuthWindow when unset).
	Window int `json:"window"`
	// CA is the token endpoint's trust, when it is not the vendor's (mtls.ca, else the
	// system roots): a PEM file of the CA that signs its certificate, or OAuthCASystem
	// for the system roots, as for a vendor on a private CA whose tokens come from a
	// public IdP.
	CA string `json:"ca"`
}

// OAuthCASystem is the oauth.ca that trusts the system roots for the token endpoint.
const OAuthCASystem = "system"

// MTLS names PEM files: a client certificate and key, and optionally the CA that signs
// the vendor's server certificate (the system roots otherwise).
type MTLS struct {
	Cert string `json:"cert"`
	Key  string `json:"key"`
	CA   string `json:"ca"`
}

// JWT is a JWT signed per call. Key is the HMAC secret for HS*, or a PEM private key (a
// file path, or the PEM text itself) for RS*, PS* and ES*.
type JWT struct {
	Alg            string        `json:"alg"`
	Key            config.Secret `json:"key"`
	KeyID          string        `json:"kid"`
	HTTPHeaderName string        `json:"httpHeaderName"` // DefaultJWTHeaderName when unset
	// HTTPHeaderPrefix is a pointer so that "" (send the bare token) differs from unset
	// (DefaultJWTHeaderPrefix).
	HTTPHeaderPrefix *string        `json:"httpHeaderPrefix"`
	Sub              string         `json:"sub"`
	Iss              string         `json:"iss"`
	Aud              string         `json:"aud"`
	Lifetime         int            `json:"lifetime"` // seconds, > 60
	AdditionalClaims map[string]any `json:"additionalClaims"`
}

// jwtAlgs are the JWS algorithms emfa signs with.
var jwtAlgs = []string{
	"HS256", "HS384", "HS512",
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
}

// badHeaderValue is why a header value that could never be sent is refused; the value is
// not repeated, as it may be a secret.
const badHeaderValue = "must not hold a line break or another control character (a secret read with its trailing newline?): no request could carry it"

var methods = []string{"GET", "POST", "PUT", "DELETE", "PATCH"}

// Duration is a time.Duration written in JSON as a Go duration string ("5s", "1m30s").
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// ParseWebhook decodes a webhook from JSON. Unknown fields are allowed, as Verify's own
// exports carry fields emfa does not use. It does not validate; call Validate.
func ParseWebhook(data []byte) (*Webhook, error) {
	var w Webhook
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	return &w, nil
}

var _ slog.LogValuer = Webhook{}

// LogValue shows what identifies a webhook and never a secret.
func (w Webhook) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", w.Name),
		slog.Any("urls", w.URLs),
		slog.String("authentication", w.Authentication.kind()),
	)
}

// kind is the authentication type with "" folded into "none".
func (a Authentication) kind() string {
	if a.Type == "" {
		return AuthNone
	}
	return a.Type
}

// method is the resource's HTTP method, upper case, POST when unset.
func (r Resource) method() string {
	if r.Method == "" {
		return "POST"
	}
	return strings.ToUpper(r.Method)
}

// accepts reports whether a vendor status counts as an answer for resource r: r's
// expectedStatus, else the webhook's, else 200-299.
func (w *Webhook) accepts(r Resource, status int) bool {
	switch {
	case len(r.ExpectedStatus) > 0:
		return slices.Contains(r.ExpectedStatus, status)
	case len(w.ExpectedStatus) > 0:
		return slices.Contains(w.ExpectedStatus, status)
	default:
		return status >= 200 && status <= 299
	}
}

// Validate returns config.Errors listing every problem with its JSON path, or nil. It
// checks that files named by mtls exist; their contents are checked when the engine is
// provisioned.
func (w *Webhook) Validate() error {
	var errs config.Errors
	add := func(path, format string, args ...any) {
		errs = append(errs, &config.FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}

	if len(w.URLs) == 0 {
		add("urls", "at least one url is required")
	}
	for i, raw := range w.URLs {
		if err := checkURL(raw); err != nil {
			add(fmt.Sprintf("urls[%d]", i), "%v", err)
		}
	}
	for i, h := range w.Headers {
		if !httpguts.ValidHeaderFieldName(h.Key) {
			add(fmt.Sprintf("headers[%d].key", i), "not an HTTP header name")
		}
		if !httpguts.ValidHeaderFieldValue(h.Value) {
			add(fmt.Sprintf("headers[%d].value", i), badHeaderValue)
		}
	}
	checkStatuses("expectedStatus", w.ExpectedStatus, add)
	for _, name := range slices.Sorted(maps.Keys(w.Resources)) {
		r := w.Resources[name]
		at := "resources." + name
		if !calledResource(name) {
			add(at, "not a resource emfa calls: enrollments, initiate, validate, result, test, or CAPABILITY_1 / CAPABILITY_2")
		}
		if !slices.Contains(methods, r.method()) {
			add(at+".method", "not one of %s", strings.Join(methods, ", "))
		}
		checkStatuses(at+".expectedStatus", r.ExpectedStatus, add)
	}
	w.validateLifecycle(add)
	if w.Timeout < 0 {
		add("timeout", "must not be negative")
	}
	if w.MaxResponseBytes < 0 {
		add("maxResponseBytes", "must not be negative")
	}
	if w.MaxConnsPerHost < 0 {
		add("maxConnsPerHost", "must not be negative")
	}
	if w.EjectAfter < 0 {
		add("ejectAfter", "must not be negative")
	}
	if w.EjectFor < 0 {
		add("ejectFor", "must not be negative")
	}
	w.Authentication.validate("authentication", add)

	if len(errs) > 0 {
		return errs
	}
	return nil
}

// calledResource reports whether emfa ever calls a resource of this name (matched in any
// case): a contract resource, or a capability's step 1 or 2 (lookup).
func calledResource(name string) bool {
	switch n := strings.ToLower(name); n {
	case provider.ResourceEnrollments, provider.ResourceInitiate, provider.ResourceValidate, provider.ResourceResult, provider.ResourceTest:
		return true
	default:
		c, ok := strings.CutSuffix(n, "_1")
		if !ok {
			c, ok = strings.CutSuffix(n, "_2")
		}
		return ok && c != ""
	}
}

// maxSeconds is the longest lifetime in seconds a time.Duration holds (about 292 years):
// a longer one would overflow into a negative duration.
const maxSeconds = int64(math.MaxInt64 / int64(time.Second))

func (a Authentication) validate(at string, add func(path, format string, args ...any)) {
	if a.MTLS.CA != "" {
		checkCA(at+".mtls.ca", a.MTLS.CA, add)
	}
	switch a.Type {
	case "", AuthNone, AuthMTLS:
	case AuthHeader:
		if len(a.Header.Values) == 0 {
			add(at+".header.values", "at least one value is required")
		}
		for i, v := range a.Header.Values {
			if !httpguts.ValidHeaderFieldName(v.Key) {
				add(fmt.Sprintf("%s.header.values[%d].key", at, i), "not an HTTP header name")
			}
			if !httpguts.ValidHeaderFieldValue(v.Value.Reveal()) {
				add(fmt.Sprintf("%s.header.values[%d].value", at, i), badHeaderValue)
			}
		}
	case AuthBasic:
		if a.Basic.Username == "" {
			add(at+".basic.username", "must not be empty")
		} else if strings.Contains(a.Basic.Username, ":") {
			add(at+".basic.username", "must not contain ':'")
		}
	case AuthOAuth:
		o := a.OAuth
		if o.TokenEndpoint == "" {
			add(at+".oauth.token_endpoint", "must not be empty")
		} else if err := checkURL(o.TokenEndpoint); err != nil {
			add(at+".oauth.token_endpoint", "%v", err)
		}
		if o.ClientID == "" {
			add(at+".oauth.client_id", "must not be empty")
		}
		switch o.TokenEndpointAuthMethod {
		case "", ClientSecretBasic, ClientSecretPost:
		case TLSClientAuth:
			// RFC 8705: the client certificate is the credential; it comes from mtls.
			if a.MTLS.Cert == "" || a.MTLS.Key == "" {
				add(at+".mtls", "tls_client_auth needs mtls.cert and mtls.key")
			}
		default:
			add(at+".oauth.token_endpoint_auth_method", "not one of %s, %s, %s",
				ClientSecretBasic, ClientSecretPost, TLSClientAuth)
		}
		if o.CA != "" && o.CA != OAuthCASystem {
			checkCA(at+".oauth.ca", o.CA, add)
		}
		if o.ExpiresIn < 0 {
			add(at+".oauth.expires_in", "must not be negative")
		} else if int64(o.ExpiresIn) > maxSeconds {
			add(at+".oauth.expires_in", "must be at most %d seconds, not %d", maxSeconds, o.ExpiresIn)
		}
		if o.Window < 0 {
			add(at+".oauth.window", "must not be negative")
		}
	case AuthJWT:
		j := a.JWT
		if !slices.Contains(jwtAlgs, j.Alg) {
			add(at+".jwt.alg", "not one of %s", strings.Join(jwtAlgs, ", "))
		}
		if j.Key == "" {
			add(at+".jwt.key", "must not be empty")
		} else if slices.Contains(jwtAlgs, j.Alg) {
			// Read, and a token signed with it, as the engine will at start, so check
			// finds what serve would refuse.
			if _, err := newJWTScheme(j); err != nil {
				add(at+".jwt.key", "%s", strings.TrimPrefix(err.Error(), "key: "))
			}
		}
		if j.Lifetime <= 60 || int64(j.Lifetime) > maxSeconds {
			add(at+".jwt.lifetime", "must be more than 60 seconds and at most %d, not %d", maxSeconds, j.Lifetime)
		}
		if j.HTTPHeaderName != "" && !httpguts.ValidHeaderFieldName(j.HTTPHeaderName) {
			add(at+".jwt.httpHeaderName", "not an HTTP header name")
		}
		// net/http would refuse every call's header (a YAML block scalar ends in a line
		// break), each call a network fault counted against its URL.
		if j.HTTPHeaderPrefix != nil && !httpguts.ValidHeaderFieldValue(*j.HTTPHeaderPrefix) {
			add(at+".jwt.httpHeaderPrefix", "holds a control character (a line break?)")
		}
	default:
		add(at+".type", "unknown type (want header, basic, oauth, mtls, jwt or none)")
	}
	if a.Type == AuthMTLS || (a.Type == AuthOAuth && a.OAuth.TokenEndpointAuthMethod == TLSClientAuth) {
		ok := checkFile(at+".mtls.cert", a.MTLS.Cert, add)
		if checkFile(at+".mtls.key", a.MTLS.Key, add) && ok {
			// Loaded as the engine will at start, so check finds what serve would refuse.
			if _, err := tls.LoadX509KeyPair(a.MTLS.Cert, a.MTLS.Key); err != nil {
				add(at+".mtls.cert", "with key %s: %v", a.MTLS.Key, err)
			}
		}
	}
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a url")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("not an absolute http or https url")
	}
	if u.Scheme == "http" && !config.LoopbackHost(u.Hostname()) {
		// What goes there is a vendor's credentials, a token's client secret, a user's
		// passcode: over plain HTTP, anyone on the network path reads it.
		return errors.New("want https (http only to a loopback host, such as a TLS-terminating sidecar)")
	}
	return nil
}

func checkStatuses(at string, codes []int, add func(path, format string, args ...any)) {
	for i, c := range codes {
		if c < 100 || c > 599 {
			add(fmt.Sprintf("%s[%d]", at, i), "%d is outside 100-599", c)
		}
	}
}

// checkFile reports whether path names a file, and why not.
// checkCA checks that path is a PEM file holding a certificate, as a CA to trust.
func checkCA(at, path string, add func(path, format string, args ...any)) {
	if !checkFile(at, path, add) {
		return
	}
	if data, err := os.ReadFile(path); err != nil {
		add(at, "%v", err)
	} else if !x509.NewCertPool().AppendCertsFromPEM(data) {
		add(at, "no PEM certificate in %s", path)
	}
}

func checkFile(at, path string, add func(path, format string, args ...any)) bool {
	if path == "" {
		add(at, "a PEM file is required")
		return false
	}
	if _, err := os.Stat(path); err != nil {
		add(at, "%v", err)
		return false
	}
	return true
}
