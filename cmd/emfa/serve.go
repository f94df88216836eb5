package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/store/sqlite"
	"github.com/emfa/emfa/telemetry"
)

func (d *deps) serveCmd() *cobra.Command {
	var o storeOptions
	var recordDir string
	var printSecrets bool
	c := &cobra.Command{
		Use:   "serve",
		Short: "serve Verify's webhook contract",
		Long: `serve answers IBM Verify's external-MFA webhook calls until SIGTERM or SIGINT, which shut
it down gracefully. Without --config it runs the embedded default and, on first use,
creates ./emfa-data (or $EMFA_DATA_DIR) with a generated Verify password and encryption
key. SIGHUP reloads the configuration: it is loaded, checked and built whole, then
swapped in; a bad file keeps the running configuration and logs every error. Listeners,
storage and log settings change only at a restart (a reload warns when they changed).`,
		Example: `  emfa serve
  emfa serve --config emfa.yaml
  emfa serve --config emfa.yaml --record transcripts/
  emfa serve --print-secrets=false   # stderr is captured: name the password's file only`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			o.hideSecrets = !printSecrets
			return d.serve(c.Context(), o, recordDir)
		},
	}
	configVar(c.Flags(), &o.config, "configuration file (default: the embedded default)")
	c.Flags().StringVar(&recordDir, "record", "", "write each transaction served as a transcript into this `DIR`")
	c.Flags().BoolVar(&printSecrets, "print-secrets", true, "print a generated Verify password on stderr (false: only the file that keeps it)")
	return c
}

func (d *deps) serve(ctx context.Context, o storeOptions, recordDir string) error {
	// SIGHUP reloads the configuration (reload.go). Caught from the start, so that one
	// sent as soon as serve says it listens is not the default action, which ends the
	// process; one before serving starts is taken once serving has started.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	tuneGC() // trim.go
	// The listeners first, before the store or a secret is made (loadConfig calls bind).
	var b bound
	o.bind = b.bind
	defer b.close() // those not taken: on an error before serving
	e, err := d.openEnv(ctx, o, forServe)
	o.bind = nil // a reload binds nothing
	if err != nil {
		return err
	}
	// A start that fails before it serves removes the SQLite store it created (never one
	// that was there): left behind, the next start was no longer a first start, and said
	// nothing of a new store made by a mistyped storage.dsn. Removed after the store
	// closes, and before the file's lock is released (another serve may wait for it).
	fresh, serving := e.fresh, false
	release := func() error { return nil }
	defer func() {
		e.Close()
		if !serving && fresh != nil {
			if err := fresh.remove(); err != nil {
				e.log.Warn("storage: the new store at "+fresh.path+" is kept: "+err.Error(), "path", fresh.path)
			}
		}
		release()
	}()
	if d.opened != nil {
		d.opened()
	}
	if e.cfg.Storage.Driver == "sqlite" {
		// One serving process per SQLite file: a second one refuses to start.
		r, err := sqlite.Own(e.cfg.Storage.DSN.Reveal())
		if err != nil {
			fresh = nil // another serve has it: the store is its own now
			return err
		}
		release = r
		// The file opened is still the one at the DSN's path: a start that created it and
		// failed may have removed it (before the lock it held was released to this one),
		// and this one would then serve a file unlinked from its path, its writes lost.
		if st, ok := e.store.(*sqlite.Store); ok {
			if err := st.Ping(ctx); err != nil {
				path := sqlite.Path(e.cfg.Storage.DSN.Reveal())
				if _, serr := os.Stat(path); errors.Is(serr, fs.ErrNotExist) {
					return fmt.Errorf("storage.dsn: database %s was removed as this serve opened it (another start that had "+
						"just created it failed, and removed it): start again", path)
				}
				return fmt.Errorf("storage.dsn: database %s: %w", path, err)
			}
		}
		// A mistyped storage.dsn would otherwise be a new, empty store without a word. The
		// path only: a SQLite DSN's query is no secret, but it is not needed here.
		if st, ok := e.store.(*sqlite.Store); ok && st.Created() {
			check := "storage.dsn"
			if strings.HasPrefix(e.cfg.Source, "embedded default") {
				check = "EMFA_DATA_DIR and the directory serve runs in" // no file to name
			}
			path := sqlite.Path(e.cfg.Storage.DSN.Reveal())
			e.log.Info("storage: created a new store at "+path+": it was not there (if it should have been, check "+check+")", "path", path)
		}
	}
	if d.owned != nil {
		d.owned()
	}
	for _, w := range e.cfg.Warnings {
		e.log.Warn("configuration: " + w)
	}
	for _, w := range storageWarnings(e.cfg) {
		e.log.Warn("storage: " + w)
	}
	if e.metrics == nil {
		e.metrics = telemetry.NewMetrics(moduleVersion())
	}
	if e.tracing, err = d.newTracing(ctx, e.cfg.Tracing, e.log); err != nil {
		return err
	}
	// Last out: every span the server and the engines ended is flushed.
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := e.tracing.Shutdown(sctx); err != nil {
			e.log.Warn("tracing: spans not flushed", "err", err)
		}
	}()
	so := snapshotOptions{connTimeout: e.cfg.Server.RequestTimeout + 5*time.Second} // the server's, below
	if recordDir != "" {
		rec := newRecorder(e, o.config, recordDir)
		defer rec.Close() // after the server has stopped: every open transaction is written
		so.recorder = callRecorder{rec, e}
		e.log.Warn("recording every transaction into transcripts (secrets redacted)", "dir", recordDir)
	}
	// The first snapshot's providers, built once: directory sync's manager and vendors
	// start on them too. Their engines are e's, and close with it.
	providers, err := e.providers()
	if err != nil {
		e.closeEngines()
		return err
	}
	// Directory sync runs one worker for the life of the process, with a manager of its
	// own (a reload changes its sources, its limits, and replaces the engines that carry
	// events to vendors). It stops before the store closes.
	syncSources, stopSync, err := e.serveSync(ctx, providers) // sync.go
	if err != nil {
		return err
	}
	so.sync = syncSources
	if syncSources != nil {
		so.propagation = &propagation{q: syncSources.Queue, env: e, base: e}
	} else {
		// Started by the first reload whose configuration wants it (sync.go).
		so.startSync = func(ne *env) (func(), error) {
			stop, err := reloadSync(ctx, ne, &so)
			stopSync = stop
			return func() { stop(); stopSync = func() {} }, err
		}
	}
	defer func() { stopSync(); so.propagation.close() }()
	first, err := e.snapshotOf(so, providers) // reload.go
	if err != nil {
		return err
	}
	l := &live{}
	l.swap(first, e, 0)
	defer l.closeAll(e) // engines of reloaded snapshots; e's own close with e
	// Purges expired transactions, old send records and nonces; stopped (and waited for)
	// before the store closes.
	defer e.startSweeper(ctx, l)()
	defer e.startActivationSweeper(ctx, first.manager)()
	// Memory goes back to the OS at the start of every quiet spell (trim.go).
	trim := &quietTrim{}
	trimCtx, stopTrim := context.WithCancel(ctx)
	defer stopTrim()
	go trim.run(trimCtx, time.Second, trimMemory)
	// From here a client may write to the store (the admin API serves first): it is kept.
	serving = true
	admin, err := e.serveAdmin(ctx, l, b.take(&b.admin), so.connTimeout, trim.touch) // adminserve.go
	if err != nil {
		return err
	}
	defer func() {
		if err := admin.stop(); err != nil {
			e.log.Warn("admin listener", "err", err)
		}
	}()
	handler := trim.wrap(e.tracing.Handler(l, l.spanRoute))
	srv := e.httpServer(handler, so.connTimeout) // adminserve.go: the admin listener's too
	// server.tls serves HTTPS (inbound.go); idle connections are parked (adminserve.go).
	ln, tlsState, err := e.listenTLS(b.server, e.cfg.Server.TLS, trim.touch)
	if err != nil {
		return err // b.server closes with b
	}
	b.take(&b.server) // srv's from here
	l.tls = tlsState
	e.log.Info("emfa serving", "addr", ln.Addr().String(), "config", e.cfg.Source, "providers", len(e.cfg.Providers), "storage", e.cfg.Storage.Driver, "tls", e.cfg.Server.TLS != nil)
	if d.listening != nil {
		d.listening(ln.Addr().String())
	}
	errc := make(chan error, 1)
	// Start-up leaves garbage: the CEL compiled for every transform, twice (checked, then
	// built), and the migrations. The collector frees it, but the runtime's scavenger hands
	// the pages back to the OS only over minutes, so a server at rest would keep its
	// start-up peak resident: the trim's first quiet tick returns it (quietTrim.run).
	go func() { errc <- srv.Serve(ln) }()
wait:
	for {
		select {
		case err := <-errc:
			return fmt.Errorf("serve: %w", err)
		case <-hup:
			err := d.reloadConfig(ctx, e, l, o, &so)
			debug.FreeOSMemory() // as after start-up: a reload compiles every transform anew
			if d.reloaded != nil {
				d.reloaded(err)
			}
		case <-d.reload:
			err := d.reloadConfig(ctx, e, l, o, &so)
			debug.FreeOSMemory() // as after start-up: a reload compiles every transform anew
			if d.reloaded != nil {
				d.reloaded(err)
			}
		case <-ctx.Done():
			break wait
		}
	}
	e.log.Info("shutting down", "grace", e.cfg.Server.ShutdownTimeout.String())
	if err := e.stopServing(ctx, srv, errc, l); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	e.log.Info("stopped")
	return nil
}

// stopServing shuts srv down (env.shutdown), then waits for the self-service page's
// sign-in sends (live.drain), so that the codes it answered for go out before the
// senders close (serve's defers). It drains also when the shutdown's grace ran out with
// requests still running: before, that error returned at once, and the sends under way
// ran on senders being closed.
func (e *env) stopServing(ctx context.Context, srv *http.Server, errc <-chan error, l *live) error {
	err := e.shutdown(ctx, srv, errc) // adminserve.go
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.Server.ShutdownTimeout)
	l.drain(dctx, e.log)
	cancel()
	return err
}

// bound are serve's listeners, bound as soon as the configuration is read, before
// anything is created: a port in use (another emfa) left a new store behind, and from the
// embedded default a data directory with a generated password, printed for a serve that
// never ran.
type bound struct {
	server, admin net.Listener // admin: nil without an admin.listen of its own
}

// bind binds cfg's server.listen and, when the admin API has its own, admin.listen.
func (b *bound) bind(cfg *config.Config) error {
	ln, err := listenOn("server.listen", cfg.Server.Listen)
	if err != nil {
		return err
	}
	b.server = ln
	if cfg.Admin.IsEnabled() && cfg.Admin.Listen != "" {
		if b.admin, err = listenOn("admin.listen", cfg.Admin.Listen); err != nil {
			return err // b.server closes with b
		}
	}
	return nil
}

// take hands over *ln, which b then no longer closes.
func (b *bound) take(ln *net.Listener) net.Listener {
	l := *ln
	*ln = nil
	return l
}

// close closes the listeners not taken.
func (b *bound) close() {
	for _, ln := range []net.Listener{b.server, b.admin} {
		if ln != nil {
			ln.Close()
		}
	}
}

// listenOn listens on addr, the value of key. An error names the key, the variable that
// overrides it and what to do: net's own words (`bind: address already in use`) named
// neither.
func listenOn(key, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	env := "EMFA_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("%s %s: the address is in use (another process, perhaps another emfa, listens there): "+
			"stop it, or choose a free port in %s (%s)", key, addr, key, env)
	case errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("%s %s: not permitted (a port below 1024 needs privileges): choose a port from 1024 in %s (%s)",
			key, addr, key, env)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return nil, fmt.Errorf("%s %s: no such address on this host: choose one of its addresses in %s (%s)", key, addr, key, env)
	}
	return nil, fmt.Errorf("%s %s: %w", key, addr, err)
}
