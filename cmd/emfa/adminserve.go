package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/connpark"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
)

// manager is the lifecycle manager over the builtin engines of providers (which enroll
// factors) and every provider's capabilities (which switches may name). switches, when
// set, is told when this process throws a switch; prop, when set, queues the users'
// changes for the vendors (the admin API's and the CLI's manager; never directory
// sync's, whose queue propagates what it applies).
func (e *env) manager(providers []*provider.Provider, switches *provider.SwitchCache, prop lifecycle.Propagation) (*lifecycle.Manager, error) {
	var engines []*builtin.Engine
	caps := map[string][]string{}
	for _, p := range providers {
		if b, ok := p.Engine.(*builtin.Engine); ok {
			engines = append(engines, b)
		}
		caps[p.CredentialPrefix] = p.Capabilities
	}
	o := lifecycle.Options{Store: e.store, Engines: engines, Capabilities: caps, Now: e.now, Log: e.log,
		ActivationLifetime: e.cfg.Lifecycle.ActivationLifetime, DefaultCountry: e.cfg.Lifecycle.DefaultCountry, Propagation: prop}
	if switches != nil {
		o.Switched = switches.Invalidate
	}
	if e.metrics != nil {
		o.Observer = e.metrics
	}
	return lifecycle.New(o)
}

// cliManager is the manager of a command run beside the server: every builtin engine
// built from the configuration.
func (e *env) cliManager() (*lifecycle.Manager, error) { return e.cliManagerWith(nil) }

// cliManagerWith is cliManager whose user changes prop queues for the vendors (see
// manager).
func (e *env) cliManagerWith(prop lifecycle.Propagation) (*lifecycle.Manager, error) {
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
	return e.manager(providers, nil, prop)
}

// wireAdmin gives every provider the org-wide switches and builds the manager the admin
// API and the activation sweep use (prop: see manager).
func (e *env) wireAdmin(providers []*provider.Provider, prop lifecycle.Propagation) (*lifecycle.Manager, error) {
	switches := &provider.SwitchCache{Store: e.store, Now: e.now}
	for _, p := range providers {
		p.Switches = switches
	}
	return e.manager(providers, switches, prop)
}

// httpServer is the HTTP server of both listeners: h behind the timeouts that keep a slow
// client from holding a connection. connTimeout is the read and write timeout, set at
// start (snapshotOptions.connTimeout); a route that needs longer moves its connection's
// deadlines itself (adapter's deadline).
func (e *env) httpServer(h http.Handler, connTimeout time.Duration) *http.Server {
	return &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       connTimeout,
		WriteTimeout:      connTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    adapter.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelWarn),
		ConnState:         connpark.ConnState, // listen's connections learn they are idle
		// Under TLS, listen's listener ends TLS beneath net/http: these give each request
		// its r.TLS (the client certificate that mTLS and the client-CA checks read).
		ConnContext: connpark.ConnContext,
		Handler:     connpark.Handler(h),
	}
}

// listen is the listener net/http serves name's connections from (server, admin): in
// HTTPS under t (nil: plain HTTP), with net/http's own 431 and 400 answers made JSON
// (adapter.JSONErrors), and with keep-alive connections that have waited a second for
// their next request parked until it comes, without a goroutine or net/http's buffers
// (internal/connpark: 16 KiB a connection, and more under TLS; issue 16's memory budget at
// 1,000 of Verify's connections). emfa_http_connections_parked{listener=name} shows how
// many are parked. onPark counts as activity for the quiet-spell trim, which then frees
// what a parked connection left. A failed handshake is logged as net/http would;
// a connection closed before its first byte (a TCP health check) only at debug.
func (e *env) listen(ln net.Listener, name string, t *tls.Config, onPark func()) net.Listener {
	if t == nil {
		ln = connpark.New(ln, connpark.After, onPark)
		if pl, ok := ln.(*connpark.Listener); ok {
			e.metrics.WatchParked(name, pl.Parked)
		}
		return adapter.JSONErrors(ln)
	}
	pl := connpark.NewTLS(ln, connpark.TLS{Config: t, HandshakeFailed: func(remote net.Addr, err error) {
		if errors.Is(err, io.EOF) { // a TCP health check: connected, then hung up
			e.log.Debug("connection closed before its TLS handshake", "listener", name, "remote", remote.String())
			return
		}
		e.log.Warn("TLS handshake failed", "listener", name, "remote", remote.String(), "err", err)
	}}, connpark.After, onPark)
	e.metrics.WatchParked(name, pl.Parked)
	return adapter.JSONErrors(pl)
}

// adminServer is admin.listen's server, serving until stop.
type adminServer struct {
	ctx  context.Context
	e    *env
	srv  *http.Server // nil: no listener of the admin API's own
	errc chan error
}

// serveAdmin serves the admin API on admin.listen until ctx ends or stop (onPark: see
// parkIdle), in HTTPS when the configuration gives it a certificate (config.AdminTLS): l's
// snapshots carry its settings, so a reload that changes them applies to new handshakes, as
// server.tls's do. Without admin.listen it serves nothing (the main listener serves the API).
func (e *env) serveAdmin(ctx context.Context, l *live, ln net.Listener, connTimeout time.Duration, onPark func()) (*adminServer, error) {
	a := &adminServer{ctx: ctx, e: e}
	if ln == nil {
		return a, nil
	}
	tlsOn := l.cur.Load().adminTLS != nil
	var tc *tls.Config
	if tlsOn {
		tc = l.adminTLSConfig()
	}
	ln = e.listen(ln, "admin", tc, onPark)
	a.srv = e.httpServer(l.adminHandler(), connTimeout)
	e.log.Info("admin API serving", "addr", ln.Addr().String(), "tls", tlsOn)
	a.errc = make(chan error, 1)
	go func() { a.errc <- a.srv.Serve(ln) }()
	return a, nil
}

// stop shuts the admin listener down gracefully.
func (a *adminServer) stop() error {
	if a.srv == nil {
		return nil
	}
	if err := a.e.shutdown(a.ctx, a.srv, a.errc); err != nil {
		return fmt.Errorf("admin shutdown: %w", err)
	}
	return nil
}

// adminTLS is the snapshot's admin.listen HTTPS settings (config.AdminTLS), nil for plain
// HTTP. Its errors name the section the files came from.
func (e *env) adminTLS() (*tlsSettings, error) {
	t := e.cfg.AdminTLS()
	if t == nil {
		return nil, nil
	}
	path := "admin.tls"
	if e.cfg.Admin.TLS == nil {
		path = "server.tls" // its certificate and key
	}
	return newTLSSettingsAt(path, t, e.log)
}

// adminHandler serves admin.listen from the current snapshot. As on the main listener
// (live.ServeHTTP), a connection kept alive from before a reload whose client certificate
// the current admin.tls no longer admits is refused and closed.
func (l *live) adminHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := l.cur.Load()
		if s.adminTLS != nil && !s.adminTLS.admits(r.TLS) {
			w.Header().Set("Connection", "close")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"messageId":"unauthorized","messageDescription":"the client certificate is no longer admitted by admin.tls: connect again"}`+"\n")
			return
		}
		s.admin.ServeHTTP(w, r)
	})
}

// adminTLSConfig is admin.listen's: every handshake reads the serving snapshot's
// settings, which a reload swaps.
func (l *live) adminTLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		s := l.cur.Load().adminTLS
		if s == nil { // a listener is HTTPS or not for its life (frozenSettings)
			return nil, errors.New("admin.listen: no TLS settings")
		}
		return s.cfg, nil
	}}
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
