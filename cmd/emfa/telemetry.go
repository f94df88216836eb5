package main

import (
	"net/http"
	"runtime/debug"

	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/telemetry"
)

// moduleVersion is the build's module version, for emfa_build_info.
func moduleVersion() string {
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
// prefix goes with every lockout.
type engineObserver struct {
	m        *telemetry.Metrics
	provider string
}

func (o engineObserver) CodeSent(sender string)    { o.m.CodeSent(sender) }
func (o engineObserver) SendRefused(sender string) { o.m.SendRefused(sender) }
func (o engineObserver) Lockout(capability string) { o.m.Lockout(o.provider, capability) }

var _ builtin.Observer = engineObserver{}
