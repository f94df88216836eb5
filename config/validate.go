package config

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emfa/emfa/internal/suggest"
)

// FieldError is one problem at one configuration path.
type FieldError struct {
	Path string
	Msg  string
	// Key is the unknown key a problem at Path is about, whose own line is the one to show.
	Key string
	// Meant is the documented key nearest to Key, the one it was probably meant for: the
	// problem of that key left unset is this one (reported).
	Meant string
	// File and Line say where in which file (Config.Annotate sets them); 0: no line.
	File string
	Line int
	// Vars are the ${NAME} variables the value at Path was made of: with the embedded
	// default, or a file that only refers to them, they are what the operator sets.
	Vars []string
	// follows is the path this problem follows from when that path has a problem of its
	// own (a provider's remote section refused for its engine, when the engine was
	// misspelt): the load then says only that one.
	follows string
}

// Error reads `emfa.yaml:14: server.auth.basic: unknown key "pasword"`.
func (e *FieldError) Error() string {
	path := e.Path
	if len(e.Vars) > 0 {
		refs := make([]string, len(e.Vars))
		for i, v := range e.Vars {
			refs[i] = "${" + v + "}"
		}
		path += " (from " + strings.Join(refs, ", ") + ")"
	}
	msg := path + ": " + e.Msg
	if e.Path == "" {
		msg = e.Msg
	}
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, msg)
	case e.File != "":
		return e.File + ": " + msg
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, msg)
	}
	return msg
}

// Errors is every problem found in a configuration, in document order.
type Errors []error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find a FieldError inside.
func (es Errors) Unwrap() []error { return es }

// Engines emfa knows.
const (
	EngineBuiltin = "builtin"
	EngineRemote  = "remote"
)

// Storage drivers emfa knows.
var storageDrivers = []string{"sqlite", "postgres"}

// Defaults applied to unset keys.
const (
	DefaultListen          = "127.0.0.1:8080"
	DefaultRequestTimeout  = 10 * time.Second
	DefaultMaxBodyBytes    = 64 << 10
	DefaultShutdownTimeout = 15 * time.Second
	DefaultChallengeLife   = 5 * time.Minute
	DefaultAuditRetention  = 90 * 24 * time.Hour
	DefaultIdempotencyTTL  = 10 * time.Minute
)

func (c *Config) applyDefaults() {
	s := &c.Server
	s.Listen = cmpOr(s.Listen, DefaultListen)
	s.RequestTimeout = cmpOr(s.RequestTimeout, DefaultRequestTimeout)
	s.MaxBodyBytes = cmpOr(s.MaxBodyBytes, DefaultMaxBodyBytes)
	s.ShutdownTimeout = cmpOr(s.ShutdownTimeout, DefaultShutdownTimeout)
	s.Idempotency.TTL = cmpOr(s.Idempotency.TTL, DefaultIdempotencyTTL)
	c.Storage.Driver = cmpOr(c.Storage.Driver, "sqlite")
	if c.Storage.AuditRetention == nil {
		c.Storage.AuditRetention = new(DefaultAuditRetention)
	}
	c.applyInboundDefaults()
	c.Log.Level = cmpOr(c.Log.Level, "info")
	c.Log.Format = cmpOr(c.Log.Format, "json")
	for name, d := range c.Delivery {
		d.Type = strings.ToLower(d.Type)
		d.Timeout = cmpOr(d.Timeout, 10*time.Second)
		if d.Type == DeliverySMTP {
			d.TLS = strings.ToLower(cmpOr(d.TLS, "starttls"))
			if d.Port == 0 {
				d.Port = map[string]int{"none": 25, "starttls": 587, "tls": 465}[d.TLS]
			}
		}
		if d.Type == DeliveryHTTP {
			d.Method = strings.ToUpper(cmpOr(d.Method, "POST"))
		}
		c.Delivery[name] = d
	}
	for i := range c.Providers {
		p := &c.Providers[i]
		p.Engine = cmpOr(p.Engine, EngineBuiltin)
		p.ChallengeLifetime = cmpOr(p.ChallengeLifetime, DefaultChallengeLife)
	}
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

var (
	prefixRE     = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	headerNameRE = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// Validate checks the whole configuration and returns Errors listing every problem, or
// nil. It appends non-fatal findings to c.Warnings.
func (c *Config) Validate() error {
	var errs Errors
	add := func(path, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}

	if msg := checkListen(c.Server.Listen); msg != "" {
		add("server.listen", "%s", msg)
	}
	between := func(path string, d, lo, hi time.Duration) {
		if d < lo || d > hi {
			add(path, "must be between %s and %s, not %s", lo, hi, d)
		}
	}
	between("server.requestTimeout", c.Server.RequestTimeout, 100*time.Millisecond, 5*time.Minute)
	between("server.shutdownTimeout", c.Server.ShutdownTimeout, time.Second, 10*time.Minute)
	if c.Server.MaxBodyBytes < 0 {
		add("server.maxBodyBytes", "must not be negative")
	}
	if ttl := c.Server.Idempotency.TTL; ttl < MinIdempotencyTTL(c.Server.RequestTimeout) {
		add("server.idempotency.ttl", "%v is shorter than twice server.requestTimeout (%v) and the %v an answer may take to be recorded after it: "+
			"a retry could outlive the answer kept for it", ttl, c.Server.RequestTimeout, IdempotencyWriteGrace)
	} else if ttl > 7*24*time.Hour {
		add("server.idempotency.ttl", "must be at most 168h (Verify retries within minutes), not %s", ttl)
	}
	a := c.Server.Auth
	if a.Basic != nil {
		if a.Basic.Username == "" {
			add("server.auth.basic.username", "must not be empty")
		} else if strings.Contains(a.Basic.Username, ":") {
			add("server.auth.basic.username", "must not contain ':'")
		}
		if a.Basic.Password == "" {
			add("server.auth.basic.password", "must not be empty")
		}
	}
	if a.Header != nil {
		if a.Header.Name == "" {
			add("server.auth.header.name", "must not be empty")
		} else if !headerNameRE.MatchString(a.Header.Name) {
			add("server.auth.header.name", "not an HTTP header name")
		}
		if a.Header.Value == "" {
			add("server.auth.header.value", "must not be empty")
		}
	}
	c.validateInbound(add) // oauth, mtls, tls: inbound.go
	switch {
	case !a.hasInboundMethod() && !a.AllowAnonymous:
		add("server.auth", "no inbound authentication configured: set basic, header, oauth or mtls (or allowAnonymous: true for local experiments)")
	case a.AllowAnonymous && !a.hasInboundMethod():
		c.Warnings = append(c.Warnings, "server.auth.allowAnonymous is true: anyone who reaches emfa can query enrollments and validate codes")
	case a.AllowAnonymous:
		add("server.auth.allowAnonymous", "must not be combined with another authentication method")
	}

	if !slices.Contains(storageDrivers, c.Storage.Driver) {
		add("storage.driver", "unknown driver (want one of %s)", strings.Join(storageDrivers, ", "))
	}
	if c.Storage.DSN == "" {
		add("storage.dsn", "must not be empty")
	}
	if c.Storage.EncryptionKey == "" {
		add("storage.encryptionKey", "must be set: base64 of 32 random bytes (e.g. `openssl rand -base64 32`)")
	} else if _, err := DecodeKey(c.Storage.EncryptionKey); err != nil {
		add("storage.encryptionKey", "%v", err)
	}
	if r := c.Storage.AuditRetention; r != nil && *r != 0 && *r < time.Hour {
		add("storage.auditRetention", "must be 0 (keep forever) or at least 1h, not %s", *r)
	}
	if n := c.Storage.MaxConnections; n < 0 || n > 1000 {
		add("storage.maxConnections", "must be between 0 (the default) and 1000, not %d", n)
	}
	for i, k := range c.Storage.PreviousEncryptionKeys {
		if _, err := DecodeKey(k); err != nil {
			add(fmt.Sprintf("storage.previousEncryptionKeys[%d]", i), "%v", err)
		}
	}

	if !slices.Contains([]string{"debug", "info", "warn", "error"}, strings.ToLower(c.Log.Level)) {
		add("log.level", "unknown level (want debug, info, warn or error)")
	}
	if !slices.Contains([]string{"json", "text"}, strings.ToLower(c.Log.Format)) {
		add("log.format", "unknown format (want json or text)")
	}

	c.validateAdmin(add)
	c.warnExposed() // admin.go
	c.validateTelemetry(add)
	c.validateSync(add)
	c.validateSelfService(add)

	if len(c.Providers) == 0 {
		add("providers", "at least one provider is required")
	}
	prefixes := map[string]int{}
	for i, p := range c.Providers {
		at := fmt.Sprintf("providers[%d]", i)
		if strings.TrimSpace(p.Name) == "" {
			add(at+".name", "must not be empty")
		}
		switch {
		case p.CredentialPrefix == "":
			add(at+".credentialPrefix", "must not be empty")
		case strings.Contains(p.CredentialPrefix, ":"):
			add(at+".credentialPrefix", "must not contain ':'")
		case !prefixRE.MatchString(p.CredentialPrefix):
			add(at+".credentialPrefix", "may contain only letters, digits, '-' and '_' (it is part of a URL path)")
		}
		if p.CredentialPrefix != "" {
			if j, dup := prefixes[strings.ToLower(p.CredentialPrefix)]; dup {
				add(at+".credentialPrefix", "duplicates providers[%d]", j)
			} else {
				prefixes[strings.ToLower(p.CredentialPrefix)] = i
			}
		}
		if len(p.Capabilities) == 0 {
			add(at+".capabilities", "must list at least one capability")
		}
		seen := map[string]int{}
		for j, capName := range p.Capabilities {
			cat := fmt.Sprintf("%s.capabilities[%d]", at, j)
			if strings.TrimSpace(capName) == "" {
				add(cat, "must not be empty")
				continue
			}
			if strings.Contains(capName, ":") {
				add(cat, "must not contain ':'")
			}
			if k, dup := seen[strings.ToLower(capName)]; dup {
				add(cat, "duplicates capabilities[%d]", k)
			}
			seen[strings.ToLower(capName)] = j
		}
		if p.ChallengeLifetime < time.Second || p.ChallengeLifetime > time.Hour {
			add(at+".challengeLifetime", "must be between 1s and 1h, not %s", p.ChallengeLifetime)
		}
		// A section refused for the engine follows from the engine's own problem, when it
		// has one (engin: remote, the engine then the default): that one is said alone.
		forEngine := func(path, msg string) {
			errs = append(errs, &FieldError{Path: path, Msg: msg, follows: at + ".engine"})
		}
		switch p.Engine {
		case EngineBuiltin:
			// The builtin section is decoded and validated by the builtin engine, each
			// factor type its own (emfa check reports both).
			if p.Remote != nil {
				forEngine(at+".remote", "only a remote engine takes a remote section")
			}
		case EngineRemote:
			// The webhook itself is decoded and validated by the remote engine (emfa check
			// reports both); here only its presence.
			if len(p.Remote) == 0 {
				forEngine(at+".remote", "a remote engine needs a remote section: a Verify webhook, or webhookFile")
			}
			if p.Builtin != nil {
				forEngine(at+".builtin", "only a builtin engine takes a builtin section")
			}
		default:
			// The engine the value was probably meant to be; the value itself is not
			// repeated (a string: it may be a secret in the wrong place).
			if meant := suggest.Nearest(p.Engine, []string{EngineBuiltin, EngineRemote}); meant != "" {
				add(at+".engine", "unknown engine: did you mean %q? (want %s or %s)", meant, EngineBuiltin, EngineRemote)
			} else {
				add(at+".engine", "unknown engine (want %s or %s)", EngineBuiltin, EngineRemote)
			}
		}
	}
	c.validateDelivery(add)
	c.validateSecurity(add)
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// validateDelivery checks each sender's fields for its type.
func (c *Config) validateDelivery(add func(path, format string, args ...any)) {
	for _, name := range slices.Sorted(maps.Keys(c.Delivery)) {
		d, at := c.Delivery[name], "delivery."+name
		need := func(field, value string) {
			if strings.TrimSpace(value) == "" {
				add(at+"."+field, "is required for a %s sender", d.Type)
			}
		}
		if d.Timeout < 100*time.Millisecond || d.Timeout > 2*time.Minute {
			add(at+".timeout", "must be between 100ms and 2m0s, not %s", d.Timeout)
		}
		switch d.Type {
		case DeliverySMTP:
			need("host", d.Host)
			need("from", d.From)
			if !slices.Contains([]string{"none", "starttls", "tls"}, d.TLS) {
				add(at+".tls", "unknown mode (want none, starttls or tls)")
			}
			if d.Port < 1 || d.Port > 65535 {
				add(at+".port", "must be a TCP port, not %d", d.Port)
			}
		case DeliveryTwilio:
			need("accountSid", d.AccountSID)
			need("authToken", d.AuthToken.Reveal())
			need("from", d.From)
		case DeliveryHTTP:
			need("url", d.URL)
			need("body", d.Body)
		case DeliveryLog:
		default:
			add(at+".type", "unknown sender type (want smtp, twilio, http or log)")
		}
	}
}

// deliveryNamed finds a sender by name, case-insensitively (viper lower-cases map keys).
func (c *Config) deliveryNamed(name string) (Delivery, bool) {
	for k, d := range c.Delivery {
		if strings.EqualFold(k, name) {
			return d, true
		}
	}
	return Delivery{}, false
}

// DeliveryNamed is the sender a factor names.
func (c *Config) DeliveryNamed(name string) (Delivery, bool) { return c.deliveryNamed(name) }

// NoSender says that name, a sender's that DeliveryNamed did not find, is none under
// delivery, and the one it was probably meant to be, as an unknown key is said.
func (c *Config) NoSender(name string) string {
	msg := "no such sender under delivery"
	if near := suggest.Nearest(name, slices.Sorted(maps.Keys(c.Delivery))); near != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", near)
	}
	return msg
}

// DecodeKey decodes an encryption key: base64 (standard or URL alphabet, padded or not) of
// exactly 32 bytes.
func DecodeKey(s Secret) ([]byte, error) {
	raw := strings.TrimSpace(s.Reveal())
	// What to write, in every refusal: a count of bytes alone did not say it, and 64 hex
	// digits (`openssl rand -hex 32`) read as base64 are 48 bytes the operator never wrote.
	const want = ": write base64 of 32 random bytes (openssl rand -base64 32)"
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(raw); err == nil {
			if len(key) != 32 {
				hex := ""
				if len(raw) == 64 && strings.Trim(strings.ToLower(raw), "0123456789abcdef") == "" {
					hex = "; these are 64 hex digits, which are not read as hex"
				}
				return nil, fmt.Errorf("malformed key: decodes to %d bytes, want 32%s%s", len(key), want, hex)
			}
			return key, nil
		}
	}
	return nil, fmt.Errorf("malformed key: not base64%s", want)
}

// checkListen explains what is wrong with a listen address, or returns "". It does not
// quote the address: a string slot may hold a secret pasted in the wrong place.
func checkListen(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "not host:port (e.g. 127.0.0.1:8080)"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "the port is not a number from 0 to 65535"
	}
	if host != "" && net.ParseIP(host) == nil && !hostnameRE.MatchString(host) {
		return "the host is neither an IP address nor a host name"
	}
	return ""
}

var hostnameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

// IdempotencyWriteGrace is the time an attempt has after its request deadline to record
// its answer: provider.WriteGrace, which a provider test checks it equals (config imports
// no other package of emfa's).
const IdempotencyWriteGrace = 2 * time.Second

// MinIdempotencyTTL is the shortest server.idempotency.ttl for requestTimeout. A record
// expires ttl after its claim, and an answer is recorded at the latest requestTimeout and
// the write grace after it; Verify's retry of that answer may come up to a request
// deadline later, and must find it. Twice requestTimeout, as before, left an answer
// recorded in the grace a second or none (a second code sent, a validation refused as a
// replay); moving each record's expiry when its answer came instead cost every idempotent
// call a write to the expiry's index.
func MinIdempotencyTTL(requestTimeout time.Duration) time.Duration {
	return 2*requestTimeout + IdempotencyWriteGrace
}
