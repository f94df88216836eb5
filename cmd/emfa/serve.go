package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store/sqlite"
)

// listening, when set (by tests), learns the address serve listens on.
var listening func(addr string)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	configPath := fs.String("config", "", "configuration file (default: the embedded default)")
	recordDir := fs.String("record", "", "write each transaction served as a transcript into this directory")
	if rest, err := parseFlags(fs, args); err != nil {
		return err
	} else if len(rest) > 0 {
		return usageError{"serve takes no arguments"}
	}
	e, err := openEnv(ctx, *configPath, stderr)
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
	}
	if e.cfg.Admin.IsEnabled() && e.cfg.Admin.Listen == "" {
		opts.Admin = admin
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
	if *recordDir != "" {
		rec := newRecorder(e, *configPath, *recordDir)
		defer rec.Close() // after the server has stopped: every open transaction is written
		opts.Recorder = callRecorder{rec}
		e.log.Warn("recording every transaction into transcripts (secrets redacted)", "dir", *recordDir)
	}
	srv := &http.Server{
		Handler:           adapter.New(opts).Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       e.cfg.Server.RequestTimeout + 5*time.Second,
		WriteTimeout:      e.cfg.Server.RequestTimeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", e.cfg.Server.Listen)
	if err != nil {
		return err
	}
	e.log.Info("emfa serving", "addr", ln.Addr().String(), "config", e.cfg.Source, "providers", len(providers), "storage", e.cfg.Storage.Driver)
	if listening != nil {
		listening(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
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
