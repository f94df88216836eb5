package config

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emfa/emfa/internal/phone"
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
	// TLS serves Listen over HTTPS with a certificate of its own, and may require a client
	// certificate. Unset: server.tls's certificate and key, when server.tls is set (see
	// AdminTLS).
	TLS *TLS `mapstructure:"tls"`
	// Plaintext serves Listen over plain HTTP even where server.tls is set, and says that
	// a listener off loopback is meant to be so: the network protects it (a NetworkPolicy,
	// a service mesh's mTLS, a published port on the host's loopback).
	Plaintext bool `mapstructure:"plaintext"`
}

// AdminTLS is what admin.listen serves HTTPS with: admin.tls, else server.tls's
// certificate and key. Not server.tls's client CA: that admits Verify, and the admin API
// admits by token (admin.tls can require a client certificate there). Nil: plain HTTP,
// or no listener of the admin API's own.
func (c *Config) AdminTLS() *TLS {
	a := c.Admin
	switch {
	case a.Listen == "" || !a.IsEnabled() || a.Plaintext:
		return nil
	case a.TLS != nil:
		return a.TLS
	case c.Server.TLS != nil:
		return &TLS{Cert: c.Server.TLS.Cert, Key: c.Server.TLS.Key}
	}
	return nil
}

// IsEnabled reports whether the admin API is served.
func (a Admin) IsEnabled() bool { return a.Enabled == nil || *a.Enabled }

// Lifecycle configures factors as an organisation manages them.
type Lifecycle struct {
	// ActivationLifetime is how long a factor waits for its activation (a first
	// passcode, a device) before it is deleted. Unset (0): 168h, 7 days.
	ActivationLifetime time.Duration `mapstructure:"activationLifetime"`
	// DefaultCountry is the country (ISO 3166-1 alpha-2: US, GB, DE) whose national phone
	// numbers ("020 7946 0958", "(555) 010-0199") users' profiles, enrollments, imports,
	// directory sync and the self-service page take, stored in E.164. Unset: a number
	// must say its country (+44..., 0044...).
	DefaultCountry string `mapstructure:"defaultCountry"`
}

func (c *Config) validateAdmin(add func(path, format string, args ...any)) {
	if l := c.Admin.Listen; l != "" {
		if msg := checkListen(l); msg != "" {
			add("admin.listen", "%s", msg)
		} else if _, port, _ := net.SplitHostPort(l); l == c.Server.Listen && port != "0" {
			add("admin.listen", "is server.listen; leave it empty to serve the admin API there")
		} else if overlaps(l, c.Server.Listen) {
			add("admin.listen", "is on server.listen's port at an address that overlaps it (one of them on every address, "+
				"or the same address written otherwise): the second could not listen; take another port, "+
				"or leave admin.listen empty to serve the admin API on server.listen")
		}
		if !c.Admin.IsEnabled() {
			add("admin.listen", "is set but admin.enabled is false")
		}
	} else {
		if c.Admin.TLS != nil {
			add("admin.tls", "needs admin.listen: on server.listen the admin API is served with server.tls")
		}
		if c.Admin.Plaintext {
			add("admin.plaintext", "needs admin.listen: on server.listen the admin API is served as server.listen is")
		}
	}
	if t := c.Admin.TLS; t != nil {
		if c.Admin.Plaintext {
			add("admin.plaintext", "set admin.tls or admin.plaintext, not both")
		}
		validateTLS("admin.tls", t, add)
		if t.ClientCA != "" && !t.RequireClientCert {
			add("admin.tls.clientCA", "needs admin.tls.requireClientCert: true: the admin API admits by token, so a client certificate not required would keep nobody out")
		}
	}
	if d := c.Lifecycle.ActivationLifetime; d != 0 && (d < time.Hour || d > 90*24*time.Hour) {
		add("lifecycle.activationLifetime", "must be between 1h and 2160h (90 days), not %s", d)
	}
	if code := c.Lifecycle.DefaultCountry; code != "" {
		if err := phone.CheckRegion(code); err != nil {
			add("lifecycle.defaultCountry", "%q %v", code, err)
		}
	}
}

// overlaps reports whether listen addresses a and b (checked as such) could not both be
// bound: the same port, other than 0, and one of them on every address ("", 0.0.0.0, ::)
// or both on the same address, however written (LOCALHOST, ::1 as 0:0:0:0:0:0:0:1,
// localhost as 127.0.0.1).
func overlaps(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	na, errPA := strconv.Atoi(pa)
	nb, errPB := strconv.Atoi(pb)
	if errA != nil || errB != nil || errPA != nil || errPB != nil || na != nb || na == 0 {
		return false
	}
	every := func(h string) bool { ip := net.ParseIP(h); return h == "" || ip != nil && ip.IsUnspecified() }
	if every(ha) || every(hb) || strings.EqualFold(ha, hb) {
		return true
	}
	// Go listens on localhost at its first IPv4 address, 127.0.0.1 (beside [::1] both listen).
	for _, h := range []*string{&ha, &hb} {
		if strings.EqualFold(*h, "localhost") {
			*h = "127.0.0.1"
		}
	}
	ipa, ipb := net.ParseIP(ha), net.ParseIP(hb)
	return ipa != nil && ipa.Equal(ipb)
}

// validateTLS checks a TLS section at path (server.tls, admin.tls).
func validateTLS(path string, t *TLS, add func(path, format string, args ...any)) {
	// Each at its own path: one from an unset ${NAME} is that variable's problem.
	if t.Cert == "" {
		add(path+".cert", "is required: %s needs both cert and key", path)
	}
	if t.Key == "" {
		add(path+".key", "is required: %s needs both cert and key", path)
	}
	if t.RequireClientCert && t.ClientCA == "" {
		add(path+".requireClientCert", "needs %s.clientCA", path)
	}
}

// warnExposed warns of what a listener off loopback serves to anyone who reaches it:
// /metrics without a token or the admin API beside Verify's contract, or the admin API in
// plain HTTP. Loopback (the first run, the default) is quiet.
func (c *Config) warnExposed() {
	warn := func(msg string) { c.Warnings = append(c.Warnings, msg) }
	onContract := c.Admin.Listen == "" || !c.Admin.IsEnabled() // where /metrics is served, too
	if !isLoopback(c.Server.Listen) && onContract {
		if c.Metrics.IsEnabled() && c.Metrics.Token == "" {
			warn("metrics.token is not set: /metrics answers anyone who reaches server.listen, which is not on loopback, " +
				"with emfa's version and its counts of failed authentications and lockouts: set metrics.token, " +
				"or admin.listen to serve /metrics on an internal network (or metrics.enabled: false)")
		}
		if c.Admin.IsEnabled() {
			warn("admin.listen is not set: the admin API is served on server.listen, which is not on loopback, " +
				"beside Verify's contract: set admin.listen to serve it on an internal network only (or admin.enabled: false)")
		}
	}
	if !onContract && !isLoopback(c.Admin.Listen) && c.AdminTLS() == nil && !c.Admin.Plaintext {
		warn("admin.listen is not on loopback and serves plain HTTP: admin tokens, TOTP seeds and activation links " +
			"cross the network in clear: set server.tls (or admin.tls) to serve HTTPS, or admin.plaintext: true " +
			"where the network protects it")
	}
}

// isLoopback reports whether a listen address is on this host only. A host name other
// than localhost may resolve anywhere; a malformed address is another check's error.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err != nil || LoopbackHost(host)
}
