package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store/sqlite"
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
key. SIGHUP is logged and ignored: reloading the configuration is not supported yet.`,
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
	c.Flags().StringVar(&o.config, "config", "", "configuration file (default: the embedded default)")
	c.Flags().StringVar(&recordDir, "record", "", "write each transaction served as a transcript into this `DIR`")
	c.Flags().BoolVar(&printSecrets, "print-secrets", true, "print a generated Verify password on stderr (false: only the file that keeps it)")
	return c
}

func (d *deps) serve(ctx context.Context, o storeOptions, recordDir string) error {
	// A SIGHUP would otherwise end the process without a word; reload is not there yet.
	// Caught from the start, so that one sent as soon as serve says it listens is too.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	e, err := d.openEnv(ctx, o, forServe)
	if err != nil {
		return err
	}
	defer e.Close()
	if e.cfg.Storage.Driver == "sqlite" {
		// One serving process per SQLite file: a second one refuses to start.
		release, err := sqlite.Own(e.cfg.Storage.DSN.Reveal())
		if err != nil {
			return err
		}
		defer release()
	}
	for _, w := range e.cfg.Warnings {
		e.log.Warn("configuration: " + w)
	}
	for _, w := range storageWarnings(e.cfg) {
		e.log.Warn("storage: " + w)
	}
	providers, err := e.providers()
	if err != nil {
		return err
	}
	// Purges expired transactions, old send records and nonces; stopped (and waited for)
	// before the store closes.
	defer e.startSweeper(ctx)()
	admin, err := e.wireAdmin(providers) // adminserve.go
	if err != nil {
		return err
	}
	defer e.startActivationSweeper(ctx, admin)()
	devices, err := e.devices()
	if err != nil {
		return err
	}
	opts := adapter.Options{
		Providers:      providers,
		RequestTimeout: e.cfg.Server.RequestTimeout,
		MaxBodyBytes:   e.cfg.Server.MaxBodyBytes,
		Log:            e.log,
		Ready:          e.store.Ping,
		Devices:        devices,
		Auth:           adapterAuth(e.cfg),
		Idempotency: &provider.Idempotency{
			Store: e.store, TTL: e.cfg.Server.Idempotency.TTL, Now: e.now,
			// A live first attempt always ends within its deadline; the margin covers
			// recording its answer and clocks a little apart between replicas.
			Lease: e.cfg.Server.RequestTimeout + 2*time.Second,
		},
		TrustedProxies: e.cfg.Server.ProxyPrefixes(),
	}
	if e.cfg.Admin.IsEnabled() && e.cfg.Admin.Listen == "" {
		opts.Admin = admin
	}
	if opts.SelfService, opts.SelfServiceSecure, err = e.selfService(admin); err != nil { // selfservice.go
		return err
	}
	stopAdmin, err := e.serveAdmin(ctx, admin)
	if err != nil {
		return err
	}
	defer func() {
		if err := stopAdmin(); err != nil {
			e.log.Warn("admin listener", "err", err)
		}
	}()
	if recordDir != "" {
		rec := newRecorder(e, o.config, recordDir)
		defer rec.Close() // after the server has stopped: every open transaction is written
		opts.Recorder = callRecorder{rec, e}
		e.log.Warn("recording every transaction into transcripts (secrets redacted)", "dir", recordDir)
	}
	srv := &http.Server{
		Handler:           adapter.New(opts).Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       e.cfg.Server.RequestTimeout + 5*time.Second,
		WriteTimeout:      e.cfg.Server.RequestTimeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    adapter.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", e.cfg.Server.Listen)
	if err != nil {
		return err
	}
	ln = adapter.JSONErrors(ln) // net/http's own 431 and 400 answers become JSON too
	e.log.Info("emfa serving", "addr", ln.Addr().String(), "config", e.cfg.Source, "providers", len(providers), "storage", e.cfg.Storage.Driver)
	if d.listening != nil {
		d.listening(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
wait:
	for {
		select {
		case err := <-errc:
			return fmt.Errorf("serve: %w", err)
		case <-hup:
			e.log.Warn("SIGHUP ignored: reloading the configuration is not supported yet; restart emfa to apply changes")
		case <-ctx.Done():
			break wait
		}
	}
	e.log.Info("shutting down", "grace", e.cfg.Server.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	e.log.Info("stopped")
	return nil
}
