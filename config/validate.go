package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"
)

// FieldError is one problem at one configuration path.
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string { return e.Path + ": " + e.Msg }

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

// BuiltinCapabilities are the factor types the built-in engine serves. A provider's
// capability names them case-insensitively (an operator may call it "TOTP").
var BuiltinCapabilities = []string{"totp"}

// Storage drivers emfa knows.
var storageDrivers = []string{"sqlite", "postgres"}

// Defaults applied to unset keys.
const (
	DefaultListen          = "127.0.0.1:8080"
	DefaultRequestTimeout  = 10 * time.Second
	DefaultMaxBodyBytes    = 64 << 10
	DefaultShutdownTimeout = 15 * time.Second
	DefaultMaxFailures     = 10
	DefaultTOTPWindow      = 1
	DefaultChallengeLife   = 5 * time.Minute
	DefaultLockoutDuration = 15 * time.Minute
)

func (c *Config) applyDefaults() {
	s := &c.Server
	s.Listen = cmpOr(s.Listen, DefaultListen)
	s.RequestTimeout = cmpOr(s.RequestTimeout, DefaultRequestTimeout)
	s.MaxBodyBytes = cmpOr(s.MaxBodyBytes, DefaultMaxBodyBytes)
	s.ShutdownTimeout = cmpOr(s.ShutdownTimeout, DefaultShutdownTimeout)
	c.Storage.Driver = cmpOr(c.Storage.Driver, "sqlite")
	c.Log.Level = cmpOr(c.Log.Level, "info")
	c.Log.Format = cmpOr(c.Log.Format, "json")
	for i := range c.Providers {
		p := &c.Providers[i]
		p.Engine = cmpOr(p.Engine, EngineBuiltin)
		p.ChallengeLifetime = cmpOr(p.ChallengeLifetime, DefaultChallengeLife)
		if p.Engine == EngineBuiltin && p.Builtin == nil {
			p.Builtin = &Builtin{}
		}
		if b := p.Builtin; b != nil {
			b.TOTP.Algorithm = strings.ToUpper(cmpOr(b.TOTP.Algorithm, "SHA1"))
			b.TOTP.Digits = cmpOr(b.TOTP.Digits, 6)
			b.TOTP.Period = cmpOr(b.TOTP.Period, 30)
			b.TOTP.Issuer = cmpOr(b.TOTP.Issuer, "emfa")
			if b.TOTP.Window == nil {
				b.TOTP.Window = new(DefaultTOTPWindow)
			}
			b.Lockout.MaxFailures = cmpOr(b.Lockout.MaxFailures, DefaultMaxFailures)
			b.Lockout.Duration = cmpOr(b.Lockout.Duration, DefaultLockoutDuration)
		}
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

	if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		add("server.listen", "%q is not host:port", c.Server.Listen)
	}
	if c.Server.RequestTimeout < 0 {
		add("server.requestTimeout", "must not be negative")
	}
	if c.Server.MaxBodyBytes < 0 {
		add("server.maxBodyBytes", "must not be negative")
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
		if !headerNameRE.MatchString(a.Header.Name) {
			add("server.auth.header.name", "%q is not an HTTP header name", a.Header.Name)
		}
		if a.Header.Value == "" {
			add("server.auth.header.value", "must not be empty")
		}
	}
	switch {
	case a.Basic == nil && a.Header == nil && !a.AllowAnonymous:
		add("server.auth", "no inbound authentication configured: set basic or header (or allowAnonymous: true for local experiments)")
	case a.AllowAnonymous && a.Basic == nil && a.Header == nil:
		c.Warnings = append(c.Warnings, "server.auth.allowAnonymous is true: anyone who reaches emfa can query enrollments and validate codes")
	case a.AllowAnonymous:
		add("server.auth.allowAnonymous", "must not be combined with basic or header authentication")
	}

	if !slices.Contains(storageDrivers, c.Storage.Driver) {
		add("storage.driver", "unknown driver %q (want one of %s)", c.Storage.Driver, strings.Join(storageDrivers, ", "))
	}
	if c.Storage.DSN == "" {
		add("storage.dsn", "must not be empty")
	}
	if c.Storage.EncryptionKey == "" {
		add("storage.encryptionKey", "must be set: base64 of 32 random bytes (e.g. `openssl rand -base64 32`)")
	} else if _, err := DecodeKey(c.Storage.EncryptionKey); err != nil {
		add("storage.encryptionKey", "%v", err)
	}
	for i, k := range c.Storage.PreviousEncryptionKeys {
		if _, err := DecodeKey(k); err != nil {
			add(fmt.Sprintf("storage.previousEncryptionKeys[%d]", i), "%v", err)
		}
	}

	if !slices.Contains([]string{"debug", "info", "warn", "error"}, strings.ToLower(c.Log.Level)) {
		add("log.level", "unknown level %q (want debug, info, warn or error)", c.Log.Level)
	}
	if !slices.Contains([]string{"json", "text"}, strings.ToLower(c.Log.Format)) {
		add("log.format", "unknown format %q (want json or text)", c.Log.Format)
	}

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
			add(at+".credentialPrefix", "%q must not contain ':'", p.CredentialPrefix)
		case !prefixRE.MatchString(p.CredentialPrefix):
			add(at+".credentialPrefix", "%q may contain only letters, digits, '-' and '_' (it is part of a URL path)", p.CredentialPrefix)
		}
		if p.CredentialPrefix != "" {
			if j, dup := prefixes[strings.ToLower(p.CredentialPrefix)]; dup {
				add(at+".credentialPrefix", "%q duplicates providers[%d]", p.CredentialPrefix, j)
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
				add(cat, "%q must not contain ':'", capName)
			}
			if k, dup := seen[strings.ToLower(capName)]; dup {
				add(cat, "%q duplicates capabilities[%d]", capName, k)
			}
			seen[strings.ToLower(capName)] = j
			if p.Engine == EngineBuiltin && !containsFold(BuiltinCapabilities, capName) {
				add(cat, "the builtin engine cannot serve %q (it serves %s)", capName, strings.Join(BuiltinCapabilities, ", "))
			}
		}
		if p.ChallengeLifetime < time.Second || p.ChallengeLifetime > time.Hour {
			add(at+".challengeLifetime", "must be between 1s and 1h, not %s", p.ChallengeLifetime)
		}
		switch p.Engine {
		case EngineBuiltin:
			validateBuiltin(p.Builtin, at+".builtin", add)
			if p.Remote != nil {
				add(at+".remote", "only a remote engine takes a remote section")
			}
		case EngineRemote:
			// The webhook itself is decoded and validated by the remote engine (emfa check
			// reports both); here only its presence.
			if len(p.Remote) == 0 {
				add(at+".remote", "a remote engine needs a remote section: a Verify webhook, or webhookFile")
			}
			if p.Builtin != nil {
				add(at+".builtin", "only a builtin engine takes a builtin section")
			}
		default:
			add(at+".engine", "unknown engine %q (want %s or %s)", p.Engine, EngineBuiltin, EngineRemote)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func validateBuiltin(b *Builtin, at string, add func(path, format string, args ...any)) {
	if b == nil {
		return
	}
	t := b.TOTP
	if !slices.Contains([]string{"SHA1", "SHA256", "SHA512"}, t.Algorithm) {
		add(at+".totp.algorithm", "unknown algorithm %q (want SHA1, SHA256 or SHA512)", t.Algorithm)
	}
	if t.Digits != 6 && t.Digits != 8 {
		add(at+".totp.digits", "must be 6 or 8, not %d", t.Digits)
	}
	if t.Period < 10 || t.Period > 300 {
		add(at+".totp.period", "must be between 10 and 300 seconds, not %d", t.Period)
	}
	if t.Window != nil && (*t.Window < 0 || *t.Window > 10) {
		add(at+".totp.window", "must be between 0 and 10 steps, not %d", *t.Window)
	}
	if b.Lockout.MaxFailures < 1 || b.Lockout.MaxFailures > 100 {
		// NIST SP 800-63B: no more than 100 consecutive failed attempts.
		add(at+".lockout.maxFailures", "must be between 1 and 100, not %d", b.Lockout.MaxFailures)
	}
	if b.Lockout.Duration < time.Second {
		add(at+".lockout.duration", "must be at least 1s, not %s", b.Lockout.Duration)
	}
}

// DecodeKey decodes an encryption key: base64 (standard or URL alphabet, padded or not) of
// exactly 32 bytes.
func DecodeKey(s Secret) ([]byte, error) {
	raw := strings.TrimSpace(s.Reveal())
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(raw); err == nil {
			if len(key) != 32 {
				return nil, fmt.Errorf("malformed key: decodes to %d bytes, want 32", len(key))
			}
			return key, nil
		}
	}
	return nil, fmt.Errorf("malformed key: not base64")
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
