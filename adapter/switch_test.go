package adapter

import (
	"net/http"
	"strings"
	"testing"
)

// TestSwitchSaysWhoIsStranded: switching a capability off answers how many
// enabled users it leaves with no factor to sign in with (every usable factor of theirs
// is of a type switched off), and a warning saying so. Before, the answer was the switch
// alone: an administrator turning totp off for a vendor's outage learnt nothing of the
// users whose only factor was an authenticator app.
func TestSwitchSaysWhoIsStranded(t *testing.T) {
	h := newAdminHarness(t)
	for _, c := range []struct{ path, body string }{
		{"/admin/v1/users", `{"name":"only-totp"}`},
		{"/admin/v1/users/only-totp/factors", `{"type":"totp","activation":"immediate"}`},
		{"/admin/v1/users", `{"name":"totp-and-sms","phone":"+15555550100"}`},
		{"/admin/v1/users/totp-and-sms/factors", `{"type":"totp","activation":"immediate"}`},
		{"/admin/v1/users/totp-and-sms/factors", `{"type":"smsotp","activation":"onFirstUse","params":{"phone":"+15555550100"}}`},
		{"/admin/v1/users", `{"name":"pending-totp"}`}, // its factor waits for its code: it has no way in yet anyway
		{"/admin/v1/users/pending-totp/factors", `{"type":"totp"}`},
		{"/admin/v1/users", `{"name":"disabled-user","state":"disabled"}`},
		{"/admin/v1/users/disabled-user/factors", `{"type":"totp","activation":"immediate"}`},
		{"/admin/v1/users", `{"name":"no-factor"}`},
	} {
		if code, out := h.admin(t, h.write, "POST", c.path, c.body); code != http.StatusCreated {
			t.Fatalf("POST %s: %d %v", c.path, code, out)
		}
	}
	code, out := h.admin(t, h.write, "POST", "/admin/v1/switches/acme/totp/disable", `{"reason":"authenticator vendor outage"}`)
	if code != http.StatusOK {
		t.Fatalf("disable: %d %v", code, out)
	}
	warnings, _ := out["warnings"].([]any)
	if out["stranded"] != float64(1) || len(warnings) != 1 || !strings.Contains(warnings[0].(string), "1 user ") {
		t.Errorf("disable totp: stranded %v, warnings %v; want 1 and one warning naming 1 user", out["stranded"], out["warnings"])
	}
	// Enabled again: nobody is left without a way in, and nothing is said.
	code, out = h.admin(t, h.write, "POST", "/admin/v1/switches/acme/totp/enable", "")
	if _, ok := out["stranded"]; code != http.StatusOK || ok || out["warnings"] != nil {
		t.Errorf("enable totp: %d %v; want no stranded count, no warnings", code, out)
	}
}
