package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/emfa/emfa/adapter"
)

// TestAdminListenerBelievesTrustedProxies: server.trustedProxies names the proxies whose
// X-Forwarded-For is the client, for the logs and the throttles, on every listener. The
// admin API's own listener (admin.listen) ignored it: behind the same ingress, every
// admin caller was logged and throttled as the proxy.
func TestAdminListenerBelievesTrustedProxies(t *testing.T) {
	for _, listen := range []string{"", "  listen: \"127.0.0.1:0\"\n"} {
		cfg := writeConfig(t, "")
		b := strings.Replace(mustRead(t, cfg), "server:\n", "server:\n  trustedProxies: [\"192.0.2.0/24\"]\n", 1)
		if err := os.WriteFile(cfg, []byte(b+"admin:\n  enabled: true\n"+listen), 0o600); err != nil {
			t.Fatal(err)
		}
		e := openTestEnv(t, cfg)
		var buf lockedLog
		e.log = slog.New(adapter.NewLogHandler(&buf, nil))
		snap, err := e.snapshot(snapshotOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h := snap.handler
		if snap.admin != nil {
			h = snap.admin
		}
		req := httptest.NewRequest(http.MethodGet, "/admin/v1/users", nil) // RemoteAddr 192.0.2.1
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("admin.listen %q: an unauthenticated list answered %d", listen, rec.Code)
		}
		if !strings.Contains(buf.String(), `"remote":"203.0.113.9"`) {
			t.Errorf("admin.listen %q: the trusted proxy's X-Forwarded-For is not the client in the log:\n%s", listen, buf.String())
		}
	}
}
