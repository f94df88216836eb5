package adapter

import (
	"net/http"
	"testing"
)

// TestAdminBearerScheme: the scheme of an Authorization header is case-insensitive (RFC
// 9110 §11.1), on the admin API as on the contract.
func TestAdminBearerScheme(t *testing.T) {
	h := newAdminHarness(t)
	for _, scheme := range []string{"Bearer", "bearer", "BEARER", "bEaReR"} {
		code, text, _ := h.do(t, "GET", "/admin/v1/users", "", "Authorization", scheme+" "+h.read)
		if code != http.StatusOK {
			t.Errorf("%s: %d %s", scheme, code, text)
		}
	}
	for _, hdr := range []string{"Basic " + h.read, "Bearer", "Bearer ", "Bearer" + h.read, h.read} {
		if code, _, _ := h.do(t, "GET", "/admin/v1/users", "", "Authorization", hdr); code != http.StatusUnauthorized {
			t.Errorf("%.12q: %d, want 401", hdr, code)
		}
	}
}

// TestSCIMBearerScheme: SCIM's bearer token is read in any case of its scheme too.
func TestSCIMBearerScheme(t *testing.T) {
	h := newSyncHarness(t)
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		if code, body, _ := h.do("GET", SCIMPrefix+"/Users", "", "Authorization", scheme+" "+testSCIMToken); code != http.StatusOK {
			t.Errorf("%s: %d %v", scheme, code, body)
		}
	}
	if code, _, _ := h.do("GET", SCIMPrefix+"/Users", "", "Authorization", "Basic "+testSCIMToken); code != http.StatusUnauthorized {
		t.Errorf("Basic: %d, want 401", code)
	}
}
