package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
)

// auditJSON is a line of `audit --json`, GET /admin/v1/audit's event: its action and user
// under the names the tests have always read them by (the store's Resource and Username).
type auditJSON struct {
	Time       time.Time `json:"time"`
	RequestID  string    `json:"requestId"`
	Provider   string    `json:"provider"`
	Username   string    `json:"user"`
	Capability string    `json:"capability"`
	FactorID   string    `json:"factorId"`
	Resource   string    `json:"action"`
	Outcome    string    `json:"outcome"`
	Reason     string    `json:"reason"`
	WebhookID  string    `json:"webhookId"`
	Actor      string    `json:"actor"`
}

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

// TestCLIAuditTimesAndKinds: emfa audit takes GET /admin/v1/audit's other filters, its
// action and outcome, and a window of time, written as RFC 3339, a date or a duration
// before now; what the API refuses it refuses, naming the flag and what it takes.
func TestCLIAuditTimesAndKinds(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	now := time.Now().Truncate(time.Millisecond)
	seedAudit(t, cfg,
		store.AuditEvent{Time: now.Add(-3 * time.Hour), Username: "alice", Resource: "validate", Outcome: "FAILED", RequestID: "req-old"},
		store.AuditEvent{Time: now.Add(-time.Hour), Username: "alice", Resource: "validate", Outcome: "SUCCESS", RequestID: "req-1"},
		store.AuditEvent{Time: now.Add(-time.Hour + time.Millisecond), Username: "alice", Resource: "admin.users.update", Outcome: "SUCCESS",
			Actor: "helpdesk", RequestID: "req-1"})
	lines := func(args ...string) string {
		t.Helper()
		printed := mustEmfa(t, append([]string{"audit", "--json", "--config", cfg}, args...)...)
		if printed == "" {
			return ""
		}
		var out []string
		for _, ev := range auditLines(t, printed) {
			out = append(out, ev.Resource+" "+ev.RequestID)
		}
		return strings.Join(out, "|")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--outcome", "FAILED"}, "validate req-old"},
		{[]string{"--action", "validate"}, "validate req-1|validate req-old"},
		{[]string{"--action", "admin.users.update", "--outcome", "SUCCESS"}, "admin.users.update req-1"},
		{[]string{"--action", "validate", "--since", "2h"}, "validate req-1"},
		{[]string{"--action", "validate", "--until", "2h"}, "validate req-old"},
		{[]string{"--since", "90m", "--until", "30m"}, "admin.users.update req-1|validate req-1"},
		{[]string{"--request-id", "req-1", "--since", now.Add(-time.Hour).UTC().Format(time.RFC3339Nano)}, "admin.users.update req-1|validate req-1"},
		{[]string{"--request-id", "req-1", "--since", now.Add(-time.Hour + time.Millisecond).Format(time.RFC3339Nano)}, "admin.users.update req-1"},
		{[]string{"--action", "validate", "--since", "2000-01-01", "--until", now.AddDate(0, 0, 2).Format(time.DateOnly)}, "validate req-1|validate req-old"},
		{[]string{"--since", now.AddDate(0, 0, 2).Format(time.DateOnly)}, ""},
	} {
		if got := lines(c.args...); got != c.want {
			t.Errorf("audit %s: %q, want %q", strings.Join(c.args, " "), got, c.want)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--action", "validat"}, `--action: must be one of enrollments, initiate, validate`},
		{[]string{"--action", "validat"}, `(did you mean "validate"?)`},
		{[]string{"--outcome", "failed"}, `--outcome: must be one of SUCCESS, FAILED, PENDING, CANCELED, TIMEOUT, SKIPPED, not "failed"`},
		{[]string{"--since", "yesterday"}, `--since: "yesterday" is not an RFC 3339 time (2026-12-05T09:00:00Z), a date (2026-12-05) or a duration before now (90m, 24h)`},
		{[]string{"--until", "-1h"}, `--until: "-1h" is not an RFC 3339 time`},
		{[]string{"--since", "1h", "--until", "2h"}, "--until: must be after since"},
	} {
		code, out, errOut := emfa(t, append([]string{"audit", "--config", cfg}, c.args...)...)
		if code != 2 || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("audit %s: exit %d, %q, stderr:\n%s\nwant exit 2 and %q", strings.Join(c.args, " "), code, out, errOut, c.want)
		}
	}
}

// TestCLIAuditShape: emfa audit --json prints GET /admin/v1/audit's events, key for key,
// and the table has the action as a column; both write times with three digits of
// milliseconds, so that they align and sort as text.
func TestCLIAuditShape(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	ev := store.AuditEvent{Time: at, Username: "alice", Provider: "emfa", Capability: "totp", FactorID: "f1",
		Resource: "validate", Outcome: "FAILED", Reason: "wrong code", RequestID: "req-1", WebhookID: "wh-1"}
	seedAudit(t, cfg, ev, store.AuditEvent{Time: at.Add(50 * time.Millisecond), Username: "alice", Resource: "admin.users.update",
		Outcome: "SUCCESS", Actor: "helpdesk"})

	lines := strings.Split(strings.TrimSpace(mustEmfa(t, "audit", "--json", "--user", "alice", "--config", cfg)), "\n")
	api, err := json.Marshal(lifecycle.AuditEvent{Time: at, User: "alice", Provider: "emfa", Capability: "totp", FactorID: "f1",
		Action: "validate", Outcome: "FAILED", Reason: "wrong code", RequestID: "req-1", WebhookID: "wh-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 || lines[2] != string(api) {
		t.Errorf("audit --json:\n%s\nwant its last line as the API's event:\n%s", strings.Join(lines, "\n"), api)
	}
	if !strings.HasPrefix(lines[1], `{"time":"2025-03-04T05:06:07.050Z","actor":"helpdesk","action":"admin.users.update"`) {
		t.Errorf("the admin event: %s", lines[1])
	}

	table := strings.Split(strings.TrimSpace(mustEmfa(t, "audit", "--user", "alice", "--config", cfg)), "\n")
	if len(table) != 4 || !strings.HasPrefix(table[0], "TIME ") || !regexp.MustCompile(`^TIME +ACTION +OUTCOME +USER `).MatchString(table[0]) {
		t.Fatalf("audit table:\n%s", strings.Join(table, "\n"))
	}
	times := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z  `)
	for _, row := range table[1:] {
		if !times.MatchString(row) {
			t.Errorf("a row without a fixed-width time: %q", row)
		}
	}
	if !strings.HasPrefix(table[3], "2025-03-04T05:06:07.000Z  validate  ") || !strings.HasPrefix(table[2], "2025-03-04T05:06:07.050Z  admin.users.update  ") {
		t.Errorf("audit table:\n%s", strings.Join(table, "\n"))
	}
}

// TestCLIFactorsListUse: factors list says when each factor was created and last used (a
// help desk's first question), and --json prints the admin API's factors.
func TestCLIFactorsListUse(t *testing.T) {
	cfg, id := aliceWithTOTP(t)
	mustEmfa(t, "factors", "add", "totp", "--user", "alice", "--name", "spare", "--config", cfg)
	used := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	dsn := regexp.MustCompile(`dsn: "([^"]+)"`).FindStringSubmatch(mustRead(t, cfg))[1]
	st, err := sqlite.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	// A successful validate records the factor's use.
	if err := st.AppendAudit(context.Background(), store.AuditEvent{Time: used, Username: "alice", FactorID: id,
		Resource: "validate", Outcome: "SUCCESS"}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	table := strings.Split(strings.TrimSpace(mustEmfa(t, "factors", "list", "--user", "alice", "--config", cfg)), "\n")
	if len(table) != 3 || !regexp.MustCompile(`^ID +TYPE +NAME +STATE +CREATED +LAST USED +FAILURES +LOCKED UNTIL$`).MatchString(table[0]) {
		t.Fatalf("factors list:\n%s", strings.Join(table, "\n"))
	}
	created := `20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`
	if row := lineWith(strings.Join(table, "\n"), id); !regexp.MustCompile(` active +` + created + ` +2025-03-04T05:06:07\.000Z +0 +-$`).MatchString(row) {
		t.Errorf("the factor used: %q", row)
	}
	if row := lineWith(strings.Join(table, "\n"), "spare"); !regexp.MustCompile(` active +` + created + ` +- +0 +-$`).MatchString(row) {
		t.Errorf("the factor never used: %q", row)
	}

	var got []lifecycle.Factor
	for _, line := range strings.Split(strings.TrimSpace(mustEmfa(t, "factors", "list", "--user", "alice", "--json", "--config", cfg)), "\n") {
		var f lifecycle.Factor
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		got = append(got, f)
	}
	if len(got) != 2 || got[0].ID != id || got[0].LastUsed == nil || !got[0].LastUsed.Equal(used) || got[1].LastUsed != nil ||
		got[1].Label != "spare" || got[0].Created.IsZero() || got[0].State != "active" {
		t.Errorf("factors list --json: %+v", got)
	}
	if code, _, errOut := emfa(t, "factors", "list", "--user", "nobody", "--json", "--config", cfg); code != 1 || !strings.Contains(errOut, `no user "nobody"`) {
		t.Errorf("factors list of nobody: exit %d, %q", code, errOut)
	}
}
