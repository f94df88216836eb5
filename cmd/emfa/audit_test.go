package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
)

// seedAudit appends evs to the store of cfg, in one commit, as alice's change (the admin
// API and the decisions write rows the CLI alone cannot).
func seedAudit(t *testing.T, cfg string, evs ...store.AuditEvent) {
	t.Helper()
	dsn := regexp.MustCompile(`dsn: "([^"]+)"`).FindStringSubmatch(mustRead(t, cfg))[1]
	st, err := sqlite.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.ApplyUserChanges(context.Background(), []store.UserChange{{Name: "alice", Audit: evs, Now: time.Now()}})[0]; err != nil {
		t.Fatal(err)
	}
}

// TestCLIAuditFilters: emfa audit finds what one actor did and what one request did, as
// GET /admin/v1/audit does, and pages through more events than one page of the API.
func TestCLIAuditFilters(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	at := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var evs []store.AuditEvent
	for i := range 1005 {
		evs = append(evs, store.AuditEvent{Time: at.Add(time.Duration(i) * time.Millisecond), Username: "alice",
			Resource: "validate", Outcome: "SUCCESS", RequestID: fmt.Sprintf("req-%d", i)})
	}
	evs = append(evs, store.AuditEvent{Time: at, Username: "alice", Resource: "admin.users.update", Outcome: "SUCCESS",
		Actor: "helpdesk", RequestID: "req-7"})
	seedAudit(t, cfg, evs...)

	lines := func(args ...string) []string {
		t.Helper()
		var out []string
		for _, ev := range auditLines(t, mustEmfa(t, append([]string{"audit", "--json", "--config", cfg}, args...)...)) {
			out = append(out, ev.Resource+" "+ev.RequestID+" "+ev.Actor)
		}
		return out
	}
	if got, want := strings.Join(lines("--actor", "helpdesk"), "|"), "admin.users.update req-7 helpdesk"; got != want {
		t.Errorf("--actor helpdesk: %q, want %q", got, want)
	}
	if got, want := strings.Join(lines("--request-id", "req-7"), "|"), "validate req-7 |admin.users.update req-7 helpdesk"; got != want {
		t.Errorf("--request-id req-7: %q, want %q", got, want)
	}
	if got := lines("--actor", "cli", "--limit", "5"); len(got) != 1 || !strings.HasPrefix(got[0], "admin.users.create") {
		t.Errorf("--actor cli: %q", got)
	}
	// More than the API's largest page (1000), through its cursor.
	if got := lines("--limit", "1003"); len(got) != 1003 || got[1] != "validate req-1004 " || got[1002] != "validate req-3 " {
		t.Errorf("--limit 1003: %d events, the second %q", len(got), got[1])
	}
}
