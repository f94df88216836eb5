package adapter

import (
	"net/http"
	"strings"
	"testing"
)

// TestAuditOffsetPlus: an audit bound with a positive UTC offset pasted into the
// query as written, ?since=2026-06-01T12:00:00+02:00, reaches emfa with a space for the
// '+' (a '+' in a query is a space), and was refused "must be an RFC 3339 time": a
// caller who sent one was told they had not. The refusal now says what happened and to
// send the '+' as %2B; sent so, the time is taken.
func TestAuditOffsetPlus(t *testing.T) {
	h := newAdminHarness(t)
	code, out := h.admin(t, h.read, "GET", AdminPrefix+"/audit?since=2026-06-01T12:00:00+02:00", "")
	e, _ := out["error"].(map[string]any)
	if msg, _ := e["message"].(string); code != http.StatusBadRequest || e["field"] != "since" || !strings.Contains(msg, "%2B") {
		t.Errorf("an unencoded '+': %d %v, want 400 naming since and saying to send %%2B", code, out)
	}
	if code, out := h.admin(t, h.read, "GET", AdminPrefix+"/audit?since=2026-06-01T12:00:00%2B02:00", ""); code != http.StatusOK {
		t.Errorf("the '+' sent as %%2B: %d %v", code, out)
	}
	code, out = h.admin(t, h.read, "GET", AdminPrefix+"/audit?until=yesterday", "")
	if e, _ := out["error"].(map[string]any); code != http.StatusBadRequest || e["message"] != "must be an RFC 3339 time" {
		t.Errorf("a value that is no time: %d %v, want the message as before", code, out)
	}
}
