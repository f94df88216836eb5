package config

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// MinSecretChars is the shortest inbound secret (Basic password, header value) emfa
// accepts unless server.auth.allowWeakSecrets is true: 16 characters of a random
// alphabet are about 96 bits or more; the passwords emfa generates have 192.
const MinSecretChars = 16

// validateSecurity checks the settings that keep an attacker out: the strength of the
// inbound secrets and the proxies whose X-Forwarded-For is believed.
func (c *Config) validateSecurity(add func(path, format string, args ...any)) {
	a := c.Server.Auth
	weak := func(path string, s Secret) {
		v := s.Reveal()
		if v == "" {
			return // reported as empty elsewhere
		}
		if strings.TrimSpace(v) != v {
			// HTTP drops a header value's surrounding blanks: it could never match.
			add(path, "must not begin or end with white space")
			return
		}
		if n := utf8.RuneCountInString(v); n < MinSecretChars && !a.AllowWeakSecrets {
			add(path, "too short (%d characters): an inbound secret needs at least %d, since anyone who reaches emfa can guess at it "+
				"(generate one with `openssl rand -base64 24`), or set server.auth.allowWeakSecrets: true (EMFA_SERVER_AUTH_ALLOWWEAKSECRETS=true)", n, MinSecretChars)
		}
	}
	if a.Basic != nil {
		weak("server.auth.basic.password", a.Basic.Password)
	}
	if a.Header != nil {
		weak("server.auth.header.value", a.Header.Value)
	}
	// A bearer token as well: one with surrounding blanks could never match (the
	// handler trims what it receives).
	weak("metrics.token", c.Metrics.Token)
	if a.AllowWeakSecrets {
		c.Warnings = append(c.Warnings, "server.auth.allowWeakSecrets is true: inbound secrets shorter than 16 characters are accepted")
	}
	for i, p := range c.Server.TrustedProxies {
		if _, err := parseProxy(p); err != nil {
			add(fmt.Sprintf("server.trustedProxies[%d]", i), "not an IP address or CIDR range (e.g. 10.0.0.0/8)")
		}
	}
}

// parseProxy reads a CIDR range, or one address as a range of one.
func parseProxy(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if addr, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p.Masked(), nil
}

// ProxyPrefixes are server.trustedProxies parsed (Validate has checked them).
func (s Server) ProxyPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range s.TrustedProxies {
		if prefix, err := parseProxy(p); err == nil {
			out = append(out, prefix)
		}
	}
	return out
}
