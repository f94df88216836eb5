package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
)

// manager is the lifecycle manager over the builtin engines of providers (which enroll
// factors) and every provider's capabilities (which switches may name). switches, when
// set, is told when this process throws a switch.
func (e *env) manager(providers []*provider.Provider, switches *provider.SwitchCache) (*lifecycle.Manager, error) {
	var engines []*builtin.Engine
	caps := map[string][]string{}
	for _, p := range providers {
		if b, ok := p.Engine.(*builtin.Engine); ok {
			engines = append(engines, b)
		}
		caps[p.CredentialPrefix] = p.Capabilities
	}
	o := lifecycle.Options{Store: e.store, Engines: engines, Capabilities: caps, Now: e.now, Log: e.log,
		ActivationLifetime: e.cfg.Lifecycle.ActivationLifetime}
	if switches != nil {
		o.Switched = switches.Invalidate
	}
	return lifecycle.New(o)
}

// cliManager is the manager of a command run beside the server: every builtin engine
// built from the configuration.
func (e *env) cliManager() (*lifecycle.Manager, error) {
	var providers []*provider.Provider
	for i, p := range e.cfg.Providers {
		pr := &provider.Provider{CredentialPrefix: p.CredentialPrefix, Capabilities: p.Capabilities}
		if p.Engine == config.EngineBuiltin {
			b, err := e.builtinEngine(i)
			if err != nil {
				return nil, err
			}
			pr.Engine = b
		}
		providers = append(providers, pr)
	}
	return e.manager(providers, nil)
}

// wireAdmin gives every provider the org-wide switches and builds the manager the admin
// API and the activation sweep use.
func (e *env) wireAdmin(providers []*provider.Provider) (*lifecycle.Manager, error) {
	switches := &provider.SwitchCache{Store: e.store, Now: e.now}
	for _, p := range providers {
		p.Switches = switches
	}
	return e.manager(providers, switches)
}

// serveAdmin serves the admin API on admin.listen until ctx ends; stop shuts it down.
// Without admin.listen it does nothing (the main listener serves the API).
func (e *env) serveAdmin(ctx context.Context, h http.Handler) (stop func() error, err error) {
	if !e.cfg.Admin.IsEnabled() || e.cfg.Admin.Listen == "" {
		return func() error { return nil }, nil
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(e.log.Handler(), slog.LevelWarn)}
	ln, err := net.Listen("tcp", e.cfg.Admin.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin.listen: %w", err)
	}
	e.log.Info("admin API serving", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	return func() error {
		if err := e.shutdown(ctx, srv, errc); err != nil {
			return fmt.Errorf("admin shutdown: %w", err)
		}
		return nil
	}, nil
}

// shutdown stops srv gracefully within server.shutdownTimeout and waits for its Serve,
// whose result errc carries.
func (e *env) shutdown(ctx context.Context, srv *http.Server, errc <-chan error) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// startActivationSweeper deletes factors whose activation waited too long, every
// sweepEvery, until ctx ends or stop is called.
func (e *env) startActivationSweeper(ctx context.Context, m *lifecycle.Manager) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	ticker := time.NewTicker(sweepEvery)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if n, err := m.SweepPending(ctx); err != nil && ctx.Err() == nil {
				e.log.Warn("activation sweep", "deleted", n, "err", err)
			} else if n > 0 {
				e.log.Info("activation sweep", "deleted", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
		}
	}()
	return func() {
		cancel()
		ticker.Stop()
		<-done
	}
}
