package config

import "net/url"

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
}

func (c *Config) validateTelemetry(add func(path, format string, args ...any)) {
	if t := c.Metrics.Token.Reveal(); t != "" && len(t) < MinSecretChars && !c.Server.Auth.AllowWeakSecrets {
		add("metrics.token", "must be at least %d characters", MinSecretChars)
	}
	if e := c.Tracing.Endpoint; e != "" {
		if u, err := url.Parse(e); err != nil || (u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https" && u.Host == "") {
			add("tracing.endpoint", "%q is not a URL or host:port", e)
		}
	}
	if r := c.Tracing.SampleRatio; r < 0 || r > 1 {
		add("tracing.sampleRatio", "must be between 0 and 1, not %g", r)
	}
}
