package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/duoadminfake"
)

// The whole of issue 12's propagation, through real processes' paths: Okta's event hook
// posts to `emfa serve`, the durable queue applies each event to emfa's store and hands it
// to the remote provider of testdata/config/duo-admin.yaml, whose lifecycle resources
// drive the DUO Admin API fake — which checks every signature.
func TestOktaEventsReachDUOAdmin(t *testing.T) {
	dir := t.TempDir()
	duo := duoAdmin(t, servingEnv, map[string]string{"EMFA_STORAGE_DSN": "file:" + filepath.Join(dir, "emfa.db")})
	base, err := os.ReadFile(duoAdminConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "emfa.yaml")
	sync := "\nsync:\n  okta: {enabled: true, secretHeader: {name: X-Okta-Secret, value: \"okta-secret-0123456789\"}}\n  settle: 1s\n"
	if err := os.WriteFile(cfg, append(base, sync...), 0o600); err != nil {
		t.Fatal(err)
	}
	app := fakeCLI()
	url, logs, _ := app.serve(t, "--config", cfg)
	okta := func(events ...string) {
		t.Helper()
		code, _ := syncPost(t, url+"/sync/okta", `{"eventType":"com.okta.event_hook","data":{"events":[`+strings.Join(events, ",")+`]}}`,
			"X-Okta-Secret", "okta-secret-0123456789")
		if code != 204 {
			t.Fatalf("okta hook: %d", code)
		}
	}
	event := func(id, typ string, sec int) string {
		return `{"uuid":"` + id + `","published":"2026-05-01T09:00:0` + string(rune('0'+sec)) + `Z","eventType":"` + typ +
			`","target":[{"type":"User","alternateId":"olga","displayName":"Olga O"}]}`
	}
	// until waits, past the queue's settle time, for the fake's state to say done.
	until := func(what string, done func(u duoadminfake.User, ok bool) bool) {
		t.Helper()
		app.clock.Advance(2 * time.Second)
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if done(duo.User("olga")) {
				return
			}
		}
		for _, r := range duo.Requests() {
			t.Logf("DUO saw %s %s %d %s", r.Method, r.Path, r.Status, r.Reject)
		}
		u, ok := duo.User("olga")
		t.Fatalf("%s never reached DUO: %+v (exists %v)\n%s", what, u, ok, logs)
	}

	// Olga is already in DUO, with a phone and a token enrolled there; Okta's create finds
	// her and creates nothing twice.
	duo.AddUser(duoadminfake.User{Username: "olga", Realname: "Olga O", Status: "active",
		Phones: []duoadminfake.Phone{{PhoneID: "DPPHONE1", Number: "+15551230123", Type: "mobile"}},
		Tokens: []duoadminfake.Token{{TokenID: "DHTOKEN1", Serial: "123", Type: "h6"}}})
	okta(event("o1", "user.lifecycle.create", 1))
	until("create", func(u duoadminfake.User, ok bool) bool { return ok && u.Status == "active" })
	// Suspended, then "reset all factors": DUO's phone and token are removed.
	okta(event("o2", "user.lifecycle.suspend", 2), event("o3", "user.mfa.factor.reset_all", 3))
	until("suspend and reset", func(u duoadminfake.User, ok bool) bool {
		return ok && u.Status == "disabled" && len(u.Phones) == 0 && len(u.Tokens) == 0
	})
	// Delivered twice, as Okta may: the duplicate changes nothing.
	okta(event("o4", "user.lifecycle.delete.initiated", 4), event("o4", "user.lifecycle.delete.initiated", 4))
	until("delete", func(_ duoadminfake.User, ok bool) bool { return !ok })

	deletes := 0
	for _, r := range duo.Requests() {
		if r.Reject != "" {
			t.Errorf("DUO refused %s %s: %s", r.Method, r.Path, r.Reject)
		}
		if r.Method == "POST" && r.Path == "/admin/v1/users" {
			t.Errorf("DUO was asked to create olga, who was there already")
		}
		if r.Method == "DELETE" && strings.HasPrefix(r.Path, "/admin/v1/users/") && !strings.Contains(r.Path, "/phones/") && !strings.Contains(r.Path, "/tokens/") {
			deletes++
		}
	}
	if deletes != 1 {
		t.Errorf("%d user deletes reached DUO for one delete delivered twice, want 1", deletes)
	}
}
