package adapter

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
)

// TestLocationScheme: meta.location (and a create's Location) names the scheme
// the client used: https on a TLS connection, or what X-Forwarded-Proto says when the
// connection is from one of server.trustedProxies (a TLS-terminating ingress), http
// otherwise: the rule X-Forwarded-For follows (proxy.go). echo's default believed the
// forwarding headers from any loopback, link-local or private address (anyone inside the
// cluster made the location https:// over plain HTTP), and not from a configured proxy at
// a public address (a cloud load balancer's https was answered http://).
func TestLocationScheme(t *testing.T) {
	lb := newSyncHarnessOn(t, testdb.SQLite(t), func(o *Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	})
	none := newSyncHarness(t)
	for _, tc := range []struct {
		name string
		h    *syncHarness
		peer string
		tls  bool
		hdr  []string
		want string
	}{
		{"a private address not among the proxies", lb, "10.1.2.3:4000", false, []string{"X-Forwarded-Proto", "https"}, "http://"},
		{"loopback, not among the proxies", lb, "127.0.0.1:4000", false, []string{"X-Forwarded-Ssl", "on"}, "http://"},
		{"a stranger", lb, "203.0.113.9:4000", false, []string{"X-Forwarded-Proto", "https"}, "http://"},
		{"a private address, no proxies configured", none, "10.1.2.3:4000", false, []string{"X-Forwarded-Proto", "https"}, "http://"},
		{"a trusted proxy", lb, "198.51.100.7:4000", false, []string{"X-Forwarded-Proto", "https"}, "https://"},
		{"a trusted proxy, in capitals", lb, "198.51.100.7:4000", false, []string{"X-Forwarded-Proto", "HTTPS"}, "https://"},
		{"a trusted proxy's list, its own last", lb, "198.51.100.7:4000", false, []string{"X-Forwarded-Proto", "http, https"}, "https://"},
		{"a trusted proxy's other scheme", lb, "198.51.100.7:4000", false, []string{"X-Forwarded-Proto", "javascript"}, "http://"},
		{"a trusted proxy without it", lb, "198.51.100.7:4000", false, nil, "http://"},
		{"TLS", lb, "203.0.113.9:4000", true, []string{"X-Forwarded-Proto", "http"}, "https://"},
	} {
		_, path := tc.h.created("/Users", `{"userName":"`+strings.ReplaceAll(tc.name, " ", "-")+`@example.com"}`)
		req := httptest.NewRequest("GET", SCIMPrefix+path, nil)
		req.RemoteAddr = tc.peer
		if tc.tls {
			req.TLS = &tls.ConnectionState{}
		}
		req.Header.Set("Authorization", "Bearer "+testSCIMToken)
		for i := 0; i+1 < len(tc.hdr); i += 2 {
			req.Header.Set(tc.hdr[i], tc.hdr[i+1])
		}
		rec := httptest.NewRecorder()
		tc.h.h.ServeHTTP(rec, req)
		var out struct {
			Meta struct {
				Location string `json:"location"`
			} `json:"meta"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
			t.Fatalf("%s: GET %s: %d %s", tc.name, path, rec.Code, rec.Body)
		}
		if want := tc.want + "example.com" + SCIMPrefix + path; out.Meta.Location != want {
			t.Errorf("%s: meta.location %q, want %q", tc.name, out.Meta.Location, want)
		}
	}
	// A create's Location header is the same URL.
	req := httptest.NewRequest("POST", SCIMPrefix+"/Groups", strings.NewReader(`{"displayName":"loc"}`))
	req.RemoteAddr = "10.1.2.3:4000"
	req.Header.Set("Authorization", "Bearer "+testSCIMToken)
	req.Header.Set("Content-Type", scimContentType)
	req.Header.Set("X-Forwarded-Proto", "https")
	rec := httptest.NewRecorder()
	lb.h.ServeHTTP(rec, req)
	if loc := rec.Header().Get("Location"); rec.Code != http.StatusCreated || !strings.HasPrefix(loc, "http://example.com"+SCIMPrefix+"/Groups/") {
		t.Errorf("POST /Groups from a private address not a proxy, X-Forwarded-Proto https: %d, Location %q", rec.Code, loc)
	}
}

// TestLocationHost: meta.location's host is the request's Host, whoever sent it;
// X-Forwarded-Host and Forwarded are never read, from a stranger or from one of
// server.trustedProxies, so no header beside Host steers it, and a caller's Host names
// only the location of its own answer (the resource's version, meta.version, leaves
// location out).
func TestLocationHost(t *testing.T) {
	lb := newSyncHarnessOn(t, testdb.SQLite(t), func(o *Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}
	})
	_, path := lb.created("/Users", `{"userName":"host@example.com"}`)
	forged := []string{"X-Forwarded-Host", "evil.example", "Forwarded", "host=evil.example;proto=https", "X-Forwarded-Server", "evil.example"}
	var version string
	for _, tc := range []struct {
		name, peer, host string
		hdr              []string
	}{
		{"a stranger", "203.0.113.9:4000", "", forged},
		{"a trusted proxy", "198.51.100.7:4000", "", forged},
		{"a trusted proxy, its Host", "198.51.100.7:4000", "mfa.example.net", forged},
		{"a stranger, its Host", "203.0.113.9:4000", "other.example:8443", nil},
	} {
		req := httptest.NewRequest("GET", SCIMPrefix+path, nil)
		req.RemoteAddr = tc.peer
		if tc.host != "" {
			req.Host = tc.host
		}
		req.Header.Set("Authorization", "Bearer "+testSCIMToken)
		for i := 0; i+1 < len(tc.hdr); i += 2 {
			req.Header.Set(tc.hdr[i], tc.hdr[i+1])
		}
		rec := httptest.NewRecorder()
		lb.h.ServeHTTP(rec, req)
		var out struct {
			Meta struct {
				Location, Version string
			} `json:"meta"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
			t.Fatalf("%s: GET %s: %d %s", tc.name, path, rec.Code, rec.Body)
		}
		host := tc.host
		if host == "" {
			host = "example.com"
		}
		if want := "http://" + host + SCIMPrefix + path; out.Meta.Location != want {
			t.Errorf("%s: meta.location %q, want %q", tc.name, out.Meta.Location, want)
		}
		if version == "" {
			version = out.Meta.Version
		} else if out.Meta.Version != version {
			t.Errorf("%s: meta.version %q, want %q whatever the host", tc.name, out.Meta.Version, version)
		}
	}
}
