package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const testKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes

// minimalYAML is the least configuration that validates, for a test to add a section to.
const minimalYAML = `
server:
  auth: {basic: {username: verify, password: "0123456789abcdef0"}}
storage:
  dsn: "file:/var/lib/emfa/emfa.db"
  encryptionKey: "` + testKey + `"
providers:
  - {name: A, credentialPrefix: a, capabilities: [totp]}
`

func env(m map[string]string) Options {
	return Options{LookupEnv: func(k string) (string, bool) { v, ok := m[k]; return v, ok }}
}

const fullYAML = `
server:
  listen: "127.0.0.1:9090"
  auth:
    basic:  {username: verify, password: "${EMFA_VERIFY_PASSWORD}"}
    header: {name: X-Api-Key, value: "k-123-header-secret"}
storage:
  driver: sqlite
  dsn: "file:/var/lib/emfa/emfa.db"
  encryptionKey: "${EMFA_ENCRYPTION_KEY}"
providers:
  - name: Built-in factors
    credentialPrefix: emfa
    enabled: true
    capabilities: [TOTP]
    engine: builtin
    builtin:
      totp: {algorithm: SHA256, digits: 8, period: 60, window: 2}
      lockout: {maxFailures: 5, duration: 10m}
`

func TestParseFull(t *testing.T) {
	cfg, err := Parse([]byte(fullYAML), "yaml", env(map[string]string{
		"EMFA_VERIFY_PASSWORD": "s3cret$pw-0123456789",
		"EMFA_ENCRYPTION_KEY":  testKey,
	}))
	if err != nil {
		t.Fatal(err)
	}
	enabled := true
	want := Config{
		Server: Server{
			Listen: "127.0.0.1:9090",
			Auth: Auth{
				Basic:  &BasicAuth{Username: "verify", Password: "s3cret$pw-0123456789"},
				Header: &HeaderAuth{Name: "X-Api-Key", Value: "k-123-header-secret"},
			},
			RequestTimeout:  DefaultRequestTimeout,
			MaxBodyBytes:    DefaultMaxBodyBytes,
			ShutdownTimeout: DefaultShutdownTimeout,
			Idempotency:     Idempotency{TTL: DefaultIdempotencyTTL},
		},
		Storage: Storage{Driver: "sqlite", DSN: "file:/var/lib/emfa/emfa.db", EncryptionKey: testKey, AuditRetention: new(DefaultAuditRetention)},
		Log:     Log{Level: "info", Format: "json"},
		Providers: []Provider{{
			Name: "Built-in factors", CredentialPrefix: "emfa", Enabled: &enabled,
			Capabilities: []string{"TOTP"}, Engine: "builtin", ChallengeLifetime: DefaultChallengeLife,
			// Kept as written, keys' case intact; the builtin engine decodes it.
			Builtin: map[string]any{
				"totp":    map[string]any{"algorithm": "SHA256", "digits": 8, "period": 60, "window": 2},
				"lockout": map[string]any{"maxFailures": 5, "duration": "10m"},
			},
		}},
	}
	if diff := cmp.Diff(want, *cfg, cmpopts.IgnoreUnexported(Config{})); diff != "" {
		t.Errorf("config mismatch (-want +got):\n%s", diff)
	}
}

// Viper lower-cases keys; values such as capability and header names must survive.
func TestMixedCaseValuesSurvive(t *testing.T) {
	cfg, err := Parse([]byte(fullYAML), "yaml", env(map[string]string{
		"EMFA_VERIFY_PASSWORD": "verify-password-0123", "EMFA_ENCRYPTION_KEY": testKey,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Providers[0].Capabilities[0]; got != "TOTP" {
		t.Errorf("capability = %q, want TOTP", got)
	}
	if got := cfg.Server.Auth.Header.Name; got != "X-Api-Key" {
		t.Errorf("header name = %q, want X-Api-Key", got)
	}
	if got := cfg.Providers[0].CredentialPrefix; got != "emfa" {
		t.Errorf("prefix = %q", got)
	}
}

func TestEnvOverrides(t *testing.T) {
	cfg, err := Parse([]byte(fullYAML), "yaml", env(map[string]string{
		"EMFA_VERIFY_PASSWORD":            "verify-password-0123",
		"EMFA_ENCRYPTION_KEY":             testKey,
		"EMFA_SERVER_LISTEN":              "0.0.0.0:7000",
		"EMFA_STORAGE_DRIVER":             "postgres",
		"EMFA_STORAGE_DSN":                "postgres://x@y/z",
		"EMFA_SERVER_REQUESTTIMEOUT":      "3s",
		"EMFA_SERVER_AUTH_BASIC_PASSWORD": "from-env-0123456789",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != "0.0.0.0:7000" || cfg.Storage.Driver != "postgres" ||
		cfg.Storage.DSN != "postgres://x@y/z" || cfg.Server.RequestTimeout != 3*time.Second ||
		cfg.Server.Auth.Basic.Password != "from-env-0123456789" {
		t.Errorf("overrides not applied: %+v", cfg.Server)
	}
	for _, want := range []string{"EMFA_SERVER_LISTEN", "EMFA_STORAGE_ENCRYPTIONKEY", "EMFA_SERVER_AUTH_HEADER_NAME"} {
		if !strings.Contains(strings.Join(EnvOverrides(), " "), want) {
			t.Errorf("EnvOverrides lacks %s", want)
		}
	}
}

func TestEnvDefaultAndMissing(t *testing.T) {
	y := strings.Replace(fullYAML, "${EMFA_VERIFY_PASSWORD}", "${NOPE:-fallback-password-0123}", 1)
	cfg, err := Parse([]byte(y), "yaml", env(map[string]string{"EMFA_ENCRYPTION_KEY": testKey}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Auth.Basic.Password != "fallback-password-0123" {
		t.Errorf("password = %q", cfg.Server.Auth.Basic.Password.Reveal())
	}
	y = strings.Replace(fullYAML, "k-123", "${HDR_SECRET}", 1)
	y = strings.Replace(y, "- name: Built-in factors", "- name: ${PROVIDER_NAME}", 1)
	_, err = Parse([]byte(y), "yaml", env(nil))
	want := []string{
		"server.auth.basic.password: environment variable EMFA_VERIFY_PASSWORD is not set",
		"storage.encryptionKey: environment variable EMFA_ENCRYPTION_KEY is not set",
		"server.auth.header.value: environment variable HDR_SECRET is not set",
		"providers[0].name: environment variable PROVIDER_NAME is not set",
	}
	assertErrors(t, err, want)
}

// Validation reports every problem at once, each with its path.
func TestValidateReportsEverything(t *testing.T) {
	y := `
server:
  listen: "nonsense"
  auth: {}
storage:
  driver: mysql
  dsn: ""
  encryptionKey: "c2hvcnQ="
providers:
  - name: A
    credentialPrefix: "a:b"
    capabilities: [totp, TOTP, ""]
  - name: ""
    credentialPrefix: dup
    capabilities: [fingerprint]
  - name: C
    credentialPrefix: DUP
    engine: quantum
    capabilities: []
  - name: D
    credentialPrefix: d
    capabilities: [totp]
`
	_, err := Parse([]byte(y), "yaml", env(nil))
	assertErrors(t, err, []string{
		`server.listen: not host:port`,
		"server.auth: no inbound authentication configured",
		`storage.driver: unknown driver (want one of sqlite, postgres)`,
		"storage.dsn: must not be empty",
		"storage.encryptionKey: malformed key: decodes to 5 bytes, want 32",
		`providers[0].credentialPrefix: must not contain ':'`,
		`providers[0].capabilities[1]: duplicates capabilities[0]`,
		"providers[0].capabilities[2]: must not be empty",
		"providers[1].name: must not be empty",
		`providers[2].credentialPrefix: duplicates providers[1]`,
		"providers[2].capabilities: must list at least one capability",
		`providers[2].engine: unknown engine (want builtin or remote)`,
	})
}

func TestUnknownKeyIsAnError(t *testing.T) {
	y := strings.Replace(fullYAML, "listen:", "listne:", 1)
	_, err := Parse([]byte(y), "yaml", env(map[string]string{"EMFA_VERIFY_PASSWORD": "verify-password-0123", "EMFA_ENCRYPTION_KEY": testKey}))
	if err == nil || !strings.Contains(err.Error(), "listne") {
		t.Fatalf("want an error naming the unknown key, got %v", err)
	}
}

func TestBadYAML(t *testing.T) {
	_, err := Parse([]byte("server: [unclosed"), "yaml", env(nil))
	if err == nil || !strings.Contains(err.Error(), "parse yaml") {
		t.Fatalf("got %v", err)
	}
}

func TestAnonymousWarns(t *testing.T) {
	y := `
server: {auth: {allowAnonymous: true}}
storage: {dsn: ":memory:", encryptionKey: "` + testKey + `"}
providers: [{name: A, credentialPrefix: a, capabilities: [totp]}]
`
	cfg, err := Parse([]byte(y), "yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "allowAnonymous") {
		t.Errorf("warnings = %q", cfg.Warnings)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "emfa.yaml")
	if err := os.WriteFile(path, []byte(fullYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, env(map[string]string{"EMFA_VERIFY_PASSWORD": "verify-password-0123", "EMFA_ENCRYPTION_KEY": testKey}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source != path {
		t.Errorf("source = %q", cfg.Source)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml"), Options{}); err == nil {
		t.Error("missing file: want error")
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	cfg, err := Parse([]byte(fullYAML), "yaml", env(map[string]string{
		"EMFA_VERIFY_PASSWORD": "hunter2-very-secret", "EMFA_ENCRYPTION_KEY": testKey,
	}))
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("cfg", "storage", cfg.Storage, "auth", cfg.Server.Auth.Basic.Password)
	out := buf.String() + fmt.Sprintf("%v %+v %#v", *cfg, *cfg.Server.Auth.Basic, cfg.Storage)
	for _, secret := range []string{"hunter2-very-secret", testKey, "k-123-header-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("secret %q leaked: %s", secret, out)
		}
	}
}

func assertErrors(t *testing.T, err error, want []string) {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want config.Errors, got %T: %v", err, err)
	}
	got := err.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing error %q in:\n%s", w, got)
		}
	}
	if len(errs) != len(want) {
		t.Errorf("got %d errors, want %d:\n%s", len(errs), len(want), got)
	}
}

// The README's complete example is testdata/config/emfa.yaml, and it loads.
func TestReadmeExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("../testdata/config/emfa.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, after, _ := strings.Cut(string(readme), "A complete example")
	_, block, _ := strings.Cut(after, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	if diff := cmp.Diff(string(example), block); diff != "" {
		t.Errorf("README example differs from testdata/config/emfa.yaml (-file +readme):\n%s", diff)
	}
	cfg, err := Load("../testdata/config/emfa.yaml", env(map[string]string{
		"EMFA_VERIFY_PASSWORD": "verify-password-0123", "EMFA_API_KEY": "api-key-0123456789", "EMFA_ENCRYPTION_KEY": testKey,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Providers[0].Builtin["totp"] == nil || cfg.Server.Auth.Header.Name != "X-Api-Key" {
		t.Errorf("example loaded wrongly: %+v", cfg.Providers[0])
	}
}

// A remote section keeps its keys' case (viper would lower-case them) and has its
// ${NAME} references expanded, with exact paths in the errors.
func TestRemoteSectionKeepsCase(t *testing.T) {
	y := `
server: {auth: {basic: {username: v, password: verify-password-0123}}}
storage: {dsn: ":memory:", encryptionKey: "` + testKey + `"}
providers:
  - name: Vendor
    credentialPrefix: vend
    engine: remote
    capabilities: [mobileOTP, Push]
    challengeLifetime: 2m
    remote:
      urls: ["https://api.example.com"]
      authentication:
        type: jwt
        jwt: {alg: HS256, key: "${JWT_KEY}", lifetime: 300, additionalClaims: {tenantID: acme, "X-Role": mfa}}
      resources:
        mobileOTP_1: {suffix: /otp, method: POST}
        enrollments: {suffix: "/users/${MISSING_PATH}", transform: {outgoing: '{"body": {"userName": body.username}}'}}
`
	_, err := Parse([]byte(y), "yaml", env(map[string]string{"JWT_KEY": "k"}))
	assertErrors(t, err, []string{"providers[0].remote.resources.enrollments.suffix: environment variable MISSING_PATH is not set"})

	cfg, err := Parse([]byte(y), "yaml", env(map[string]string{"JWT_KEY": "k", "MISSING_PATH": "u"}))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Providers[0]
	if p.ChallengeLifetime != 2*time.Minute || p.Capabilities[0] != "mobileOTP" {
		t.Errorf("provider: %+v", p)
	}
	want := map[string]any{
		"urls": []any{"https://api.example.com"},
		"authentication": map[string]any{"type": "jwt", "jwt": map[string]any{
			"alg": "HS256", "key": "k", "lifetime": 300,
			"additionalClaims": map[string]any{"tenantID": "acme", "X-Role": "mfa"}}},
		"resources": map[string]any{
			"mobileOTP_1": map[string]any{"suffix": "/otp", "method": "POST"},
			"enrollments": map[string]any{"suffix": "/users/u", "transform": map[string]any{"outgoing": `{"body": {"userName": body.username}}`}},
		},
	}
	if diff := cmp.Diff(want, p.Remote); diff != "" {
		t.Errorf("remote section (-want +got):\n%s", diff)
	}

	noSection, _, _ := strings.Cut(y, "    remote:")
	_, err = Parse([]byte(noSection+"    builtin: {}\n"), "yaml", env(nil))
	assertErrors(t, err, []string{
		"providers[0].remote: a remote engine needs a remote section",
		"providers[0].builtin: only a builtin engine takes a builtin section",
	})
}

func TestAuditRetention(t *testing.T) {
	base := `
server: {auth: {basic: {username: v, password: verify-password-0123}}}
storage: {dsn: ":memory:", encryptionKey: "` + testKey + `"%s}
providers: [{name: A, credentialPrefix: a, capabilities: [totp]}]
`
	for in, want := range map[string]time.Duration{"": DefaultAuditRetention, ", auditRetention: 0": 0, ", auditRetention: 720h": 720 * time.Hour} {
		cfg, err := Parse([]byte(fmt.Sprintf(base, in)), "yaml", env(nil))
		if err != nil || *cfg.Storage.AuditRetention != want {
			t.Errorf("%q: %v %v, want %s", in, cfg, err, want)
		}
	}
	_, err := Parse([]byte(fmt.Sprintf(base, ", auditRetention: 5m")), "yaml", env(nil))
	assertErrors(t, err, []string{"storage.auditRetention: must be 0 (keep forever) or at least 1h, not 5m0s"})
}

// Every problem at once, each with its file and line: an unknown key does not hide the
// others behind a decoder's raw text, a duration needs a unit and a sane range, a listen
// port must be a port (issue 14, item 2).
func TestEveryProblemWithItsLine(t *testing.T) {
	text := `server:
  listen: "127.0.0.1:99999"
  requestTimeout: 10
  shutdownTimeout: 2h
  auth:
    basic:
      username: verify
      pasword: x
storage:
  dsn: ":memory:"
  encryptionKey: "` + testKey + `"
  auditRetention: soon
providers:
  - name: A
    credentialPrefix: a
    capabilities: [totp]
    challengeLifetim: 2m
`
	path, err := loadText(t, text)
	assertErrors(t, err, []string{
		path + `:2: server.listen: the port is not a number from 0 to 65535`,
		path + `:3: server.requestTimeout: 10 has no unit: write 10s (or ms, m, h)`,
		path + `:4: server.shutdownTimeout: must be between 1s and 10m0s, not 2h0m0s`,
		path + `:8: server.auth.basic: unknown key "pasword" (did you mean "password"?)`,
		path + `:12: storage.auditRetention: must be a duration such as 30s, 5m or 1h30m, not "soon"`,
		path + `:17: providers[0]: unknown key "challengeLifetim" (did you mean "challengeLifetime"?)`,
	})
	// In order of the file, and the empty password is not reported twice.
	if got := err.Error(); !strings.HasPrefix(got, path+":2:") || strings.Contains(got, "password: must not be empty") {
		t.Errorf("got:\n%s", got)
	}
}

// loadText loads text from a file of its own, and returns the file's path.
func loadText(t *testing.T, text string) (string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "emfa.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, env(nil))
	return path, err
}

// TestATypoHidesOnlyItsKey: an unknown key is reported once, in place of the problem of
// the key it was meant for (the password it left empty), and hides no other problem of
// its section. Before, one typo directly under server hid every other problem of server.
func TestATypoHidesOnlyItsKey(t *testing.T) {
	text := `server:
  requestTimout: 5s
  maxBodyBytes: -1
  auth:
    basic:
      username: verify
      pasword: x
storage:
  dsn: ":memory:"
  encryptionKey: "` + testKey + `"
providers:
  - name: A
    credentialPrefix: a
    capabilities: [totp]
`
	path, err := loadText(t, text)
	assertErrors(t, err, []string{
		path + `:2: server: unknown key "requestTimout" (did you mean "requestTimeout"?)`,
		path + `:3: server.maxBodyBytes: must not be negative`,
		path + `:7: server.auth.basic: unknown key "pasword" (did you mean "password"?)`,
	})
}

// Without the secrets in the environment, UnsetIsWarning reports each unset ${NAME} as a
// warning and checks everything else as if it were set; Need keeps a command's own
// secrets required.
func TestUnsetVariablesWarn(t *testing.T) {
	y := fullYAML + "delivery:\n  sms: {type: twilio, accountSid: AC1, authToken: \"${TWILIO_TOKEN}\", from: \"+15550001111\"}\n"
	cfg, err := Parse([]byte(y), "yaml", Options{LookupEnv: env(nil).LookupEnv, Unset: UnsetIsWarning})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"line 5: server.auth.basic.password: environment variable EMFA_VERIFY_PASSWORD is not set",
		"line 10: storage.encryptionKey: environment variable EMFA_ENCRYPTION_KEY is not set",
		"line 21: delivery.sms.authToken: environment variable TWILIO_TOKEN is not set",
	}
	if diff := cmp.Diff(want, cfg.Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	// Everything else is still checked.
	_, err = Parse([]byte(strings.Replace(y, "127.0.0.1:9090", "nonsense", 1)), "yaml", Options{LookupEnv: env(nil).LookupEnv, Unset: UnsetIsWarning})
	assertErrors(t, err, []string{`line 3: server.listen: not host:port`})
	// A command that opens the store still needs the key.
	_, err = Parse([]byte(y), "yaml", Options{LookupEnv: env(nil).LookupEnv, Unset: UnsetIsWarning, Need: []string{"storage"}})
	assertErrors(t, err, []string{"line 10: storage.encryptionKey: environment variable EMFA_ENCRYPTION_KEY is not set"})
}

// Aliases of aliases ("billion laughs") and an alias inside its own anchor are refused
// with a clear error, in bounded time and memory (found by FuzzParse).
func TestAliasBombRefused(t *testing.T) {
	laughs := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		laughs += n + ": &" + n + " [*" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + "]\n"
		prev = n
	}
	for name, doc := range map[string]string{
		"billion laughs": laughs,
		"self alias":     "0: &a 0\n1: &b [*b,*b,*b,*b]\nserver: {listen: x}\n",
	} {
		_, err := Parse([]byte(doc), "yaml", env(nil))
		if err == nil || !strings.Contains(err.Error(), "alias") && !strings.Contains(err.Error(), "expands") {
			t.Errorf("%s: %v, want a refusal naming the aliases", name, err)
		}
	}
}

// TestErrorsNeverQuoteASecret: a secret written where a list or a section goes (a single
// old key for previousEncryptionKeys, a token for a sync source's section) is refused
// without its value in the error, which emfa check prints and a reload logs.
func TestErrorsNeverQuoteASecret(t *testing.T) {
	const oldKey = "b2xkLWtleS0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc="
	const tok = "scim-token-0123456789abcdef0123456789"
	vars := env(map[string]string{"OLD_KEY": oldKey, "SCIM_TOKEN": tok})
	for _, doc := range []string{
		strings.Replace(minimalYAML, "  dsn: \"file:/var/lib/emfa/emfa.db\"\n", "  dsn: \"file:/var/lib/emfa/emfa.db\"\n  previousEncryptionKeys: \"${OLD_KEY}\"\n", 1),
		minimalYAML + "sync: {scim: \"${SCIM_TOKEN}\"}\n",
	} {
		_, err := Parse([]byte(doc), "yaml", vars)
		if err == nil || strings.Contains(err.Error(), oldKey) || strings.Contains(err.Error(), tok) || !strings.Contains(err.Error(), "a string") {
			t.Errorf("error %v: want a refusal naming the kind, not the value", err)
		}
	}
	// Where a number or a duration goes, the value is shown: it helps, and is no secret.
	if _, err := Parse([]byte(strings.Replace(minimalYAML, "storage:\n", "storage:\n  auditRetention: \"soon\"\n", 1)), "yaml", vars); err == nil || !strings.Contains(err.Error(), `"soon"`) {
		t.Errorf("a bad duration: %v", err)
	}
}

// TestKeysSetTwice: a key written twice, in any case, is an error naming both lines: one
// of its values would otherwise be dropped without a word (a second server: section
// dropped the first one's basic credentials, turning on anonymous access).
func TestKeysSetTwice(t *testing.T) {
	for name, doc := range map[string]string{
		"a section twice": minimalYAML + "server:\n  auth: {allowAnonymous: true}\n",
		"a key twice":     strings.Replace(minimalYAML, "storage:\n", "storage:\n  driver: sqlite\n  driver: postgres\n", 1),
		"in two cases":    strings.Replace(minimalYAML, "storage:\n", "storage:\n  driver: sqlite\n  Driver: sqlite\n", 1),
	} {
		_, err := Parse([]byte(doc), "yaml", env(nil))
		if err == nil || !strings.Contains(err.Error(), "is set twice (first at line") {
			t.Errorf("%s: %v, want an error naming both lines", name, err)
		}
	}
	// A merge key's values may be overridden: that is what it is for.
	doc := minimalYAML + "x-defaults: &d {requestTimeout: 5s}\n"
	doc = strings.Replace(doc, "server:\n", "server:\n  <<: *d\n  requestTimeout: 7s\n", 1)
	if _, err := Parse([]byte(doc), "yaml", env(nil)); err != nil && strings.Contains(err.Error(), "set twice") {
		t.Errorf("an override of a merged key: %v", err)
	}
}

// TestEnvOverrideOfANumber: EMFA_TRACING_SAMPLERATIO is a scalar key's override: the
// string it arrives as is read as a number.
func TestEnvOverrideOfANumber(t *testing.T) {
	cfg, err := Parse([]byte(minimalYAML), "yaml", env(map[string]string{
		"EMFA_TRACING_ENDPOINT": "http://127.0.0.1:4318", "EMFA_TRACING_SAMPLERATIO": "0.5"}))
	if err != nil || cfg.Tracing.SampleRatio != 0.5 {
		t.Fatalf("EMFA_TRACING_SAMPLERATIO=0.5: %v", err)
	}
	if _, err := Parse([]byte(minimalYAML), "yaml", env(map[string]string{"EMFA_TRACING_SAMPLERATIO": "half"})); err == nil {
		t.Error("EMFA_TRACING_SAMPLERATIO=half accepted")
	}
}

// TestAdminListenChecked: admin.listen is checked as server.listen is: host:port with a
// port from 0 to 65535.
func TestAdminListenChecked(t *testing.T) {
	for _, l := range []string{"127.0.0.1:99999", "127.0.0.1:-1", "127.0.0.1:http", "bad host!:9090", "9090"} {
		if _, err := Parse([]byte(minimalYAML+"admin: {listen: \""+l+"\"}\n"), "yaml", env(nil)); err == nil || !strings.Contains(err.Error(), "admin.listen") {
			t.Errorf("admin.listen %q: %v", l, err)
		}
	}
	if _, err := Parse([]byte(minimalYAML+"admin: {listen: \"127.0.0.1:9091\"}\n"), "yaml", env(nil)); err != nil {
		t.Errorf("a good admin.listen: %v", err)
	}
}

// TestUnsetVariableForgivesOnlyItsValue: with UnsetIsWarning, an unset ${NAME} excuses
// the problems of its own value only. A typo beside it, in the same section, is still an
// error (the README's complete example, checked without its secrets, said "ok").
func TestUnsetVariableForgivesOnlyItsValue(t *testing.T) {
	data, err := os.ReadFile("../testdata/config/emfa.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	opts := Options{LookupEnv: env(nil).LookupEnv, Unset: UnsetIsWarning}
	if _, err := Parse(data, "yaml", opts); err != nil {
		t.Fatalf("the example without its secrets: %v", err)
	}
	for name, tc := range map[string]struct{ old, new, want string }{
		"a typo beside the unset password": {"{username: verify,", "{usernme: verify,", `server.auth.basic: unknown key "usernme"`},
		"an unknown key in storage":        {"storage:\n", "storage:\n  colour: red\n", `storage: unknown key "colour"`},
		"an unknown key in server.auth":    {"  auth:", "  auth:\n    basik: {}", `server.auth: unknown key "basik"`},
	} {
		bad := strings.Replace(doc, tc.old, tc.new, 1)
		if bad == doc {
			t.Fatalf("%s: %q not in the example", name, tc.old)
		}
		_, err := Parse([]byte(bad), "yaml", opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %s", name, err, tc.want)
		}
	}
	// The unset value's own problems are still forgiven, whatever is expected there.
	for name, y := range map[string]string{
		"a list":           strings.Replace(doc, "previousEncryptionKeys: []", `previousEncryptionKeys: "${OLD_KEYS}"`, 1),
		"TLS cert and key": strings.Replace(doc, "  auth:", "  tls: {cert: \"${TLS_CERT}\", key: \"${TLS_KEY}\"}\n  auth:", 1),
	} {
		if _, err := Parse([]byte(y), "yaml", opts); err != nil {
			t.Errorf("%s from an unset variable: %v", name, err)
		}
	}
}

// TestStringSlotErrorsNeverEchoTheValue: where a string goes, an error says what is wrong
// without the value, which may be a secret pasted in the wrong place (emfa check prints
// it, a reload logs it).
func TestStringSlotErrorsNeverEchoTheValue(t *testing.T) {
	const s = "SuperSecretPassw0rdXYZ"
	delivery := "delivery:\n  mail: {type: smtp, host: mail.example.com, from: otp@example.com}\n  dev: {type: log}\n"
	for name, tc := range map[string]struct{ old, new, want string }{
		"server.listen":          {`listen: "127.0.0.1:9090"`, `listen: "` + s + `"`, "server.listen: not host:port"},
		"server.listen port":     {`listen: "127.0.0.1:9090"`, `listen: "127.0.0.1:` + s + `"`, "server.listen: the port is not a number"},
		"server.listen host":     {`listen: "127.0.0.1:9090"`, `listen: "` + s + `!:80"`, "server.listen: the host is neither"},
		"admin.listen":           {"storage:\n", "admin: {listen: \"" + s + "\"}\nstorage:\n", "admin.listen: not host:port"},
		"header name":            {"name: X-Api-Key", "name: \"" + s + " x\"", "server.auth.header.name: not an HTTP header name"},
		"storage.driver":         {"driver: sqlite", "driver: " + s, "storage.driver: unknown driver"},
		"log.level":              {"storage:\n", "log: {level: " + s + "}\nstorage:\n", "log.level: unknown level (want debug, info, warn or error)"},
		"log.format":             {"storage:\n", "log: {format: " + s + "}\nstorage:\n", "log.format: unknown format"},
		"credentialPrefix colon": {"credentialPrefix: emfa", "credentialPrefix: \"" + s + ":\"", "credentialPrefix: must not contain ':'"},
		"credentialPrefix chars": {"credentialPrefix: emfa", "credentialPrefix: \"" + s + "/\"", "credentialPrefix: may contain only"},
		"credentialPrefix twice": {"providers:\n", "providers:\n  - {name: B, credentialPrefix: " + s + ", capabilities: [totp]}\n  - {name: C, credentialPrefix: " + s + ", capabilities: [totp]}\n", "credentialPrefix: duplicates providers[0]"},
		"capability colon":       {"capabilities: [TOTP]", "capabilities: [TOTP, \"" + s + ":\"]", "capabilities[1]: must not contain ':'"},
		"capability twice":       {"capabilities: [TOTP]", "capabilities: [" + s + ", " + s + "]", "capabilities[1]: duplicates capabilities[0]"},
		"engine":                 {"engine: builtin", "engine: " + s, "engine: unknown engine"},
		"delivery tls":           {"storage:\n", "delivery: {m: {type: smtp, host: h, from: f@example.com, tls: " + s + "}}\nstorage:\n", "delivery.m.tls: unknown mode"},
		"delivery type":          {"storage:\n", "delivery: {m: {type: " + s + "}}\nstorage:\n", "delivery.m.type: unknown sender type"},
		"trustedProxies":         {"  auth:\n", "  trustedProxies: [\"" + s + "\"]\n  auth:\n", "server.trustedProxies[0]: not an IP address"},
		"tracing.endpoint":       {"storage:\n", "tracing: {endpoint: \"" + s + " \"}\nstorage:\n", "tracing.endpoint: not an http(s):// URL"},
		"sync header name":       {"storage:\n", "sync: {okta: {enabled: true, secretHeader: {name: \"" + s + " x\", value: 0123456789abcdef}}}\nstorage:\n", "sync.okta.secretHeader.name: not a header name"},
		"selfService publicURL":  {"storage:\n", delivery + "selfService: {enabled: true, publicURL: " + s + ", mail: {sender: mail}}\nstorage:\n", "selfService.publicURL: must be the absolute"},
		"selfService sender":     {"storage:\n", delivery + "selfService: {enabled: true, publicURL: https://mfa.example.com, mail: {sender: " + s + "}}\nstorage:\n", "selfService.mail.sender: no such sender under delivery"},
		"jwks":                   {"    header:", "    oauth: {jwks: {url: " + s + ", issuer: i, audience: a, algorithms: [" + s + "]}}\n    header:", "server.auth.oauth.jwks.url: not an http(s) URL"},
		"jwks algorithms":        {"    header:", "    oauth: {jwks: {url: https://as.example.com/k, issuer: i, audience: a, algorithms: [" + s + "]}}\n    header:", "server.auth.oauth.jwks.algorithms[0]: not an asymmetric"},
	} {
		if tc.want == "" {
			continue
		}
		doc := strings.Replace(fullYAML, tc.old, tc.new, 1)
		if doc == fullYAML {
			t.Fatalf("%s: %q not in the document", name, tc.old)
		}
		_, err := Parse([]byte(doc), "yaml", env(map[string]string{"EMFA_VERIFY_PASSWORD": "verify-password-0123", "EMFA_ENCRYPTION_KEY": testKey}))
		if err == nil || strings.Contains(strings.ToLower(err.Error()), strings.ToLower(s)) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v\nwant %q, without the value", name, err, tc.want)
		}
	}
}

// TestOverrideErrorNamesTheVariable: a bad EMFA_* override is blamed on the variable, not
// on a line of the file that holds something else (or nothing) there.
func TestOverrideErrorNamesTheVariable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emfa.yaml")
	if err := os.WriteFile(path, []byte(fullYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, env(map[string]string{
		"EMFA_VERIFY_PASSWORD": "verify-password-0123", "EMFA_ENCRYPTION_KEY": testKey,
		"EMFA_SERVER_LISTEN": "bad", "EMFA_LOG_LEVEL": "loud", "EMFA_SERVER_REQUESTTIMEOUT": "10",
	}))
	assertErrors(t, err, []string{
		"EMFA_SERVER_LISTEN: server.listen: not host:port",
		"EMFA_SERVER_REQUESTTIMEOUT: server.requestTimeout: 10 has no unit",
		"EMFA_LOG_LEVEL: log.level: unknown level",
	})
	if strings.Contains(err.Error(), path) {
		t.Errorf("an override blamed on the file:\n%v", err)
	}
}
