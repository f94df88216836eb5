package config

import (
	"encoding/base64"
	"fmt"
	"maps"
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
var BuiltinCapabilities = []string{"totp", "hotp", "smsotp", "emailotp", "push", "question"}

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
	DefaultAuditRetention  = 90 * 24 * time.Hour
	DefaultLockoutDuration = 15 * time.Minute
)

func (c *Config) applyDefaults() {
	s := &c.Server
	s.Listen = cmpOr(s.Listen, DefaultListen)
	s.RequestTimeout = cmpOr(s.RequestTimeout, DefaultRequestTimeout)
	s.MaxBodyBytes = cmpOr(s.MaxBodyBytes, DefaultMaxBodyBytes)
	s.ShutdownTimeout = cmpOr(s.ShutdownTimeout, DefaultShutdownTimeout)
	c.Storage.Driver = cmpOr(c.Storage.Driver, "sqlite")
	if c.Storage.AuditRetention == nil {
		c.Storage.AuditRetention = new(DefaultAuditRetention)
	}
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
			b.HOTP.Algorithm = strings.ToUpper(cmpOr(b.HOTP.Algorithm, "SHA1"))
			b.HOTP.Digits = cmpOr(b.HOTP.Digits, 6)
			b.HOTP.Window = cmpOr(b.HOTP.Window, 10)
			b.HOTP.ResyncWindow = cmpOr(b.HOTP.ResyncWindow, 1000)
			for _, f := range []*CodeFactor{&b.SMSOTP, &b.EmailOTP} {
				f.Length = cmpOr(f.Length, 6)
				f.Lifetime = cmpOr(f.Lifetime, 5*time.Minute)
				f.MaxAttempts = cmpOr(f.MaxAttempts, 3)
				f.Template = cmpOr(f.Template, "Your sign-in code is {{code}}. It expires in {{minutes}} minutes.")
			}
			b.EmailOTP.Subject = cmpOr(b.EmailOTP.Subject, "Your sign-in code")
			if b.SendLimits.PerUser == nil {
				b.SendLimits.PerUser = []RateLimit{{Window: 30 * time.Second, Max: 1}, {Window: time.Hour, Max: 10}}
			}
			if b.SendLimits.PerDestination == nil {
				b.SendLimits.PerDestination = []RateLimit{{Window: 30 * time.Second, Max: 1}, {Window: time.Hour, Max: 10}}
			}
			b.Push.Lifetime = cmpOr(b.Push.Lifetime, 2*time.Minute)
			b.Push.ActivationLifetime = cmpOr(b.Push.ActivationLifetime, 10*time.Minute)
			if n := b.Push.Notifier; n != nil {
				n.Type = cmpOr(n.Type, "http")
				n.Timeout = cmpOr(n.Timeout, 5*time.Second)
			}
			b.Question.MaxAttempts = cmpOr(b.Question.MaxAttempts, 3)
			b.Question.Lifetime = cmpOr(b.Question.Lifetime, 5*time.Minute)
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
	if r := c.Storage.AuditRetention; r != nil && *r != 0 && *r < time.Hour {
		add("storage.auditRetention", "must be 0 (keep forever) or at least 1h, not %s", *r)
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
			c.validateBuiltinFactors(p, at, add)
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
		switch d.Type {
		case DeliverySMTP:
			need("host", d.Host)
			need("from", d.From)
			if !slices.Contains([]string{"none", "starttls", "tls"}, d.TLS) {
				add(at+".tls", "unknown mode %q (want none, starttls or tls)", d.TLS)
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
			add(at+".type", "unknown sender type %q (want smtp, twilio, http or log)", d.Type)
		}
	}
}

// validateBuiltinFactors checks that each capability a builtin provider exposes is
// configured to work: code factors name a sender able to reach their channel, questions
// are switched on.
func (c *Config) validateBuiltinFactors(p Provider, at string, add func(path, format string, args ...any)) {
	b := p.Builtin
	if b == nil {
		return
	}
	channels := map[string][]string{ // which channels a sender type serves
		DeliverySMTP: {"emailotp"}, DeliveryTwilio: {"smsotp"},
		DeliveryHTTP: {"smsotp", "emailotp"}, DeliveryLog: {"smsotp", "emailotp"},
	}
	for _, capName := range p.Capabilities {
		capName = strings.ToLower(capName)
		switch capName {
		case "smsotp", "emailotp":
			f := b.SMSOTP
			if capName == "emailotp" {
				f = b.EmailOTP
			}
			fat := at + ".builtin." + capName
			d, ok := c.deliveryNamed(f.Sender)
			switch {
			case f.Sender == "":
				add(fat+".sender", "%s needs a sender (a name under delivery)", capName)
			case !ok:
				add(fat+".sender", "no sender %q under delivery", f.Sender)
			case !slices.Contains(channels[d.Type], capName):
				add(fat+".sender", "a %s sender cannot deliver %s", d.Type, capName)
			case d.Type == DeliveryLog:
				c.Warnings = append(c.Warnings, fmt.Sprintf("%s.sender: %q is a log sender: codes are written to the log, for development only", fat, f.Sender))
			}
			if f.Length < 6 || f.Length > 10 {
				add(fat+".length", "must be between 6 and 10 digits, not %d", f.Length)
			}
			if f.Lifetime < 30*time.Second || f.Lifetime > time.Hour {
				add(fat+".lifetime", "must be between 30s and 1h, not %s", f.Lifetime)
			}
			if f.MaxAttempts < 1 || f.MaxAttempts > 10 {
				add(fat+".maxAttempts", "must be between 1 and 10, not %d", f.MaxAttempts)
			}
			if !strings.Contains(f.Template, "{{code}}") {
				add(fat+".template", "must contain {{code}}")
			}
		case "question":
			if !b.Question.Enabled {
				add(at+".builtin.question.enabled", "the question capability needs question.enabled: true (security questions are not an authenticator under NIST SP 800-63B)")
			}
		case "push":
			if n := b.Push.Notifier; n != nil {
				if n.Type != "http" {
					add(at+".builtin.push.notifier.type", "unknown notifier %q (want http)", n.Type)
				}
				if !strings.HasPrefix(n.URL, "https://") && !strings.HasPrefix(n.URL, "http://") {
					add(at+".builtin.push.notifier.url", "must be an http(s) URL")
				}
			}
			if b.Push.Lifetime < 10*time.Second || b.Push.Lifetime > 30*time.Minute {
				add(at+".builtin.push.lifetime", "must be between 10s and 30m, not %s", b.Push.Lifetime)
			}
		}
	}
	for i, l := range append(slices.Clone(b.SendLimits.PerUser), b.SendLimits.PerDestination...) {
		if l.Window <= 0 || l.Max < 1 {
			add(fmt.Sprintf("%s.builtin.sendLimits[%d]", at, i), "needs a positive window and max")
		}
	}
	h := b.HOTP
	if !slices.Contains([]string{"SHA1", "SHA256", "SHA512"}, h.Algorithm) {
		add(at+".builtin.hotp.algorithm", "unknown algorithm %q (want SHA1, SHA256 or SHA512)", h.Algorithm)
	}
	if h.Digits != 6 && h.Digits != 8 {
		add(at+".builtin.hotp.digits", "must be 6 or 8, not %d", h.Digits)
	}
	if h.Window < 1 || h.Window > 100 {
		add(at+".builtin.hotp.window", "must be between 1 and 100, not %d", h.Window)
	}
	if h.ResyncWindow < h.Window || h.ResyncWindow > 10000 {
		add(at+".builtin.hotp.resyncWindow", "must be between the window and 10000, not %d", h.ResyncWindow)
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
