package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emfa/emfa/lifecycle"
)

// TestUsersShowAndSet: users show prints a user's profile, as a person reads it and as
// the admin API's JSON; users set changes only the fields its flags name, with the admin
// API's checks, reads a national number as the country given with it, edits the groups
// against the user's own, clears a field given empty, says when it changed nothing, and
// records each change and refusal in the audit trail.
func TestUsersShowAndSet(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "Alice", "--email", "alice@example.com", "--group", "staff", "--group", "vpn", "--config", cfg)

	show := func() lifecycle.User {
		t.Helper()
		var u lifecycle.User
		out := mustEmfa(t, "users", "show", "alice", "--json", "--config", cfg)
		if err := json.Unmarshal([]byte(out), &u); err != nil || strings.Count(out, "\n") != 1 {
			t.Fatalf("users show --json: %q: %v", out, err)
		}
		return u
	}
	if u := show(); u.Name != "Alice" || u.State != "active" || u.Email != "alice@example.com" || !slices.Equal(u.Groups, []string{"staff", "vpn"}) {
		t.Errorf("users show --json: %+v", u)
	}
	text := mustEmfa(t, "users", "show", "ALICE", "--config", cfg) // names match in any case
	for _, want := range []string{"name:          Alice\n", "email:         alice@example.com\n", "phone:         -\n", "groups:        staff, vpn\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("users show lacks %q:\n%s", want, text)
		}
	}

	// A national number with the country that reads it, in one change; the groups edited.
	if out := mustEmfa(t, "users", "set", "alice", "--country", "de", "--phone", "030 901820", "--add-group", "sms", "--remove-group", "staff",
		"--config", cfg); out != "updated user Alice\n" {
		t.Errorf("users set: %q", out)
	}
	u := show()
	if u.Phone != "+4930901820" || u.Country != "DE" || u.Email != "alice@example.com" || !slices.Equal(u.Groups, []string{"sms", "vpn"}) {
		t.Errorf("after users set: %+v", u)
	}
	// The user's country now reads a national number given alone.
	mustEmfa(t, "users", "set", "alice", "--phone", "030 901821", "--config", cfg)
	u = show()
	if u.Phone != "+4930901821" {
		t.Errorf("a national number read as the user's country's: %q", u.Phone)
	}
	// What the user has already is no change: nothing written.
	if out := mustEmfa(t, "users", "set", "alice", "--country", "DE", "--add-group", "vpn", "--config", cfg); out != "user Alice unchanged\n" {
		t.Errorf("users set of what is: %q", out)
	}
	if after := show(); !after.Updated.Equal(*u.Updated) {
		t.Errorf("an unchanged user was written: updated %v, was %v", after.Updated, u.Updated)
	}

	// Refusals: as the admin API's, worded by flag; the user stays as it was.
	before := show()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--phone", "12"}, 1, `--phone: "12" is not a phone number of DE (the user's country)`},
		{[]string{"--country", "XX"}, 1, `--country: "XX"`},
		{[]string{"--email", "two@example.com, three@example.com"}, 1, "--email:"},
		{[]string{"--add-group", " g"}, 1, "--group: must not start or end with spaces"},
		{[]string{}, 2, "users set needs a change"},
		{[]string{"--group", "a", "--add-group", "b"}, 2, "not both"},
		{[]string{"--add-group", "staff", "--remove-group", "staff"}, 2, `group "staff" is both in --add-group and in --remove-group`},
	} {
		args := append(append([]string{"users", "set", "alice"}, c.args...), "--config", cfg)
		if code, _, errOut := emfa(t, args...); code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("users set %q: exit %d, %q; want %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
	if code, _, errOut := emfa(t, "users", "set", "zed", "--email", "zed@example.com", "--config", cfg); code != 1 || !strings.Contains(errOut, `no user "zed"`) {
		t.Errorf("users set of no user: exit %d, %q", code, errOut)
	}
	if code, _, errOut := emfa(t, "users", "show", "zed", "--config", cfg); code != 1 || !strings.Contains(errOut, `no user "zed"`) {
		t.Errorf("users show of no user: exit %d, %q", code, errOut)
	}
	if after := show(); !slices.Equal(after.Groups, before.Groups) || after.Phone != before.Phone || after.Country != before.Country || after.Email != before.Email {
		t.Errorf("refused changes changed the user: %+v, was %+v", after, before)
	}

	// Empty flags clear their fields; --group '' leaves the user in none.
	mustEmfa(t, "users", "set", "alice", "--email", "", "--country", "", "--group", "", "--config", cfg)
	if u := show(); u.Email != "" || u.Country != "" || len(u.Groups) != 0 || u.Phone != "+4930901821" {
		t.Errorf("after clearing: %+v", u)
	}
	if text := mustEmfa(t, "users", "show", "alice", "--config", cfg); !strings.Contains(text, "email:         -\n") || !strings.Contains(text, "groups:        -\n") {
		t.Errorf("users show of cleared fields:\n%s", text)
	}

	// Each change and refusal is in the audit trail, the CLI's.
	audit := mustEmfa(t, "audit", "--user", "alice", "--config", cfg)
	if n := strings.Count(audit, "admin.users.update  SUCCESS"); n != 3 {
		t.Errorf("%d updates recorded, want 3:\n%s", n, audit)
	}
	if !strings.Contains(audit, "country: none → DE") || !strings.Contains(audit, "groups: +sms -staff") || !strings.Contains(audit, "admin.users.update  FAILED") {
		t.Errorf("audit trail:\n%s", audit)
	}
}

// TestUsersList: users list gives every user, in the admin API's order, past the end of
// the API's largest page, with --json each with its profile, and takes the API's filters
// (a group, a state, a name prefix in any case).
func TestUsersList(t *testing.T) {
	cfg := writeConfig(t, "")
	var csv strings.Builder
	csv.WriteString("username,email,country,groups,state\n")
	const n = 1003
	for i := range n {
		group, state := "", "active"
		if i%100 == 7 {
			group, state = "sms;staff", "disabled"
		}
		fmt.Fprintf(&csv, "user%04d,user%04d@example.com,FR,%s,%s\n", i, i, group, state)
	}
	file := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(file, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	mustEmfa(t, "import", file, "--config", cfg)
	mustEmfa(t, "users", "add", "Zoe", "--group", "sms", "--config", cfg)

	lines := strings.Split(strings.TrimSuffix(mustEmfa(t, "users", "list", "--json", "--config", cfg), "\n"), "\n")
	if len(lines) != n+1 {
		t.Fatalf("users list --json: %d lines, want %d", len(lines), n+1)
	}
	for i, line := range lines {
		var u lifecycle.User
		if err := json.Unmarshal([]byte(line), &u); err != nil {
			t.Fatalf("line %d: %q: %v", i, line, err)
		}
		want := fmt.Sprintf("user%04d", i)
		if i == n {
			want = "Zoe"
		}
		if u.Name != want || u.ID == "" || i < n && (u.Email != want+"@example.com" || u.Country != "FR") {
			t.Fatalf("line %d: %+v, want %s with its profile", i, u, want)
		}
	}
	if table := mustEmfa(t, "users", "list", "--config", cfg); strings.Count(table, "\n") != n+2 || !strings.HasPrefix(table, "NAME ") {
		t.Errorf("users list: %d lines, want a header and %d users", strings.Count(table, "\n"), n+1)
	}

	names := func(args ...string) []string {
		t.Helper()
		var out []string
		table := strings.Split(strings.TrimSpace(mustEmfa(t, append(append([]string{"users", "list"}, args...), "--config", cfg)...)), "\n")
		for _, line := range table[1:] {
			out = append(out, strings.Fields(line)[0])
		}
		return out
	}
	var disabled []string
	for i := 7; i < n; i += 100 {
		disabled = append(disabled, fmt.Sprintf("user%04d", i))
	}
	if got := names("--state", "disabled"); !slices.Equal(got, disabled) {
		t.Errorf("--state disabled: %q, want %q", got, disabled)
	}
	if got := names("--group", "sms"); !slices.Equal(got, append(slices.Clone(disabled), "Zoe")) {
		t.Errorf("--group sms: %q", got)
	}
	if got := names("--group", "sms", "--state", "active"); !slices.Equal(got, []string{"Zoe"}) {
		t.Errorf("--group sms --state active: %q", got)
	}
	if got := names("--prefix", "USER100"); !slices.Equal(got, []string{"user1000", "user1001", "user1002"}) {
		t.Errorf("--prefix USER100: %q", got)
	}
	if got := names("--group", "nobody's"); len(got) != 0 {
		t.Errorf("--group of no one: %q", got)
	}
	if code, _, errOut := emfa(t, "users", "list", "--state", "gone", "--config", cfg); code != 2 || !strings.Contains(errOut, `--state: must be active or disabled, not "gone"`) {
		t.Errorf("--state gone: exit %d, %q", code, errOut)
	}
}
