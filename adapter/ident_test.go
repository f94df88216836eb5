package adapter

import (
	"net/http"
	"strings"
	"testing"
)

// TestDeviceIdentifiersNeverReachTheStore: a device id or challenge id no store could
// hold (PostgreSQL refuses invalid UTF-8 and NUL) is refused at the edge like an unknown
// one, so it answers alike on every store.
func TestDeviceIdentifiersNeverReachTheStore(t *testing.T) {
	h, d := deviceHarness(t)
	hdr := append([]string{}, signedHeaders...)
	hdr[1] = "dev-\xff"
	code, body, _ := h.do(t, "GET", "/v1/devices/challenges", "", hdr...)
	if code != http.StatusUnauthorized || errorID(t, body) != "unauthorized" || d.signed.DeviceID != "" {
		t.Errorf("invalid UTF-8 device id: %d %s (service saw %q)", code, body, d.signed.DeviceID)
	}
	code, body, _ = h.do(t, "POST", "/v1/devices/challenges/ch%00", `{"decision":"approve"}`, signedHeaders...)
	if code != http.StatusNotFound || errorID(t, body) != "not_found" || d.answered != [3]string{} {
		t.Errorf("NUL in a challenge id: %d %s (service saw %v)", code, body, d.answered)
	}
}

// TestLogLinesBounded is issue 15 item 5: a caller-chosen path of 20 KB reached the access
// log and the auth-failure line verbatim.
func TestLogLinesBounded(t *testing.T) {
	h := newHarness(t, nil)
	long := "/v1/providers/acme/" + strings.Repeat("x", 20<<10)
	h.do(t, "POST", long, `{}`)
	h.do(t, "POST", long, `{}`, "X-None", "1")
	for _, line := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		if len(line) > 2<<10 || !strings.Contains(line, "…[truncated]") {
			t.Errorf("log line of %d bytes without a truncation marker: %.200s", len(line), line)
		}
	}
}
