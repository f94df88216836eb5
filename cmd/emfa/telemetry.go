package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/telemetry"
)

// The metrics, the adapter's Observer, count the events the sync sources deliver: the
// adapter asks for that by assertion, so a method that drifted would count nothing.
var _ adapter.SyncObserver = (*telemetry.Metrics)(nil)

// moduleVersion is the build's module version, for emfa_build_info.
func moduleVersion() string {
	if linkVersion != "" { // version.go
		return linkVersion
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(unknown)"
}

// metricsHandler is /metrics as metrics.* configures it, or nil when it is off.
func (e *env) metricsHandler() http.Handler {
	if e.metrics == nil || !e.cfg.Metrics.IsEnabled() {
		return nil
	}
	return e.metrics.Handler(e.cfg.Metrics.Token.Reveal())
}

// engineObserver is the metrics as one builtin engine reports to them: its provider's
// prefix goes with every lockout, and the capability as the provider spells it (as its
// contract calls are counted), not the factor type the engine knows.
type engineObserver struct {
	m            *telemetry.Metrics
	provider     string
	capabilities []string
}

func (o engineObserver) CodeSent(sender string)    { o.m.CodeSent(sender) }
func (o engineObserver) SendRefused(sender string) { o.m.SendRefused(sender) }
func (o engineObserver) SendFailed(sender string)  { o.m.SendFailed(sender) }
func (o engineObserver) StoreError(op string)      { o.m.StoreError(op) }
func (o engineObserver) Lockout(factorType string) {
	c := factorType
	if i := slices.IndexFunc(o.capabilities, func(c string) bool { return strings.EqualFold(c, factorType) }); i >= 0 {
		c = o.capabilities[i]
	}
	o.m.Lockout(o.provider, c)
}

var _ builtin.Observer = engineObserver{}

// newTracing builds the tracer provider tracing.* configures, or nil (no-op, nothing
// installed) when no endpoint is set. It becomes the process-wide provider and W3C trace
// context the propagator, for instrumentation that reads the globals. A failed export is
// said on log, at most once a minute.
func (d *deps) newTracing(ctx context.Context, c config.Tracing, log *slog.Logger) (*telemetry.Tracing, error) {
	if !c.Enabled() {
		return nil, nil
	}
	t, err := telemetry.NewTracing(ctx, telemetry.TracingOptions{
		Endpoint: c.Endpoint, Insecure: c.Insecure, SampleRatio: c.SampleRatio,
		ServiceName: c.ServiceName, Version: moduleVersion(), Exporter: d.traceExporter, Log: log,
	})
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	if d.traceExporter == nil {
		t.SetGlobal() // tests run many servers in one process: theirs stay their own
	}
	return t, nil
}
