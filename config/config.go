// Package config is emfa's typed configuration: the structs an operator's YAML decodes
// into, loading (YAML read with its line numbers, ${ENV} expansion, EMFA_* overrides),
// defaults and validation that reports every problem at once, each with its file, line
// and path. A loaded *Config is a snapshot: nothing
// mutates it after Load returns, and no request path reads the file.
//
// config imports no other emfa package; it is data and validation only.
package config

import (
	"encoding/json"
	"log/slog"
	"time"
)

// Config is the whole configuration of one emfa process.
type Config struct {
	Server    Server     `mapstructure:"server"`
	Storage   Storage    `mapstructure:"storage"`
	Log       Log        `mapstructure:"log"`
	Providers []Provider `mapstructure:"providers"`
	// Delivery are the senders of SMS, e-mail and voice codes, by name; builtin factors
	// refer to them (smsotp.sender).
	Delivery map[string]Delivery `mapstructure:"delivery"`
	// Admin is the admin API; Lifecycle its factors' activation (admin.go).
	Admin     Admin     `mapstructure:"admin"`
	Lifecycle Lifecycle `mapstructure:"lifecycle"`
	// Metrics and Tracing are the operator's telemetry (telemetry.go).
	Metrics Metrics `mapstructure:"metrics"`
	Tracing Tracing `mapstructure:"tracing"`
	// Sync is directory sync: SCIM, Okta event hooks, Verify notifications, Auth0 (sync.go).
	Sync Sync `mapstructure:"sync"`
	// SelfService is the page where users enroll and manage their factors (selfservice.go).
	SelfService SelfService `mapstructure:"selfService"`

	// Warnings are non-fatal findings of validation (e.g. anonymous access), for the
	// operator's eyes at start-up and in `emfa check`.
	Warnings []string `mapstructure:"-"`
	// Source names where the configuration came from (a path, or "embedded default").
	Source string `mapstructure:"-"`

	lines map[string]int // the YAML line of each path, lower-cased
	unset []string       // paths whose ${NAME} was unset (UnsetIsWarning)
	// overrides are the EMFA_* variables that set a key: a problem there is theirs.
	overrides []envKey
	// from names the ${NAME} variables each value (by lower-cased path) was made of.
	from map[string][]string
	// unsetWarnings become Warnings once the file's name is known.
	unsetWarnings []*FieldError
	// problems are those Inspect found loading the file (Problems): none for a Config
	// that loaded.
	problems Errors
}

// Server configures emfa's HTTP listener toward IBM Verify.
type Server struct {
	Listen string `mapstructure:"listen"`
	Auth   Auth   `mapstructure:"auth"`
	// RequestTimeout bounds every contract call; Verify blocks a login on it.
	RequestTimeout  time.Duration `mapstructure:"requestTimeout"`
	MaxBodyBytes    int64         `mapstructure:"maxBodyBytes"`
	ShutdownTimeout time.Duration `mapstructure:"shutdownTimeout"`
	// TrustedProxies are the addresses (CIDR ranges) whose X-Forwarded-For names the
	// client in logs; default none: the socket's peer is logged.
	TrustedProxies []string `mapstructure:"trustedProxies"`
	// Idempotency keeps the answers to calls Verify may retry (X-Webhook-ID).
	Idempotency Idempotency `mapstructure:"idempotency"`
	// TLS, when set, serves HTTPS (and client certificates) on Listen (inbound.go).
	TLS *TLS `mapstructure:"tls"`
}

// Idempotency configures how long the answer to an initiate, validate or result that came
// with an X-Webhook-ID is kept, so that Verify's retry gets it again instead of a second
// execution (verify-contract.md §12).
type Idempotency struct {
	// TTL: default 10 minutes; at least twice server.requestTimeout.
	TTL time.Duration `mapstructure:"ttl"`
}

// Auth is how IBM Verify authenticates to emfa. Any configured method admits a call.
type Auth struct {
	Basic  *BasicAuth  `mapstructure:"basic"`
	Header *HeaderAuth `mapstructure:"header"`
	// OAuth admits bearer tokens; MTLS client certificates (inbound.go).
	OAuth *OAuthAuth `mapstructure:"oauth"`
	MTLS  *MTLSAuth  `mapstructure:"mtls"`
	// AllowAnonymous switches inbound authentication off. For local experiments only.
	AllowAnonymous bool `mapstructure:"allowAnonymous"`
	// AllowWeakSecrets accepts inbound secrets shorter than MinSecretChars (tests only).
	AllowWeakSecrets bool `mapstructure:"allowWeakSecrets"`
}

// BasicAuth is HTTP Basic authentication (Verify's "basic" webhook authentication).
type BasicAuth struct {
	Username string `mapstructure:"username"`
	Password Secret `mapstructure:"password"`
}

// HeaderAuth is a static secret header (Verify's "header" webhook authentication).
type HeaderAuth struct {
	Name  string `mapstructure:"name"`
	Value Secret `mapstructure:"value"`
}

// Storage selects and configures the persistence backend.
type Storage struct {
	Driver string `mapstructure:"driver"` // sqlite or postgres
	DSN    Secret `mapstructure:"dsn"`    // may carry a database password
	// EncryptionKey seals factor secrets at rest: base64 of 32 bytes (AES-256-GCM).
	EncryptionKey Secret `mapstructure:"encryptionKey"`
	// PreviousEncryptionKeys still decrypt secrets sealed before a key rotation.
	PreviousEncryptionKeys []Secret `mapstructure:"previousEncryptionKeys"`
	// AuditRetention is how long audit events are kept; unset means 90 days, 0 forever.
	AuditRetention *time.Duration `mapstructure:"auditRetention"`
	// MaxConnections bounds the database connections: PostgreSQL's pool (every decision
	// holds one until its commit returns, so it bounds the commits in flight that the
	// server can flush together), SQLite's readers (writes always go through one
	// connection). 0: the backend's default.
	MaxConnections int `mapstructure:"maxConnections"`
	// AllowNewerSchema starts on a database whose schema a newer emfa migrated (a
	// rollback across migrations that only add), with a warning; without it emfa refuses.
	AllowNewerSchema bool `mapstructure:"allowNewerSchema"`
}

// Log configures the process log.
type Log struct {
	Level  string `mapstructure:"level"`  // debug, info, warn, error
	Format string `mapstructure:"format"` // json or text
}

// Provider is one external-MFA provider as IBM Verify sees it, served under
// /v1/providers/{credentialPrefix}.
type Provider struct {
	Name             string   `mapstructure:"name"`
	Description      string   `mapstructure:"description"`
	CredentialPrefix string   `mapstructure:"credentialPrefix"`
	Enabled          *bool    `mapstructure:"enabled"` // default true
	Capabilities     []string `mapstructure:"capabilities"`
	Engine           string   `mapstructure:"engine"` // builtin or remote
	// Builtin is the builtin engine's section: its own settings (lockout, sendLimits,
	// maxFactorsPerUser) and one section per factor type (totp, smsotp…). Like Remote it
	// is kept as a generic tree, which the builtin engine decodes (with Decode) and
	// validates: each factor type owns its settings, so a new type needs nothing here.
	Builtin map[string]any `mapstructure:"builtin"`
	// Remote is the remote engine's section: an IBM Verify real-time webhook (urls,
	// authentication, headers, resources with CEL transforms) as YAML, or
	// {webhookFile: F, values: {placeholder: value}} naming a Verify webhook JSON used
	// verbatim. It is kept as a generic tree with the keys' case intact (resource names
	// and JWT claims are case-sensitive); the remote engine decodes and validates it.
	Remote map[string]any `mapstructure:"remote"`
	// ChallengeLifetime bounds a challenge the engine starts (push, SMS...): past it a
	// result is TIMEOUT whatever the backend says. Default 5m.
	ChallengeLifetime time.Duration `mapstructure:"challengeLifetime"`
	// Policy restricts capabilities to users: capability → a CEL expression over `user`
	// (name, groups, email, phone, displayName, attributes, disabled), e.g.
	// smsotp: '"sms-allowed" in user.groups'. Compiled at start; false or an error denies.
	Policy map[string]string `mapstructure:"policy"`
}

// IsEnabled reports whether the provider serves factors (unset means enabled).
func (p Provider) IsEnabled() bool { return p.Enabled == nil || *p.Enabled }

// NamedSecret is a header whose value may be secret.
type NamedSecret struct {
	Name  string `mapstructure:"name"`
	Value Secret `mapstructure:"value"`
}

// Delivery is one sender of codes. Type selects which fields apply.
type Delivery struct {
	Type    string        `mapstructure:"type"` // smtp, twilio, http, log
	Timeout time.Duration `mapstructure:"timeout"`
	// smtp
	Host               string `mapstructure:"host"`
	Port               int    `mapstructure:"port"`
	TLS                string `mapstructure:"tls"` // none, starttls, tls
	Username           string `mapstructure:"username"`
	Password           Secret `mapstructure:"password"`
	AllowPlaintextAuth bool   `mapstructure:"allowPlaintextAuth"`
	// smtp (an address) and twilio (a number or messaging service)
	From string `mapstructure:"from"`
	// twilio
	AccountSID string `mapstructure:"accountSid"`
	AuthToken  Secret `mapstructure:"authToken"`
	BaseURL    string `mapstructure:"baseURL"`
	// http
	URL            string        `mapstructure:"url"`
	Method         string        `mapstructure:"method"`
	Headers        []NamedSecret `mapstructure:"headers"`
	Body           string        `mapstructure:"body"` // CEL over to, code, message, user, subject
	ExpectedStatus []int         `mapstructure:"expectedStatus"`
}

// Delivery types, and the channels each can serve.
const (
	DeliverySMTP   = "smtp"
	DeliveryTwilio = "twilio"
	DeliveryHTTP   = "http"
	DeliveryLog    = "log"
)

// Secret is a configuration string that must never reach a log or an error message.
type Secret string

// Reveal returns the secret itself; call it only where the secret is used.
func (s Secret) Reveal() string { return string(s) }

// String redacts, so fmt and %v never print the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString redacts for %#v as well.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// LogValue redacts in slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON redacts when a configuration is printed as JSON.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }
