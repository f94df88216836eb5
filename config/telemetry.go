package config

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Metrics configures the Prometheus endpoint /metrics, served on admin.listen when that
// is set, else on server.listen.
type Metrics struct {
	// Enabled serves /metrics; unset means enabled.
	Enabled *bool `mapstructure:"enabled"`
	// Token, when set, is the bearer token a scrape must send (Authorization: Bearer …).
	Token Secret `mapstructure:"token"`
}

// IsEnabled reports whether /metrics is served.
func (m Metrics) IsEnabled() bool { return m.Enabled == nil || *m.Enabled }

// Tracing configures OpenTelemetry tracing, off unless an endpoint is set.
type Tracing struct {
	// Endpoint is the OTLP/HTTP collector (http://host:4318, or host:port).
	Endpoint string `mapstructure:"endpoint"`
	// Insecure sends spans over plain HTTP.
	Insecure bool `mapstructure:"insecure"`
	// SampleRatio is the share of new traces kept (0 < r ≤ 1); unset: 1. A caller's
	// sampled parent is always followed.
	SampleRatio float64 `mapstructure:"sampleRatio"`
	// ServiceName is the service.name of every span; unset: emfa.
	ServiceName string `mapstructure:"serviceName"`
}

// Enabled reports whether spans are exported: only when an endpoint is set.
func (t Tracing) Enabled() bool { return t.Endpoint != "" }

func (c *Config) validateTelemetry(add func(path, format string, args ...any)) {
	// metrics.token's strength is checked with the other inbound secrets (validateSecurity).
	if e := c.Tracing.Endpoint; e != "" {
		if !validOTLPEndpoint(e) {
			add("tracing.endpoint", "not an http(s):// URL or host:port")
		} else if strings.HasPrefix(strings.ToLower(e), "https://") && c.Tracing.Insecure {
			add("tracing.insecure", "an https endpoint is not insecure: use http:// or drop insecure")
		}
	} else if c.Tracing.Insecure || c.Tracing.SampleRatio != 0 || c.Tracing.ServiceName != "" {
		add("tracing.endpoint", "is required when other tracing settings are set (tracing is off without it)")
	}
	if r := c.Tracing.SampleRatio; r < 0 || r > 1 {
		add("tracing.sampleRatio", "must be between 0 and 1, not %g", r)
	} else if r == 0 && c.written("tracing.sampleRatio") {
		// 0 is what unset reads as, and unset keeps every trace: the opposite of what
		// was written.
		add("tracing.sampleRatio", "must be more than 0 (at most 1; unset keeps every new trace)")
	}
}

// written reports whether path was given a value, in the file or by an EMFA_* variable,
// rather than left to its default.
func (c *Config) written(path string) bool {
	if _, ok := c.lines[strings.ToLower(path)]; ok {
		return true
	}
	for _, o := range c.overrides {
		if strings.EqualFold(strings.Join(o.path, "."), path) {
			return true
		}
	}
	return false
}

// validOTLPEndpoint accepts an http:// or https:// URL with a host, or host:port.
func validOTLPEndpoint(e string) bool {
	if strings.Contains(e, "://") {
		u, err := url.Parse(e)
		return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
	}
	host, port, err := net.SplitHostPort(e)
	n, perr := strconv.Atoi(port)
	return err == nil && host != "" && perr == nil && n > 0 && n < 65536
}
