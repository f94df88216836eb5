package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/provider/remote"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/sqlite"
)

// clock is the engines' clock; tests replace it to reach expiry without sleeping.
var clock = time.Now

//go:embed default.yaml
var defaultConfig []byte

// loadConfig reads --config, or the embedded default with its generated secrets.
func loadConfig(path string, stderr io.Writer) (*config.Config, error) {
	if path != "" {
		return config.Load(path, config.Options{})
	}
	dataDir := os.Getenv("EMFA_DATA_DIR")
	if dataDir == "" {
		dataDir = "emfa-data"
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	lookup := func(name string) (string, bool) {
		if v, ok := os.LookupEnv(name); ok && v != "" {
			return v, true
		}
		switch name {
		case "EMFA_DATA_DIR":
			return dataDir, true
		case "EMFA_VERIFY_PASSWORD":
			return keptSecret(filepath.Join(dataDir, "verify-password"), 24, stderr,
				"generated the password Verify must send (Basic auth, user 'verify')")
		case "EMFA_ENCRYPTION_KEY":
			return keptSecret(filepath.Join(dataDir, "encryption.key"), 32, stderr,
				"generated the key that encrypts factor secrets: BACK IT UP — without it no factor can be verified")
		}
		return "", false
	}
	cfg, err := config.Parse(defaultConfig, "yaml", config.Options{LookupEnv: lookup})
	if err != nil {
		return nil, fmt.Errorf("embedded default: %w", err)
	}
	cfg.Source = "embedded default (data in " + dataDir + ")"
	return cfg, nil
}

// keptSecret reads a generated secret from path, or generates n random bytes, writes
// them (base64, mode 0600, created exclusively) and prints the notice once.
func keptSecret(path string, n int, stderr io.Writer, notice string) (string, bool) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), true
	}
	buf := make([]byte, n)
	rand.Read(buf)
	secret := base64.StdEncoding.EncodeToString(buf)
	if n != 32 { // a password: URL-safe, no padding, easy to paste into Verify
		secret = base64.RawURLEncoding.EncodeToString(buf)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) { // another process won the race: use its secret
		b, err := os.ReadFile(path)
		return strings.TrimSpace(string(b)), err == nil
	}
	if err != nil {
		fmt.Fprintf(stderr, "emfa: cannot keep a generated secret in %s: %v\n", path, err)
		return "", false
	}
	_, werr := f.WriteString(secret + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		fmt.Fprintf(stderr, "emfa: cannot keep a generated secret in %s: %v\n", path, werr)
		return "", false
	}
	if strings.HasSuffix(path, "verify-password") {
		fmt.Fprintf(stderr, "emfa: %s: %s (kept in %s)\n", notice, secret, path)
	} else {
		fmt.Fprintf(stderr, "emfa: %s (kept in %s)\n", notice, path)
	}
	return secret, true
}

// openStore opens the configured backend; migrations run inside Open.
func openStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	switch cfg.Storage.Driver {
	case "postgres":
		return postgres.Open(ctx, cfg.Storage.DSN.Reveal(), postgres.MaxConns(cfg.Storage.MaxConnections))
	default:
		return sqlite.Open(ctx, cfg.Storage.DSN.Reveal(), sqlite.ReadConns(cfg.Storage.MaxConnections))
	}
}

func newKeyring(cfg *config.Config) (*builtin.Keyring, error) {
	current, err := config.DecodeKey(cfg.Storage.EncryptionKey)
	if err != nil {
		return nil, err
	}
	var previous [][]byte
	for _, s := range cfg.Storage.PreviousEncryptionKeys {
		k, err := config.DecodeKey(s)
		if err != nil {
			return nil, err
		}
		previous = append(previous, k)
	}
	return builtin.NewKeyring(current, previous...)
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(cfg.Log.Format, "text") {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// env is everything a command needs once configuration is loaded.
type env struct {
	cfg     *config.Config
	store   store.Store
	keys    *builtin.Keyring
	log     *slog.Logger
	now     func() time.Time
	closers []provider.Closer // engines holding connections, closed before the store
	senders senderSet         // delivery.go
	// sendRetention is the longest send-limit window of the providers built.
	sendRetention time.Duration
	// senderOverride, when set, builds every sender instead (replay captures codes).
	senderOverride func(config.Delivery) (delivery.Sender, error)
}

func openEnv(ctx context.Context, configPath string, stderr io.Writer) (*env, error) {
	cfg, err := loadConfig(configPath, stderr)
	if err != nil {
		return nil, err
	}
	keys, err := newKeyring(cfg)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &env{cfg: cfg, store: st, keys: keys, log: newLogger(cfg, stderr), now: clock}, nil
}

func (e *env) Close() error {
	var errs []error
	for _, c := range e.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(append(errs, e.store.Close())...)
}

// configDir is where relative paths in the configuration (webhookFile) start.
func configDir(cfg *config.Config) string {
	if strings.HasPrefix(cfg.Source, "embedded") {
		return "."
	}
	return filepath.Dir(cfg.Source)
}

// remoteWebhook loads a remote provider's webhook and checks it; errors and warnings are
// prefixed with where it came from.
func remoteWebhook(cfg *config.Config, i int) (*remote.Webhook, []string, error) {
	p := cfg.Providers[i]
	w, source, err := remote.LoadWebhook(p.Remote, configDir(cfg))
	where := fmt.Sprintf("providers[%d] (%s).remote", i, p.CredentialPrefix)
	if source != "" {
		where += " from " + source
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", where, err)
	}
	warnings, err := remote.Check(w)
	for i, msg := range warnings {
		warnings[i] = where + "." + msg
	}
	if err != nil {
		return nil, warnings, prefixed(where+".", err)
	}
	return w, warnings, nil
}

// prefixed puts prefix before every problem of a config.Errors (or before err).
func prefixed(prefix string, err error) config.Errors {
	var es config.Errors
	if !errors.As(err, &es) {
		return config.Errors{fmt.Errorf("%s%w", prefix, err)}
	}
	out := make(config.Errors, len(es))
	for i, e := range es {
		out[i] = fmt.Errorf("%s%w", prefix, e)
	}
	return out
}

// builtinOptions are what the builtin engine of providers[i] is built from: its section
// as loaded, which the engine decodes, each factor type its own.
func (e *env) builtinOptions(i int) builtin.Options {
	p := e.cfg.Providers[i]
	return builtin.Options{
		Store: e.store, Keyring: e.keys, Now: e.now, Log: e.log,
		Config: p.Builtin, Capabilities: p.Capabilities, Senders: e.sender, Path: fmt.Sprintf("providers[%d]", i),
	}
}

// builtinEngine builds the engine of providers[i], a builtin provider.
func (e *env) builtinEngine(i int) (*builtin.Engine, error) {
	b, err := builtin.New(e.builtinOptions(i))
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", e.cfg.Providers[i].CredentialPrefix, err)
	}
	return b, nil
}

// providers builds every configured provider around its engine.
func (e *env) providers() ([]*provider.Provider, error) {
	var out []*provider.Provider
	for i, p := range e.cfg.Providers {
		var engine provider.Engine
		switch p.Engine {
		case config.EngineRemote:
			w, warnings, err := remoteWebhook(e.cfg, i)
			if err != nil {
				return nil, err
			}
			for _, msg := range warnings {
				e.log.Warn("transform: " + msg)
			}
			r, err := remote.New(remote.Options{Webhook: w, Provider: p.CredentialPrefix, Store: e.store,
				ChallengeLifetime: p.ChallengeLifetime, Log: e.log, Now: e.now})
			if err != nil {
				return nil, fmt.Errorf("provider %s: %w", p.CredentialPrefix, err)
			}
			e.closers = append(e.closers, r)
			engine = r
		case config.EngineBuiltin:
			b, err := e.builtinEngine(i)
			if err != nil {
				return nil, err
			}
			for _, msg := range b.Warnings() {
				e.log.Warn("configuration: " + msg)
			}
			// Send records must outlive the longest window any provider's limits look at.
			e.sendRetention = max(e.sendRetention, b.SendRetention())
			engine = b
		default:
			return nil, fmt.Errorf("provider %s: unknown engine %q", p.CredentialPrefix, p.Engine)
		}
		out = append(out, &provider.Provider{
			Name: p.Name, CredentialPrefix: p.CredentialPrefix, Enabled: p.IsEnabled(),
			Capabilities: p.Capabilities, Engine: engine, Log: e.log, Audit: e.store, Now: e.now,
		})
	}
	return out, nil
}

// pushProvider reports whether a builtin provider exposes push: only then are the
// device API's routes served.
func (e *env) pushProvider() bool {
	for _, p := range e.cfg.Providers {
		if p.Engine == config.EngineBuiltin && slices.ContainsFunc(p.Capabilities, func(c string) bool {
			return strings.EqualFold(c, builtin.TypePush)
		}) {
			return true
		}
	}
	return false
}

var _ adapter.Devices = (*builtin.Devices)(nil)

// devices is the device API's backend, or nil (no device routes) when no builtin
// provider exposes push.
func (e *env) devices() (adapter.Devices, error) {
	if !e.pushProvider() {
		return nil, nil
	}
	return builtin.NewDevices(builtin.DevicesOptions{Store: e.store, Now: e.now, Log: e.log})
}
