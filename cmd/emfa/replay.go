package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/verifyfiles"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/transcript"
)

// replayKey seals factor secrets in a replay's throwaway store when the transcript's
// configuration names no key of its own.
const replayKey = "cmVwbGF5LW9ubHkta2V5LW5ldmVyLXByb2R1Y3Rpb24=" // "replay-only-key-never-production"

// cmdReplay is `emfa replay FILES...`: each transcript against an in-process emfa (or a
// running one with --target), a readable diff of the first mismatch per transcript, a
// summary line, exit 1 on any failure.
func cmdReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	target := fs.String("target", "", "replay the Verify side against this running emfa (base URL)")
	user := fs.String("user", "verify", "with --target: Basic auth user")
	password := fs.String("password", "", "with --target: Basic auth password (default $EMFA_VERIFY_PASSWORD)")
	header := fs.String("header", "", "with --target: a header secret instead of Basic, as Name=Value")
	verbose := fs.Bool("v", false, "show emfa's log for failing transcripts")
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usageError{"replay needs transcript files"}
	}
	var start transcript.Start
	if *target != "" {
		auth := targetAuth{user: *user, password: *password, header: *header}
		if auth.password == "" {
			auth.password = os.Getenv("EMFA_VERIFY_PASSWORD")
		}
		start = auth.start(strings.TrimSuffix(*target, "/"))
	}
	passed, failed := 0, 0
	for _, path := range files {
		t, err := transcript.Load(path)
		if err == nil {
			logs := &lockedLog{}
			s := start
			if s == nil {
				s = inProcess(logs)
			}
			err = transcript.Run(ctx, t, s)
			if err != nil && *verbose {
				fmt.Fprintf(stderr, "--- emfa log for %s:\n%s", path, logs.String())
			}
		}
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "FAIL %s\n     %s\n", path, strings.ReplaceAll(err.Error(), "\n", "\n     "))
			continue
		}
		passed++
		fmt.Fprintf(stdout, "ok   %s\n", path)
	}
	fmt.Fprintf(stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return errSilent
	}
	return nil
}

// errSilent fails a command whose output already said why.
var errSilent = errors.New("")

// inProcess starts an emfa inside this process for a transcript: its configuration with
// a throwaway SQLite store, a fake clock at the transcript's start, every remote provider
// pointed at the transcript's vendor, and its log kept in logs.
func inProcess(logs *lockedLog) transcript.Start {
	return func(ctx context.Context, t *transcript.Transcript, vendorURL string) (transcript.Env, func(), error) {
		text, err := t.ConfigText()
		if err != nil {
			return nil, nil, err
		}
		dir, err := os.MkdirTemp("", "emfa-replay-")
		if err != nil {
			return nil, nil, err
		}
		cleanup := func() { os.RemoveAll(dir) }
		lookup := func(name string) (string, bool) {
			if v, ok := t.Env[name]; ok {
				return v, true
			}
			switch name {
			case "vendor":
				return vendorURL, true
			case "EMFA_STORAGE_DRIVER":
				return "sqlite", true
			case "EMFA_STORAGE_DSN":
				return "file:" + dir + "/emfa.db", true
			case "EMFA_SHARED_DIR":
				return verifyfiles.Dir(), true
			case "EMFA_LOG_LEVEL":
				return "debug", true
			}
			return os.LookupEnv(name)
		}
		cfg, err := config.Parse([]byte(text), "yaml", config.Options{LookupEnv: func(name string) (string, bool) {
			v, ok := lookup(name)
			if name == "EMFA_STORAGE_ENCRYPTIONKEY" && !ok {
				return replayKey, true
			}
			return v, ok
		}})
		if err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("configuration: %w", err)
		}
		cfg.Source = t.ConfigDir() + "/transcript"
		for i := range cfg.Providers {
			if cfg.Providers[i].Engine == config.EngineRemote {
				cfg.Providers[i].Remote["urls"] = []any{vendorURL}
			}
		}
		keys, err := newKeyring(cfg)
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		st, err := openStore(ctx, cfg)
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		clk := &replayClock{t: t.Clock}
		e := &env{cfg: cfg, store: st, keys: keys, log: newLogger(cfg, logs), now: clk.Now}
		providers, err := e.providers()
		if err != nil {
			e.Close()
			cleanup()
			return nil, nil, err
		}
		opts := adapter.Options{Providers: providers, RequestTimeout: cfg.Server.RequestTimeout,
			MaxBodyBytes: cfg.Server.MaxBodyBytes, Log: e.log, Ready: st.Ping, Auth: adapterAuth(cfg)}
		srv := httptest.NewServer(adapter.New(opts).Handler())
		r := &replayEnv{env: e, srv: srv, clock: clk, auth: opts.Auth}
		return r, func() { srv.Close(); e.Close(); cleanup() }, nil
	}
}

// adapterAuth is the inbound authentication a configuration asks for.
func adapterAuth(cfg *config.Config) adapter.Auth {
	a := cfg.Server.Auth
	out := adapter.Auth{AllowAnonymous: a.AllowAnonymous}
	if a.Basic != nil {
		out.BasicUsername, out.BasicPassword = a.Basic.Username, a.Basic.Password.Reveal()
	}
	if a.Header != nil {
		out.HeaderName, out.HeaderValue = a.Header.Name, a.Header.Value.Reveal()
	}
	return out
}

// replayEnv is an in-process emfa for a transcript.
type replayEnv struct {
	env   *env
	srv   *httptest.Server
	clock *replayClock
	auth  adapter.Auth
}

func (r *replayEnv) URL() string { return r.srv.URL }

func (r *replayEnv) Provider() string { return r.env.cfg.Providers[0].CredentialPrefix }

func (r *replayEnv) Authorize(req *http.Request, mode string) {
	applyAuth(req, mode, r.auth.BasicUsername, r.auth.BasicPassword, r.auth.HeaderName, r.auth.HeaderValue)
}

// applyAuth sets configured, no, or wrong credentials.
func applyAuth(req *http.Request, mode, user, password, header, value string) {
	switch mode {
	case "none":
		return
	case "wrong":
		password, value = password+"-wrong", value+"-wrong"
	}
	switch {
	case user != "":
		req.SetBasicAuth(user, password)
	case header != "":
		req.Header.Set(header, value)
	}
}

func (r *replayEnv) Now() time.Time { return r.clock.Now() }

func (r *replayEnv) Advance(d time.Duration) error {
	r.clock.Advance(d)
	return nil
}

func (r *replayEnv) Setup(ctx context.Context, s transcript.Setup) (string, error) {
	if s.User != "" {
		return "", r.env.store.CreateUser(ctx, store.User{ID: builtin.NewID(), Name: s.User, CreatedAt: r.clock.Now()})
	}
	f := s.Factor
	engine, err := r.env.enrollmentEngine()
	if err != nil {
		return "", err
	}
	switch f.Type {
	case builtin.TypeTOTP:
		spec := builtin.TOTPSpec{ID: f.ID, Label: f.Name}
		if f.Secret != "" {
			if spec.Secret, err = builtin.DecodeSecret(f.Secret); err != nil {
				return "", fmt.Errorf("factor secret: %w", err)
			}
		}
		enrolled, err := engine.EnrollTOTP(ctx, f.User, spec)
		if err != nil {
			return "", err
		}
		return enrolled.Factor.ID, nil
	}
	return "", fmt.Errorf("setup of %s factors is not supported yet", f.Type)
}

func (r *replayEnv) Sent(to string) (string, error) {
	return "", fmt.Errorf("no code was sent to %s", to)
}

func (r *replayEnv) Device(ctx context.Context, a transcript.DeviceAction) error {
	return fmt.Errorf("device actions are not supported yet")
}

// replayClock is the fake clock a replay moves with advance steps.
type replayClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *replayClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *replayClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// lockedLog keeps a replay's log, to show when it fails.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedLog) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// targetAuth replays the Verify side against a running emfa.
type targetAuth struct{ user, password, header string }

func (a targetAuth) start(url string) transcript.Start {
	return func(ctx context.Context, t *transcript.Transcript, vendorURL string) (transcript.Env, func(), error) {
		text, err := t.ConfigText()
		if err != nil {
			return nil, nil, err
		}
		// Only the provider's name is needed; the configuration's secrets may be unset here.
		var doc struct {
			Providers []struct {
				CredentialPrefix string `yaml:"credentialPrefix"`
			} `yaml:"providers"`
		}
		if err := yaml.Unmarshal([]byte(text), &doc); err != nil || len(doc.Providers) == 0 {
			return nil, nil, fmt.Errorf("configuration names no provider")
		}
		for _, s := range t.Steps {
			if len(s.Vendor) > 0 {
				return nil, nil, fmt.Errorf("vendor exchanges: %w", transcript.ErrNotInProcess)
			}
		}
		name, value, _ := strings.Cut(a.header, "=")
		env := &remoteEnv{url: url, provider: doc.Providers[0].CredentialPrefix, user: a.user, password: a.password, header: name, value: value}
		if a.header != "" {
			env.user = ""
		}
		return env, func() {}, nil
	}
}

// remoteEnv is a running emfa: only HTTP reaches it.
type remoteEnv struct {
	url, provider, user, password, header, value string
}

func (r *remoteEnv) URL() string      { return r.url }
func (r *remoteEnv) Provider() string { return r.provider }
func (r *remoteEnv) Authorize(req *http.Request, mode string) {
	applyAuth(req, mode, r.user, r.password, r.header, r.value)
}
func (r *remoteEnv) Now() time.Time              { return time.Now() }
func (r *remoteEnv) Advance(time.Duration) error { return transcript.ErrNotInProcess }
func (r *remoteEnv) Sent(string) (string, error) { return "", transcript.ErrNotInProcess }
func (r *remoteEnv) Device(context.Context, transcript.DeviceAction) error {
	return transcript.ErrNotInProcess
}
func (r *remoteEnv) Setup(context.Context, transcript.Setup) (string, error) {
	return "", transcript.ErrNotInProcess
}
