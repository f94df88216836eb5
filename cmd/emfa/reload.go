package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
)

// snapshot is one configuration built whole — every provider, transform, sender, the
// admin API and both listeners' handlers — and then only read. serve answers with the
// current one until a reload swaps in the next; a request keeps the snapshot it started
// on, so one in flight during a reload ends on the configuration it began with.
type snapshot struct {
	env     *env // its engines and senders; the store is the serving process's
	handler http.Handler
	// route is what a trace may say of a request's path (adapter.Server.SpanRoute): its
	// providers are this snapshot's.
	route func(*http.Request) string
	// drain waits for the self-service page's sign-in sends, which run after their
	// answers (adapter.Server.DrainPage).
	drain func(context.Context) error
	admin http.Handler // admin.listen's, when it is set
	// adminTLS is admin.listen's HTTPS settings (adminserve.go); nil: plain HTTP.
	adminTLS *tlsSettings
	manager  *lifecycle.Manager
	close    sync.Once
}

// snapshotOptions are what every snapshot of one serve shares.
type snapshotOptions struct {
	recorder adapter.Recorder
	sync     *adapter.Sync // the directory sources, served by every snapshot
	// propagation is directory sync's engines that carry events to vendors, which a
	// reload rebuilds (nil: sync off).
	propagation *propagation
	// connTimeout is the HTTP server's read and write timeout, set at start: a reloaded
	// requestTimeout beyond it extends each request's own (adapter.Options.ConnTimeout).
	connTimeout time.Duration
	// startSync starts directory sync for a reload whose configuration wants it in a
	// process that runs none (serve's; sync.go): it sets sync and propagation, and
	// returns how to stop it again should the reload fail. nil: no reload starts sync.
	startSync func(ne *env) (undo func(), err error)
}

// snapshot builds everything e's configuration names. Nothing is shared with another
// snapshot but the store, the logger and the metrics: a failed build leaves no trace
// (its engines are closed) and the serving snapshot untouched.
func (e *env) snapshot(so snapshotOptions) (*snapshot, error) {
	providers, err := e.providers()
	if err != nil {
		e.closeEngines()
		return nil, err
	}
	return e.snapshotOf(so, providers)
}

// snapshotOf is snapshot around providers, built from e's configuration already.
func (e *env) snapshotOf(so snapshotOptions, providers []*provider.Provider) (_ *snapshot, err error) {
	defer func() {
		if err != nil {
			e.closeEngines()
		}
	}()
	// The admin API's user changes are queued for the vendors of the running sync queue.
	var prop lifecycle.Propagation
	if so.sync != nil {
		prop = so.sync.Queue
	}
	manager, err := e.wireAdmin(providers, prop) // adminserve.go
	if err != nil {
		return nil, err
	}
	devices, err := e.devices(providers)
	if err != nil {
		return nil, err
	}
	idem := &provider.Idempotency{
		Store: e.store, TTL: e.cfg.Server.Idempotency.TTL, Now: e.now,
		// A live first attempt renews its claim while it runs, so that the retry of one
		// whose process died takes over within a lease, inside its own deadline.
		Lease: min(e.cfg.Server.RequestTimeout+provider.WriteGrace, provider.RenewedLease),
		Renew: provider.RenewInterval,
		// A request's body carries its passvalue: the store keeps it only under a key.
		Key: e.keys.FingerprintKey(),
	}
	opts := adapter.Options{
		Providers:      providers,
		RequestTimeout: e.cfg.Server.RequestTimeout,
		MaxBodyBytes:   e.cfg.Server.MaxBodyBytes,
		Log:            e.log,
		Ready:          e.store.Ping,
		Devices:        devices,
		Auth:           adapterAuth(e.cfg),
		Idempotency:    idem,
		// The admin API's answers kept for Idempotency-Key hold seeds and links: sealed
		// as the factors' secrets are.
		AnswerKeys:     e.keys,
		TrustedProxies: e.cfg.Server.ProxyPrefixes(),
		ConnTimeout:    so.connTimeout,
		Recorder:       recorderFor(so.recorder, e),
	}
	if so.sync != nil {
		// The queue is the running one; the sources and their credentials are this
		// configuration's, so a source enabled or disabled, a rotated SCIM token or hook
		// secret, holds at once.
		sy := syncSources(so.sync)
		syncCredentials(e.cfg.Sync, &sy)
		opts.Sync = &sy
	}
	if e.metrics != nil {
		opts.Observer = e.metrics
	}
	oauth, err := e.oauth() // inbound.go
	if err != nil {
		return nil, err
	}
	opts.OAuth = oauth
	if opts.SelfService, opts.SelfServiceSecure, err = e.selfService(manager); err != nil { // selfservice.go
		return nil, err
	}
	opts.SelfServiceBudgets = pageBudgets(e.cfg.SelfService)
	s := &snapshot{env: e, manager: manager}
	metrics := e.metricsHandler()
	if e.cfg.Admin.IsEnabled() && e.cfg.Admin.Listen != "" {
		// Its own server: nothing but health, metrics and the admin API answers there.
		ao := adapter.Options{Admin: manager, Log: e.log, Ready: e.store.Ping, Metrics: metrics,
			RequestTimeout: e.cfg.Server.RequestTimeout, MaxBodyBytes: e.cfg.Server.MaxBodyBytes,
			Idempotency: idem, AnswerKeys: e.keys,
			// The same ingress may front both listeners: its X-Forwarded-For names the
			// admin caller for the logs and the throttles, as on the main listener.
			TrustedProxies: opts.TrustedProxies,
			AdminLinks:     opts.SelfService, // the links point to the main listener's page
			AdminOnly:      true, ConnTimeout: so.connTimeout}
		if e.metrics != nil {
			ao.Observer = e.metrics
		}
		s.admin = adapter.New(ao).Handler()
		if s.adminTLS, err = e.adminTLS(); err != nil { // adminserve.go
			return nil, err
		}
	} else {
		opts.Metrics = metrics
		if e.cfg.Admin.IsEnabled() {
			opts.Admin = manager
		}
	}
	srv := adapter.New(opts)
	s.handler, s.route, s.drain = srv.Handler(), srv.SpanRoute, srv.DrainPage
	return s, nil
}

// closeEngines closes what the snapshot's engines and senders hold (connections, token
// refreshes), not the store.
func (e *env) closeEngines() error {
	var errs []error
	for _, c := range e.closers {
		errs = append(errs, c.Close())
	}
	e.closers = nil
	return errors.Join(errs...)
}

// live is the serving snapshot behind both listeners.
type live struct {
	cur atomic.Pointer[snapshot]
	// retired are replaced snapshots whose engines close once the requests that started
	// on them have had their deadline; serve's end closes whatever is left.
	mu      sync.Mutex
	retired []*retiredSnapshot
	// tls is the HTTPS listener's server.tls (nil without it): a reload swaps its
	// settings with the snapshot.
	tls *serverTLS
}

type retiredSnapshot struct {
	s      *snapshot
	timer  *time.Timer
	closed atomic.Bool // its engines are closed: nothing left to do
}

func (l *live) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if l.tls != nil && !l.tls.cur.Load().admits(r.TLS) {
		// A connection kept alive from before a reload whose client certificate the
		// current server.tls no longer admits (its CA removed, or none given where one is
		// now required): refused, and closed, so that the client's next handshake is
		// verified anew.
		w.Header().Set("Connection", "close")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"messageId":"unauthorized","messageDescription":"the client certificate is no longer admitted by server.tls: connect again"}`+"\n")
		return
	}
	l.cur.Load().handler.ServeHTTP(w, r)
}

// spanRoute is what the server span of r may say of its path: the current snapshot's
// route, so that a provider a reload added or removed is named, or not, at once.
func (l *live) spanRoute(r *http.Request) string { return l.cur.Load().route(r) }

// swap makes next the serving snapshot and retires the previous one after grace, the
// longest a request that started on it can still run. The first snapshot (base) is the
// serving env's own and closes with it.
func (l *live) swap(next *snapshot, base *env, grace time.Duration) {
	old := l.cur.Swap(next)
	if old == nil || old.env == base {
		return
	}
	r := &retiredSnapshot{s: old}
	closeOld := func() {
		old.close.Do(func() { old.env.closeEngines() })
		r.closed.Store(true)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// Those closed already go; those still in their grace stay, their timers running.
	// Before, the pruning stopped the timer of every one still in its grace (Stop), so
	// that two reloads within a grace never closed the first's engines.
	l.retired = slices.DeleteFunc(l.retired, func(r *retiredSnapshot) bool { return r.closed.Load() })
	r.timer = time.AfterFunc(grace, closeOld)
	l.retired = append(l.retired, r)
}

// drain waits, until ctx ends, for the self-service page's sends of every snapshot not
// closed yet (serve's end, before their senders close): a code the page answered for is
// sent, or the log says it was not.
func (l *live) drain(ctx context.Context, log interface{ Warn(string, ...any) }) {
	l.mu.Lock()
	snaps := []*snapshot{l.cur.Load()}
	for _, r := range l.retired {
		snaps = append(snaps, r.s)
	}
	l.mu.Unlock()
	for _, s := range snaps {
		if s == nil || s.drain == nil {
			continue
		}
		if err := s.drain(ctx); err != nil {
			log.Warn("self-service sign-in sends still under way at shutdown: not waited for", "err", err)
			return
		}
	}
}

// closeAll closes every snapshot not closed yet but base's (serve's end).
func (l *live) closeAll(base *env) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.retired {
		r.timer.Stop()
		r.s.close.Do(func() { r.s.env.closeEngines() })
	}
	l.retired = nil
	if s := l.cur.Load(); s != nil && s.env != base {
		s.close.Do(func() { s.env.closeEngines() })
	}
}

// reloadConfig loads the configuration again, checks and builds all of it, and swaps it in; on
// any error the serving configuration stays and every error is logged with where it is.
// Settings the running process cannot change (its listeners, its store) are kept as
// they were, with a warning for each that changed. ctx is serve's: a reload waiting for
// the store ends with it, so that a SIGTERM is taken even while the database does not
// answer.
func (d *deps) reloadConfig(ctx context.Context, base *env, l *live, o storeOptions, so *snapshotOptions) error {
	log := base.log
	cfg, err := loadConfig(o, forReload, d.stderr)
	if err == nil {
		err = signingKeyKept(l.cur.Load().env.cfg, cfg)
	}
	if err == nil {
		var keysErr error
		// The remote webhooks compiled once, for the snapshot's engines and directory
		// sync's alike (propagation.build).
		ne := &env{cfg: cfg, store: base.store, log: base.log, now: base.now, swept: base.swept,
			metrics: base.metrics, tracing: base.tracing, senderOverride: base.senderOverride,
			webhooks: compileWebhooks(cfg)}
		if ne.keys, keysErr = newKeyring(cfg); keysErr == nil {
			// As at start-up: a keyring that cannot open the store's factors is refused.
			keysErr = checkKeys(ctx, base.store, ne.keys, cfg)
		}
		if keysErr != nil {
			err = keysErr
		} else {
			current := l.cur.Load().env.cfg
			// Directory sync wanted by a process that runs none starts with this reload
			// (below): its settings are the reload's to apply either way.
			startSync := so.sync == nil && so.startSync != nil && wantsSync(ne)
			frozen, kept := keptSettings(current, cfg, so.sync != nil || so.startSync != nil)
			for _, w := range frozen {
				log.Warn("reload: " + w)
			}
			for _, w := range cfg.Warnings {
				log.Warn("configuration: " + w)
			}
			if len(frozen) > 0 {
				err = keptValid(cfg, kept)
			}
			var next *snapshot
			var nextTLS *tlsSettings
			if err == nil && l.tls != nil && cfg.Server.TLS != nil {
				// Built before anything is swapped: a clientCA that does not load fails
				// the whole reload.
				nextTLS, err = newTLSSettings(cfg.Server.TLS, log)
			}
			// Sync starts before the snapshot that serves its sources, and stops again if
			// the reload fails.
			var undoSync func()
			if err == nil && startSync {
				if undoSync, err = so.startSync(ne); err != nil {
					err = fmt.Errorf("directory sync: %w", err)
				}
			}
			if err == nil {
				next, err = ne.snapshot(*so)
			}
			// Directory sync's vendor engines too, with the credentials just read: built
			// before anything is swapped, so that one that fails fails the whole reload
			// (not when sync has just started: its vendors are this configuration's).
			var pe *env
			var ps []provider.LifecyclePropagator
			if err == nil && so.propagation != nil && undoSync == nil {
				if pe, ps, err = so.propagation.build(ne); err != nil {
					ne.closeEngines()
				}
			}
			if err == nil {
				if nextTLS != nil {
					// The same path may hold other CAs now: compared by content too.
					if !reflect.DeepEqual(current.Server.TLS, cfg.Server.TLS) || !maps.Equal(l.tls.cur.Load().roots, nextTLS.roots) {
						log.Info("reload: server.tls changed: applied to new handshakes, and a connection kept from before whose client certificate it no longer admits is refused",
							"clientCA", cfg.Server.TLS.ClientCA, "requireClientCert", cfg.Server.TLS.RequireClientCert)
					}
					l.tls.cur.Store(nextTLS)
				}
				// A recording's transcripts replay as they were served: those under way
				// are written with the configuration they ran under.
				reconfigure(so.recorder, ne, o.config)
				// The replaced snapshot's requests run up to its own requestTimeout.
				l.swap(next, base, current.Server.RequestTimeout+5*time.Second)
				if so.sync != nil {
					syncReloaded(so.sync.Queue, current.Sync, cfg.Sync, log) // sync.go
					// Directory sync's manager outlives the snapshot's: it reads national
					// phone numbers as the new configuration says too (checked on load).
					_ = so.sync.Manager.SetDefaultCountry(cfg.Lifecycle.DefaultCountry)
				}
				if was, is := current.Lifecycle.DefaultCountry, cfg.Lifecycle.DefaultCountry; was != is {
					log.Info("reload: lifecycle.defaultCountry changed: national phone numbers are read as its country's from the next request on",
						"from", was, "to", is)
				}
				if pe != nil {
					// A propagation running on the engines replaced ends on them; a vendor
					// added gets its worker, one removed keeps what is queued for it.
					sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					so.propagation.swap(sctx, pe, ps)
					cancel()
				}
				base.metrics.Reload(true)
				log.Info("configuration reloaded", "config", cfg.Source, "providers", len(cfg.Providers))
				return nil
			}
			if undoSync != nil {
				undoSync()
			}
		}
	}
	base.metrics.Reload(false)
	var es config.Errors
	if !errors.As(err, &es) {
		es = config.Errors{err}
	}
	for _, e := range es {
		msg := e.Error()
		if cfg != nil {
			// Loading named the file in its errors; building (a transform's CEL, a
			// clientCA) did not: it is said here, with the line when the error starts with
			// a path of the file.
			msg = inFile(cfg, msg)
		}
		log.Error("reload: "+msg, "config", o.config)
	}
	log.Error("reload failed: the running configuration is kept", "config", o.config)
	return err
}

// signingKeyKept refuses a reload that would generate the OAuth signing key while one
// runs: its file not there, be it the file the running key came from (a volume wiped, a
// cleanup run too wide) or another the reload names (the key moved out of the file, or to
// a volume of its own, the path mistyped). Generated anew, as a first start does, the new
// key would refuse every token the running one signed for Verify. A reload that turns the
// token endpoint on generates one as a start does: no running key's token is lost by it.
func signingKeyKept(running, cfg *config.Config) error {
	o, ro := cfg.Server.Auth.OAuth, running.Server.Auth.OAuth
	if o == nil || !o.IssuesTokens() || o.SigningKey != "" || ro == nil || !ro.IssuesTokens() {
		return nil
	}
	_, err := os.Stat(signingKeyPath(o))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("server.auth.oauth: signing key: %w: a reload generates no secret, and a new key would refuse every token the running one signed for Verify (put the key there, or restart emfa to generate one)", err)
	}
	return fmt.Errorf("server.auth.oauth: signing key: %w", err)
}

// inFile is msg with cfg's file (and line, when msg starts with a path of it) in front,
// unless it names the file already.
func inFile(cfg *config.Config, msg string) string {
	if cfg.Source == "" || strings.HasPrefix(msg, cfg.Source) {
		return msg
	}
	if l := located(cfg, msg); l != msg { // admin.go
		return l
	}
	return cfg.Source + ": " + msg
}

// keptValid checks cfg as it would be served, the settings a reload cannot change put
// back (frozenSettings; kept are their paths). Valid as written, it may not be so with
// them: server.auth.mtls added with the server.tls that waits for a restart was applied
// alone, and Verify, its Basic credentials removed in the same edit, was refused every
// call. A problem found in a kept setting itself is not one: it is the running
// configuration's, which loaded valid, read against the new file's record of what it
// wrote (tracing.sampleRatio written in the file, put back to the running 0, read as "must
// be more than 0", and the whole reload was refused).
func keptValid(cfg *config.Config, kept []string) error {
	c := *cfg
	c.Warnings = nil // said once already
	err := c.Validate()
	if err == nil {
		return nil
	}
	es, ok := err.(config.Errors)
	if !ok {
		return err // Validate answers Errors; anything else goes out as it is, not as a panic
	}
	var out config.Errors
	for _, e := range es {
		if fe, ok := e.(*config.FieldError); ok {
			if slices.ContainsFunc(kept, func(k string) bool { return underPath(fe.Path, k) }) {
				continue
			}
			cp := *fe
			cp.Msg += " (as it would be served, with the settings that change only at a restart as they are)"
			e = &cp
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil
	}
	return cfg.Annotate(out)
}

// underPath reports whether path is at or below section (config's paths, any case).
func underPath(path, section string) bool {
	path, section = strings.ToLower(path), strings.ToLower(section)
	return path == section || strings.HasPrefix(path, section+".") || strings.HasPrefix(path, section+"[")
}

// frozenSettings puts back into next what a running process cannot change (listeners,
// store, logger, retention the sweepers were started with, directory sync when its queue
// does not run: syncRuns false) and says what changed.
func frozenSettings(running, next *config.Config, syncRuns bool) []string {
	out, _ := keptSettings(running, next, syncRuns)
	return out
}

// keptSettings is frozenSettings, and the paths of the settings it put back.
func keptSettings(running, next *config.Config, syncRuns bool) (out, paths []string) {
	keep := func(path string, changed bool, restore func()) {
		if changed {
			out = append(out, fmt.Sprintf("%s changed: it cannot change while serving and takes effect at the next restart", path))
			paths = append(paths, path)
			restore()
		}
	}
	keep("server.listen", running.Server.Listen != next.Server.Listen, func() { next.Server.Listen = running.Server.Listen })
	// The listener is plain or HTTPS from the start; server.tls's files and client
	// certificate settings change at a reload (serverTLS), turning TLS on or off does not.
	keep("server.tls", (running.Server.TLS == nil) != (next.Server.TLS == nil), func() { next.Server.TLS = running.Server.TLS })
	keep("server.shutdownTimeout", running.Server.ShutdownTimeout != next.Server.ShutdownTimeout,
		func() { next.Server.ShutdownTimeout = running.Server.ShutdownTimeout })
	keep("storage.driver", running.Storage.Driver != next.Storage.Driver, func() { next.Storage.Driver = running.Storage.Driver })
	keep("storage.dsn", running.Storage.DSN != next.Storage.DSN, func() { next.Storage.DSN = running.Storage.DSN })
	keep("storage.auditRetention", !ptrEqual(running.Storage.AuditRetention, next.Storage.AuditRetention),
		func() { next.Storage.AuditRetention = running.Storage.AuditRetention })
	// The store's pools are sized, and its schema checked, once, when it opens.
	keep("storage.maxConnections", running.Storage.MaxConnections != next.Storage.MaxConnections,
		func() { next.Storage.MaxConnections = running.Storage.MaxConnections })
	keep("storage.allowNewerSchema", running.Storage.AllowNewerSchema != next.Storage.AllowNewerSchema,
		func() { next.Storage.AllowNewerSchema = running.Storage.AllowNewerSchema })
	// With the listener, what it is served with: admin.tls or admin.plaintext, which need it,
	// are the kept listener's (keptValid would refuse them without it).
	keep("admin.listen", running.Admin.Listen != next.Admin.Listen, func() {
		next.Admin.Listen, next.Admin.TLS, next.Admin.Plaintext = running.Admin.Listen, running.Admin.TLS, running.Admin.Plaintext
	})
	keep("admin.enabled", running.Admin.IsEnabled() != next.Admin.IsEnabled(), func() { next.Admin.Enabled = running.Admin.Enabled })
	// As server.tls: admin.listen is HTTPS or plain from the start (adminserve.go).
	keep("admin.tls", (running.AdminTLS() == nil) != (next.AdminTLS() == nil), func() { next.Admin.TLS, next.Admin.Plaintext = running.Admin.TLS, running.Admin.Plaintext })
	keep("lifecycle.activationLifetime", running.Lifecycle.ActivationLifetime != next.Lifecycle.ActivationLifetime,
		func() { next.Lifecycle.ActivationLifetime = running.Lifecycle.ActivationLifetime })
	keep("log", running.Log != next.Log, func() { next.Log = running.Log })
	keep("tracing", running.Tracing != next.Tracing, func() { next.Tracing = running.Tracing })
	// The sync queue's worker is started once: at start (serve.go) when the configuration
	// enables a source or has a vendor to propagate to, else by the first reload that
	// does (reloadSync). While it runs, a reload enables and disables sources, and changes
	// their credentials and the queue's limits. Only a process that can do neither
	// (syncRuns false) keeps sync as it was until a restart.
	keep("sync", !syncRuns && !reflect.DeepEqual(running.Sync, next.Sync), func() { next.Sync = running.Sync })
	return out, paths
}

func ptrEqual[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
