package adapter

import (
	"net"
	"net/netip"

	"github.com/labstack/echo/v4"
)

// ipExtractor decides which address the logs call "remote" (c.RealIP). X-Forwarded-For is
// believed only from the configured proxies, walking it from the right past them to the
// nearest address not among them (echo.ExtractIPFromXFFHeader); without proxies, or from
// anyone else, it is the socket's peer. X-Real-IP is never believed: a caller forged both
// to hide its address from the access log and the auth-failure lines. echo trusts
// loopback, link-local and private addresses by default; emfa trusts only what it is told.
func ipExtractor(proxies []netip.Prefix) echo.IPExtractor {
	if len(proxies) == 0 {
		return echo.ExtractIPDirect()
	}
	return echo.ExtractIPFromXFFHeader(proxyTrust(proxies)...)
}

// schemeExtractor decides the scheme SCIM's meta.location and Location name (c.Scheme):
// https on a TLS connection; from one of the configured proxies, what its
// X-Forwarded-Proto says (a TLS-terminating ingress: https), http otherwise. The same
// proxies as X-Forwarded-For's: echo's default believed the forwarding headers from any
// loopback, link-local or private address, and not from a proxy at a public address.
func schemeExtractor(proxies []netip.Prefix) echo.SchemeExtractor {
	if len(proxies) == 0 {
		return echo.ExtractSchemeDirect()
	}
	return echo.ExtractSchemeFromHeaders(proxyTrust(proxies)...)
}

// proxyTrust are echo's trust options for proxies, and no one else.
func proxyTrust(proxies []netip.Prefix) []echo.TrustOption {
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range proxies {
		p = p.Masked()
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return opts
}
