package adapter

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestDiscoveryLocation: /ServiceProviderConfig's meta.location was
// ".../ServiceProviderConfig/", with a trailing slash: a URL this server answers 404
// (RFC 7644 §4: the resource is at /ServiceProviderConfig). Each discovery resource's
// location is where it is served.
func TestDiscoveryLocation(t *testing.T) {
	h := newSyncHarness(t)
	code, out, _ := h.scim("GET", "/ServiceProviderConfig", "")
	if code != http.StatusOK {
		t.Fatalf("get: %d %v", code, out)
	}
	loc, _ := out["meta"].(map[string]any)["location"].(string)
	u, err := url.Parse(loc)
	if err != nil || !strings.HasSuffix(u.Path, "/ServiceProviderConfig") {
		t.Fatalf("location %q, want one ending /ServiceProviderConfig", loc)
	}
	if code, out, _ := h.scim("GET", strings.TrimPrefix(u.Path, SCIMPrefix), ""); code != http.StatusOK {
		t.Errorf("GET its location %s: %d %v", u.Path, code, out)
	}
}
