package config

import (
	"net"
	"time"
)

// Admin configures the admin API (/admin/v1): users and factors managed over HTTP with
// admin API tokens (emfa tokens create).
type Admin struct {
	// Enabled serves the admin API; unset means enabled (without a token it opens to
	// nobody).
	Enabled *bool `mapstructure:"enabled"`
	// Listen, when set, serves the admin API on its own listener (an internal network)
	// and not on server.listen.
	Listen string `mapstructure:"listen"`
}

// IsEnabled reports whether the admin API is served.
func (a Admin) IsEnabled() bool { return a.Enabled == nil || *a.Enabled }

// Lifecycle configures factors as an organisation manages them.
type Lifecycle struct {
	// ActivationLifetime is how long a factor waits for its activation (a first
	// passcode, a device) before it is deleted. Unset (0): 168h, 7 days.
	ActivationLifetime time.Duration `mapstructure:"activationLifetime"`
}

func (c *Config) validateAdmin(add func(path, format string, args ...any)) {
	if l := c.Admin.Listen; l != "" {
		if msg := checkListen(l); msg != "" {
			add("admin.listen", "%s", msg)
		} else if _, port, _ := net.SplitHostPort(l); l == c.Server.Listen && port != "0" {
			add("admin.listen", "is server.listen; leave it empty to serve the admin API there")
		}
		if !c.Admin.IsEnabled() {
			add("admin.listen", "is set but admin.enabled is false")
		}
	}
	if d := c.Lifecycle.ActivationLifetime; d != 0 && (d < time.Hour || d > 90*24*time.Hour) {
		add("lifecycle.activationLifetime", "must be between 1h and 2160h (90 days), not %s", d)
	}
}
