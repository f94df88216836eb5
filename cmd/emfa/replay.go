package main

import (
	"cmp"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/provider/remote"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/transcript"
)

// replayKey seals factor secrets in a replay's throwaway store when the transcript's
// configuration names no key of its own.
const replayKey = "cmVwbGF5LW9ubHkta2V5LW5ldmVyLXByb2R1Y3Rpb24=" // "replay-only-key-never-production"

// replayCmd is `emfa replay FILES...`: each transcript against an in-process emfa (or a
// running one with --target), a readable diff of the first mismatch per transcript, a
// summary line, exit 1 when emfa answered differently and 2 when a transcript could not
// be run.
func (d *deps) replayCmd() *cobra.Command {
	var o replayOptions
	c := &cobra.Command{
		Use:   "replay FILES...",
		Short: "replay transcripts: a diff of the first mismatch each, a summary, exit 1 on a mismatch, 2 on a transcript not run",
		Long: `replay runs each transcript against an in-process emfa (a throwaway SQLite store, a fake
clock, the transcript's vendor), or with --target the Verify side against a running emfa.
A transcript whose configuration names ${EMFA_SHARED_DIR} (IBM's published files) finds
them through --shared-dir or $EMFA_SHARED_DIR.

Each transcript is "ok", "FAIL" (emfa answered differently: the first difference) or
"ERROR" (not run: the file or its configuration could not be read, each problem at its
file and line). Exit status: 0 all passed, 1 a transcript failed, 2 a transcript was not
run (or a usage error). --junit also writes the results as JUnit XML, for CI systems.`,
		Example: `  emfa replay testdata/transcripts/*.yaml
  emfa replay --junit replay.xml testdata/transcripts/*.yaml
  emfa replay --shared-dir ../shared testdata/transcripts/duo-push.yaml
  emfa replay --target https://emfa.staging.example.com --user verify --password … contract.yaml`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{"replay needs transcript files"}
			}
			return nil
		},
		RunE: func(c *cobra.Command, files []string) error { return d.replay(c.Context(), o, files) },
	}
	f := c.Flags()
	f.StringVar(&o.target, "target", "", "replay the Verify side against this running emfa (base `URL`)")
	f.StringVar(&o.user, "user", "verify", "with --target: Basic auth user")
	f.StringVar(&o.password, "password", "", "with --target: Basic auth password (default $EMFA_VERIFY_PASSWORD)")
	f.StringVar(&o.header, "header", "", "with --target: a header secret instead of Basic, as `Name=Value`")
	f.StringVar(&o.sharedDir, "shared-dir", "", "the `DIR` holding IBM's published files (verify/…), for ${EMFA_SHARED_DIR} (default $EMFA_SHARED_DIR)")
	f.StringVar(&o.junit, "junit", "", "also write the results to `FILE` as JUnit XML (one testcase per transcript)")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "show emfa's log for failing transcripts")
	return c
}

type replayOptions struct {
	target, user, password, header, sharedDir, junit string
	verbose                                          bool
}

// notRun is a transcript that could not be run: its file, or the emfa its configuration
// describes, could not be read or started. emfa did not get to answer.
type notRun struct{ err error }

func (e notRun) Error() string { return e.err.Error() }
func (e notRun) Unwrap() error { return e.err }

// startOrNotRun marks start's error as a transcript not run.
func startOrNotRun(start transcript.Start) transcript.Start {
	return func(ctx context.Context, t *transcript.Transcript, vendorURL string) (transcript.Env, func(), error) {
		env, stop, err := start(ctx, t, vendorURL)
		if err != nil {
			return nil, nil, notRun{err}
		}
		return env, stop, nil
	}
}

func (d *deps) replay(ctx context.Context, o replayOptions, files []string) error {
	stdout, stderr := d.stdout, d.stderr
	var start transcript.Start
	if o.target != "" {
		auth := targetAuth{user: o.user, password: o.password, header: o.header}
		if auth.password == "" {
			auth.password = os.Getenv("EMFA_VERIFY_PASSWORD")
		}
		start = auth.start(strings.TrimSuffix(o.target, "/"))
	}
	var results []replayResult
	passed, failed, errored := 0, 0, 0
	for _, path := range files {
		began := time.Now()
		t, err := transcript.Load(path)
		if err != nil {
			err = notRun{err}
		} else {
			logs := &lockedLog{}
			s := start
			if s == nil {
				s = inProcess(logs, o.sharedDir)
			}
			err = transcript.Run(ctx, t, startOrNotRun(s))
			if err != nil && o.verbose {
				fmt.Fprintf(stderr, "--- emfa log for %s:\n%s", path, logs.String())
			}
		}
		if (errors.Is(err, transcript.ErrNotInProcess) || errors.Is(err, transcript.ErrNotRunnable) ||
			o.target != "" && errors.Is(err, transcript.ErrCredentialsRefused)) && !errors.As(err, new(notRun)) {
			// A code sent, read back mid-run, a ${…} the transcript cannot expand (a seed
			// left <redacted>), or the running emfa refusing --user/--password/--header:
			// emfa answered nothing wrong.
			err = notRun{err}
		}
		r := replayResult{path: path, err: err, took: time.Since(began)}
		if t != nil {
			r.name = t.Name
		}
		results = append(results, r)
		word := "ok  "
		switch {
		case errors.As(err, new(notRun)):
			errored++
			word = "ERROR"
		case err != nil:
			failed++
			word = "FAIL"
		default:
			passed++
		}
		if err != nil {
			fmt.Fprintf(stdout, "%s %s\n     %s\n", word, path, strings.ReplaceAll(err.Error(), "\n", "\n     "))
			continue
		}
		fmt.Fprintf(stdout, "%s %s\n", word, path)
	}
	summary := fmt.Sprintf("%d passed, %d failed", passed, failed)
	if errored > 0 {
		summary += fmt.Sprintf(", %d not run", errored)
	}
	fmt.Fprintln(stdout, summary)
	if o.junit != "" {
		if err := writeJUnit(o.junit, results); err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
	}
	switch {
	case errored > 0:
		return exitStatus(2)
	case failed > 0:
		return errSilent
	}
	return nil
}

// replayResult is one transcript's outcome, for --junit.
type replayResult struct {
	path, name string
	err        error
	took       time.Duration
}

// writeJUnit writes results as one JUnit test suite, a testcase per transcript: a
// mismatch is a failure, a transcript not run an error (as JUnit tells a test that failed
// from one that could not run).
func writeJUnit(path string, results []replayResult) error {
	type problem struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Time      string   `xml:"time,attr"`
		Failure   *problem `xml:"failure,omitempty"`
		Error     *problem `xml:"error,omitempty"`
	}
	type testsuite struct {
		XMLName  xml.Name   `xml:"testsuite"`
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Errors   int        `xml:"errors,attr"`
		Time     string     `xml:"time,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	suite := testsuite{Name: "emfa replay", Tests: len(results)}
	var total time.Duration
	for _, r := range results {
		total += r.took
		c := testcase{Name: cmp.Or(r.name, r.path), Classname: r.path, Time: seconds(r.took)}
		if r.err != nil {
			msg := r.err.Error()
			first, _, _ := strings.Cut(msg, "\n")
			p := &problem{Message: first, Text: msg}
			if errors.As(r.err, new(notRun)) {
				p.Type, c.Error = "not run", p
				suite.Errors++
			} else {
				p.Type, c.Failure = "mismatch", p
				suite.Failures++
			}
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Time = seconds(total)
	out, err := xml.MarshalIndent(struct {
		XMLName xml.Name `xml:"testsuites"`
		Suites  []testsuite
	}{Suites: []testsuite{suite}}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append([]byte(xml.Header), append(out, '\n')...), 0o644)
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// inProcess starts an emfa inside this process for a transcript: its configuration with
// a throwaway SQLite store, a fake clock at the transcript's start, every remote provider
// pointed at the transcript's vendor, ${EMFA_SHARED_DIR} (IBM's published files) at
// sharedDir or else the environment's, and its log kept in logs.
func inProcess(logs *lockedLog, sharedDir string) transcript.Start {
	return func(ctx context.Context, t *transcript.Transcript, vendorURL string) (transcript.Env, func(), error) {
		text, err := t.ConfigText()
		if err != nil {
			return nil, nil, err
		}
		dir, err := os.MkdirTemp("", "emfa-replay-")
		if err != nil {
			return nil, nil, err
		}
		// A vendor's OAuth token endpoint is replay's own too (replayTokens), started
		// for the first provider that needs one.
		tokenURL, stopTokens := "", func() {}
		cleanup := func() { stopTokens(); os.RemoveAll(dir) }
		lookup := func(name string) (string, bool) {
			// The store and the vendor are the replay's own, whatever the transcript's env
			// says: a recording lists ${EMFA_STORAGE_DSN} <redacted>, and the real value
			// of the host it was recorded on must not be the one replay writes into.
			switch name {
			case "vendor":
				return vendorURL, true
			case "EMFA_STORAGE_DRIVER":
				return "sqlite", true
			case "EMFA_STORAGE_DSN":
				return "file:" + dir + "/emfa.db", true
			}
			if v, ok := t.Env[name]; ok {
				path, secret := redactedEnv(v)
				if !secret {
					return v, true
				}
				// A recording's secret: the real value when this environment has it,
				// else a stand-in (inbound credentials and signatures still agree), with
				// the path a URL's value kept (basePath).
				if real, ok := os.LookupEnv(name); ok && real != "" {
					return real, true
				}
				return "redacted-" + name + path, true
			}
			switch name {
			case "EMFA_SHARED_DIR":
				// A relative directory is the working directory's, as a shell user means it:
				// the configuration's paths are resolved against the transcript's.
				dir := sharedDir
				if dir == "" {
					dir = os.Getenv(name)
				}
				if dir != "" {
					if abs, err := filepath.Abs(dir); err == nil {
						return abs, true
					}
					return dir, true
				}
			case "EMFA_LOG_LEVEL":
				return "debug", true
			case "EMFA_SERVER_AUTH_ALLOWWEAKSECRETS":
				// A throwaway loopback server; a recording's password is "<redacted>".
				return "true", true
			}
			return os.LookupEnv(name)
		}
		cfg, err := config.Parse([]byte(text), "yaml", config.Options{LookupEnv: func(name string) (string, bool) {
			if name == "EMFA_STORAGE_ENCRYPTIONKEY" { // the store is throwaway
				return replayKey, true
			}
			return lookup(name)
		}})
		if err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("configuration: %w", locateConfig(t, err))
		}
		cfg.Source = t.ConfigDir() + "/transcript"
		for i, p := range cfg.Providers {
			if p.Engine == config.EngineBuiltin {
				// Nothing leaves a replay: a recorded configuration's push gateway is not
				// told of its challenges (devices poll without one). Keys are read
				// without regard to case.
				for name, section := range p.Builtin {
					if push, ok := section.(map[string]any); ok && strings.EqualFold(name, builtin.TypePush) {
						maps.DeleteFunc(push, func(k string, _ any) bool { return strings.EqualFold(k, "notifier") })
					}
				}
			}
			if p.Engine != config.EngineRemote {
				continue
			}
			// The vendor is the transcript's, at the same base path as the real one.
			w, _, err := remote.LoadWebhook(p.Remote, configDir(cfg))
			if err != nil {
				cleanup()
				return nil, nil, fmt.Errorf("provider %s: %w", p.CredentialPrefix, err)
			}
			base := vendorURL
			if len(w.URLs) > 0 {
				base += basePath(w.URLs[0])
			}
			cfg.Providers[i].Remote["urls"] = []any{base}
			if w.Authentication.Type == remote.AuthOAuth {
				// Token fetches are not vendor calls a transcript lists (a recording
				// leaves them out): replay grants them itself, never the real endpoint.
				if tokenURL == "" {
					if tokenURL, stopTokens, err = transcript.ServeLocal(replayTokens()); err != nil {
						stopTokens = func() {}
						cleanup()
						return nil, nil, fmt.Errorf("provider %s: the replay's token endpoint: %w", p.CredentialPrefix, err)
					}
				}
				setRemote(cfg.Providers[i].Remote, tokenURL+"/token", "authentication", "oauth", "token_endpoint")
			}
			if m := w.Authentication.MTLS; m != (remote.MTLS{}) {
				// Replay's vendor and token endpoint speak plain HTTP: the recording's client
				// certificate, key and vendor CA are never used, and need not be where the
				// transcript replays. An mtls call carries nothing else; tls_client_auth
				// sends its client_id in the body either way.
				setRemote(cfg.Providers[i].Remote, map[string]any{"cert": "", "key": "", "ca": ""}, "authentication", "mtls")
				if w.Authentication.Type == remote.AuthMTLS {
					setRemote(cfg.Providers[i].Remote, remote.AuthNone, "authentication", "type")
				}
				if w.Authentication.OAuth.TokenEndpointAuthMethod == remote.TLSClientAuth {
					setRemote(cfg.Providers[i].Remote, remote.ClientSecretPost, "authentication", "oauth", "token_endpoint_auth_method")
				}
			}
		}
		keys, err := newKeyring(cfg)
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		log := newLogger(cfg, logs)
		st, err := openStore(ctx, cfg, log)
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		// Each setup item gets an instant of its own, a millisecond (the store's unit)
		// apart and ending at the transcript's clock: a user's factors are listed oldest
		// first, so they list in the transcript's order, as recorded — not by the random
		// ids they would get at one shared instant.
		clk := &manualClock{t: t.Clock.Add(-time.Duration(len(t.Setup)) * setupTick)}
		e := &env{cfg: cfg, store: st, keys: keys, log: log, now: clk.Now}
		// Nothing leaves a replay: every sender captures what it would have delivered.
		codes := &capturedCodes{byTo: map[string]string{}}
		e.senderOverride = func(config.Delivery) (delivery.Sender, error) { return codes, nil }
		providers, err := e.providers()
		if err != nil {
			e.Close()
			cleanup()
			return nil, nil, err
		}
		devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: st, Now: clk.Now, Log: e.log, Refusal: refusalOf(providers)})
		if err != nil {
			e.Close()
			cleanup()
			return nil, nil, err
		}
		opts := adapter.Options{Providers: providers, RequestTimeout: cfg.Server.RequestTimeout,
			MaxBodyBytes: cfg.Server.MaxBodyBytes, Log: e.log, Ready: st.Ping, Auth: replayAuth(cfg), Devices: devices}
		base, stopServer, err := transcript.ServeLocal(adapter.New(opts).Handler())
		if err != nil {
			e.Close()
			cleanup()
			return nil, nil, err
		}
		r := &replayEnv{env: e, url: base, clock: clk, auth: opts.Auth, devices: devices, phones: map[string][]string{}, codes: codes}
		return r, func() { stopServer(); e.Close(); cleanup() }, nil
	}
}

// redactedEnv reports whether a transcript's env value is a recording's redacted one:
// <redacted>, or <redacted>/path for a URL whose path the recording kept (path).
func redactedEnv(v string) (path string, secret bool) {
	const redacted = "<redacted>"
	if v == redacted {
		return "", true
	}
	if rest, ok := strings.CutPrefix(v, redacted); ok && strings.HasPrefix(rest, "/") {
		return rest, true
	}
	return "", false
}

// standInBase is a URL whose scheme and host were a recording's redacted variable
// (${ACME_URL}/v1 replayed as redacted-ACME_URL/v1): what follows the stand-in is the path.
var standInBase = regexp.MustCompile(`^redacted-[A-Za-z_][A-Za-z0-9_]*(/[^?#]*)?`)

// basePath is the path of a vendor URL, without its trailing slash, for replay's vendor to
// be called at the same paths as the real one. A recording redacts placeholder values,
// URLs included: no base path then.
func basePath(raw string) string {
	if m := standInBase.FindStringSubmatch(raw); m != nil {
		return strings.TrimSuffix(m[1], "/")
	}
	if u, err := url.Parse(raw); err == nil && u.IsAbs() && u.Host != "" {
		return strings.TrimSuffix(u.Path, "/")
	}
	return ""
}

// setRemote sets a remote section's value at path, keeping the rest of each section on
// the way: a section from a webhookFile merges it into the file's, as any of its keys.
func setRemote(section map[string]any, value any, path ...string) {
	for _, key := range path[:len(path)-1] {
		next, ok := section[key].(map[string]any)
		if !ok {
			next = map[string]any{}
		} else {
			next = maps.Clone(next)
		}
		section[key] = next
		section = next
	}
	section[path[len(path)-1]] = value
}

// replayTokenLifetime is the lifetime of a token replay grants: longer than any replay,
// so emfa fetches one again only when the transcript's vendor refuses it.
const replayTokenLifetime = 3600

// replayTokens is a replay's OAuth token endpoint: it grants every client-credentials
// request a synthetic bearer token, whatever the client's credentials (a recording's
// secret replays as a stand-in). The tokens differ, so that a refused one is seen to be
// replaced; the vendor calls that carry them match any Authorization, as recorded.
func replayTokens() http.Handler {
	var mu sync.Mutex
	issued := 0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			w.WriteHeader(http.StatusMethodNotAllowed)
			io.WriteString(w, `{"error":"invalid_request","error_description":"a token request is a POST"}`)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"unsupported_grant_type","error_description":"replay grants client_credentials only"}`)
			return
		}
		mu.Lock()
		issued++
		n := issued
		mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{
			"access_token": fmt.Sprintf("replay-token-%d", n), "token_type": "Bearer", "expires_in": replayTokenLifetime,
		})
	})
}

// locateConfig puts each problem of a transcript's configuration at its file and line:
// the transcript's for an inline configuration, the configuration file's otherwise.
func locateConfig(t *transcript.Transcript, err error) error {
	var inv *config.Invalid
	if errors.As(err, &inv) {
		err = inv.Errs
	}
	es, ok := err.(config.Errors)
	if !ok {
		// The document itself could not be read: "parse yaml: yaml: line 3: …".
		return errors.New(yamlLineRE.ReplaceAllStringFunc(err.Error(), func(m string) string {
			n, _ := strconv.Atoi(yamlLineRE.FindStringSubmatch(m)[1])
			file, line := t.ConfigPosition(n)
			return fmt.Sprintf("%s:%d: ", file, line)
		}))
	}
	out := make(config.Errors, len(es))
	for i, e := range es {
		var fe *config.FieldError
		if !errors.As(e, &fe) || fe.File != "" {
			out[i] = e // another file's, or a variable's
			continue
		}
		cp := *fe
		cp.File, cp.Line = t.ConfigPosition(fe.Line)
		out[i] = &cp
	}
	if len(out) > 1 {
		return fmt.Errorf("%d problems:\n%w", len(out), out)
	}
	return out
}

var yamlLineRE = regexp.MustCompile(`yaml: line (\d+): `)

// replayBasicPassword is the Basic password of a replay's calls to an emfa whose
// configuration admits Verify by neither Basic nor a header secret (replayAuth).
const replayBasicPassword = "replay-only-password-never-production"

// replayAuth is the inbound authentication of a replay's emfa: the configuration's,
// and where it has neither Basic nor a header secret — Verify came with an OAuth token
// or a client certificate, which replay's plain HTTP calls cannot present — Basic
// credentials of replay's own, so that its calls are admitted (and with auth: wrong or
// none, refused) as Verify's were.
func replayAuth(cfg *config.Config) adapter.Auth {
	a := adapterAuth(cfg)
	if a.BasicUsername == "" && a.HeaderName == "" && !a.AllowAnonymous {
		a.BasicUsername, a.BasicPassword = "replay", replayBasicPassword
	}
	return a
}

// adapterAuth is the inbound authentication a configuration asks for.
func adapterAuth(cfg *config.Config) adapter.Auth {
	a := cfg.Server.Auth
	out := adapter.Auth{AllowAnonymous: a.AllowAnonymous, WeakSecrets: a.AllowWeakSecrets}
	if a.Basic != nil {
		out.BasicUsername, out.BasicPassword = a.Basic.Username, a.Basic.Password.Reveal()
	}
	if a.Header != nil {
		out.HeaderName, out.HeaderValue = a.Header.Name, a.Header.Value.Reveal()
	}
	if a.MTLS != nil {
		out.MTLS, out.MTLSSubjects = true, a.MTLS.Subjects
	}
	return out
}

// replayEnv is an in-process emfa for a transcript.
type replayEnv struct {
	env     *env
	url     string
	clock   *manualClock
	auth    adapter.Auth
	devices *builtin.Devices
	phones  map[string][]string // registered push devices by user
	codes   *capturedCodes
}

// capturedCodes is the sender of a replay: it keeps the last code for each destination.
type capturedCodes struct {
	mu   sync.Mutex
	byTo map[string]string
}

func (c *capturedCodes) Send(_ context.Context, m delivery.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byTo[m.To] = m.Code
	return nil
}

func (c *capturedCodes) Kind() string                 { return "replay" }
func (c *capturedCodes) Serves(delivery.Channel) bool { return true }

func (r *replayEnv) URL() string { return r.url }

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

// setupTick is how far the clock moves after each setup item (see inProcess).
const setupTick = time.Millisecond

func (r *replayEnv) Setup(ctx context.Context, s transcript.Setup) (string, error) {
	defer r.clock.Advance(setupTick)
	if s.User != "" {
		return "", r.env.store.CreateUser(ctx, store.User{ID: builtin.NewID(), Name: s.User, CreatedAt: r.clock.Now()})
	}
	f := s.Factor
	engine, err := r.env.enrollEngine(f.Type)
	if err != nil {
		return "", err
	}
	values, err := f.Values()
	if err != nil {
		return "", err
	}
	enrolled, err := engine.Enroll(ctx, builtin.Enrollment{Type: f.Type, User: f.User, ID: f.ID, Values: values})
	if err != nil {
		return "", err
	}
	code, ok := enrolled.Output["activationCode"].(string)
	if !ok {
		return enrolled.Factor.ID, nil
	}
	// A device waits for its key: register one at once, so the transcript's device is
	// ready.
	key, err := builtin.GenerateDeviceKey("ES256")
	if err != nil {
		return "", err
	}
	pub, err := builtin.EncodePublicKey(key)
	if err != nil {
		return "", err
	}
	id, err := r.devices.Register(ctx, provider.DeviceRegistration{ActivationCode: code,
		PublicKey: pub, Alg: "ES256", Name: cmp.Or(f.Name, "Push device")})
	if err != nil {
		return "", err
	}
	r.phones[f.User] = append(r.phones[f.User], id)
	return id, nil
}

func (r *replayEnv) Sent(to string) (string, error) {
	r.codes.mu.Lock()
	defer r.codes.mu.Unlock()
	if code, ok := r.codes.byTo[to]; ok {
		return code, nil
	}
	return "", fmt.Errorf("no code was sent to %s", to)
}

// Device answers a push challenge through the device service, as a registered device of
// the user (any user's, when the step names none) would.
func (r *replayEnv) Device(ctx context.Context, a transcript.DeviceAction) error {
	var candidates []string
	for user, ids := range r.phones {
		if a.User == "" || a.User == user {
			candidates = append(candidates, ids...)
		}
	}
	var number *int
	if a.Number != "" {
		n, err := strconv.Atoi(a.Number)
		if err != nil {
			return fmt.Errorf("device number %q: %w", a.Number, err)
		}
		number = &n
	}
	for _, id := range candidates {
		_, err := r.devices.Answer(ctx, id, a.Challenge, provider.Decision(a.Action), number)
		if errors.Is(err, provider.ErrNoChallenge) {
			continue
		}
		return err
	}
	return fmt.Errorf("no device of the transcript has challenge %s", a.Challenge)
}

// manualClock is a clock that moves only when told: a replay's, which advance steps move
// (and the tests', which reach expiry with it instead of sleeping).
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

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
		// What only an emfa in this process can do is refused before the first call: a
		// transcript that cannot run here is not run, rather than failed half-way.
		if len(t.Setup) > 0 {
			return nil, nil, fmt.Errorf("setup: %w", transcript.ErrNotInProcess)
		}
		for i, s := range t.Steps {
			switch {
			case len(s.Vendor) > 0:
				return nil, nil, fmt.Errorf("vendor exchanges: %w", transcript.ErrNotInProcess)
			case s.Advance != 0:
				return nil, nil, fmt.Errorf("step %d advances the clock: %w", i+1, transcript.ErrNotInProcess)
			case s.Device != nil:
				return nil, nil, fmt.Errorf("step %d acts as a device: %w", i+1, transcript.ErrNotInProcess)
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
