package adapter

import (
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// remotes sends one request from the socket address peer with headers, and returns the
// "remote" of its access log line and of its auth-failure line (when it had one).
func remotes(t *testing.T, proxies []string, peer string, hdr ...string) (access, authFailure string) {
	t.Helper()
	var prefixes []netip.Prefix
	for _, p := range proxies {
		prefixes = append(prefixes, netip.MustParsePrefix(p))
	}
	h := newHarness(t, func(o *Options) { o.TrustedProxies = prefixes })
	req := httptest.NewRequest("POST", "/v1/providers/acme/enrollments", strings.NewReader(`{"username":"a"}`))
	req.RemoteAddr = peer
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	h.srv.Handler().ServeHTTP(httptest.NewRecorder(), req)
	for _, l := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		var line map[string]any
		if err := json.Unmarshal([]byte(l), &line); err != nil {
			t.Fatal(err)
		}
		switch line["msg"] {
		case "request":
			access, _ = line["remote"].(string)
		case "inbound authentication failed":
			authFailure, _ = line["remote"].(string)
		}
	}
	return access, authFailure
}

// TestForgedClientAddress is issue 15 item 2: X-Forwarded-For and X-Real-IP are believed
// only from configured proxies.
func TestForgedClientAddress(t *testing.T) {
	forged := []string{"X-Forwarded-For", "203.0.113.9", "X-Real-IP", "203.0.113.8", "Authorization", "Basic d3Jvbmc6d3Jvbmc="}
	for _, c := range []struct {
		name    string
		proxies []string
		peer    string
		hdr     []string
		want    string
	}{
		{"no proxies configured", nil, "198.51.100.7:4000", forged, "198.51.100.7"},
		{"loopback is no proxy unless configured", nil, "127.0.0.1:4000", forged, "127.0.0.1"},
		{"private peer not configured", []string{"192.0.2.0/24"}, "10.0.0.5:4000", forged, "10.0.0.5"},
		{"configured proxy", []string{"192.0.2.0/24"}, "192.0.2.10:4000", forged, "203.0.113.9"},
		{"chain: the nearest untrusted hop", []string{"192.0.2.0/24"}, "192.0.2.10:4000",
			[]string{"X-Forwarded-For", "6.6.6.6, 203.0.113.9, 192.0.2.11", "Authorization", "Basic d3Jvbmc6d3Jvbmc="}, "203.0.113.9"},
		{"garbage from a proxy", []string{"192.0.2.10/32"}, "192.0.2.10:4000",
			[]string{"X-Forwarded-For", "not-an-ip", "Authorization", "Basic d3Jvbmc6d3Jvbmc="}, "192.0.2.10"},
		{"IPv6 proxy", []string{"2001:db8::/32"}, "[2001:db8::1]:4000", forged, "203.0.113.9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			access, auth := remotes(t, c.proxies, c.peer, c.hdr...)
			if access != c.want || auth != c.want {
				t.Errorf("remote: access log %q, auth failure %q; want %q", access, auth, c.want)
			}
		})
	}
}
