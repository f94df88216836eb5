package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestBadFlagValueIsUsageError: the README promises exit 2 for a usage error, and
// a value outside a flag's fixed set (--state, --scope, a factor type) is one, as
// import --format xml and audit --since yesterday already are: a script telling a typo
// (2) from a refusal of the data (1) got 1 for these, and nothing was opened for them.
func TestBadFlagValueIsUsageError(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"users", "list", "--state", "bogus"}, `--state: must be active or disabled, not "bogus"`},
		{[]string{"users", "list", "--state", "bogus", "--json"}, `--state: must be active or disabled, not "bogus"`},
		{[]string{"tokens", "create", "--name", "ci", "--scope", "admin"}, `--scope: must be read, helpdesk or write, not "admin"`},
		{[]string{"tokens", "create", "--name", "ci"}, "tokens create needs --name NAME --scope"},
		{[]string{"factors", "add", "foo", "--user", "alice"}, `unknown factor type "foo"`},
		{[]string{"factors", "add", "foo"}, `unknown factor type "foo"`},
		{[]string{"audit", "--since", "yesterday"}, `--since: "yesterday"`},
	} {
		code, out, errOut := emfa(t, append(c.args, "--config", cfg)...)
		if code != 2 || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, "Usage:") || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2, %q and the usage on stderr", c.args, code, out, errOut, c.want)
		}
	}
	if out := mustEmfa(t, "tokens", "list", "--config", cfg); strings.Count(out, "\n") != 1 {
		t.Errorf("a refused tokens create left a token:\n%s", out)
	}
}

// TestHelpUnknownTopic: `emfa help bogus` printed the root's help on stdout and
// exited 0, as if bogus were a command; a mistyped `emfa help factors ad` printed the
// group's help the same way. An unknown topic is a usage error (exit 2) naming it, on
// stderr; a known one still prints its help on stdout with exit 0.
func TestHelpUnknownTopic(t *testing.T) {
	for _, args := range [][]string{{"help", "bogus"}, {"help", "factors", "ad"}, {"help", "users", "list", "extra"}} {
		code, out, errOut := emfa(t, args...)
		if code != 2 || out != "" || !strings.Contains(errOut, "unknown help topic") || !strings.Contains(errOut, strings.Join(args[1:], " ")) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and the unknown topic on stderr", args, code, out, errOut)
		}
	}
	if code, out, _ := emfa(t, "help", "factors", "ad"); code != 2 || out != "" {
		t.Errorf("help factors ad: exit %d", code)
	} else if _, _, errOut := emfa(t, "help", "factors", "ad"); !strings.Contains(errOut, "did you mean add?") {
		t.Errorf("help factors ad: no suggestion: %q", errOut)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"help"}, "emfa [command]"},
		{[]string{"help", "users", "list"}, "emfa users list [flags]"},
		{[]string{"help", "factors", "add", "totp"}, "--secret"},
	} {
		code, out, errOut := emfa(t, c.args...)
		if code != 0 || !strings.Contains(out, c.want) || errOut != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 0 and %q", c.args, code, out, errOut, c.want)
		}
	}
}

// TestOfflineFlagValuesAreUsageErrors: the commands that need no store refused a
// bad flag value with exit 1 too: totp code --algorithm MD5 or --period 0, device
// register --alg RSA. --digits 7 printed a code no TOTP factor takes (they are 6 or 8,
// as the flag's help says). A value outside the flag's set is a usage error (exit 2), as for the
// store commands; a secret that does not decode stays a refused value (exit 1).
func TestOfflineFlagValuesAreUsageErrors(t *testing.T) {
	state := t.TempDir() + "/phone.json"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"totp", "code", "--secret", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "--algorithm", "MD5"}, "--algorithm: unknown algorithm"},
		{[]string{"totp", "code", "--secret", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "--digits", "5"}, "--digits"},
		{[]string{"totp", "code", "--secret", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "--digits", "7"}, "--digits must be 6 or 8"},
		{[]string{"totp", "code", "--secret", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "--period", "0"}, "--period"},
		{[]string{"device", "register", "--server", "http://127.0.0.1:1", "--code", "x", "--state", state, "--alg", "RSA"}, "--alg: must be ES256 or Ed25519"},
	} {
		code, out, errOut := emfa(t, c.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q", c.args, code, out, errOut, c.want)
		}
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("device register --alg RSA left %s: %v", state, err)
	}
}

// TestUsageErrorsOpenNothing: storeCmd promises that arguments and flags are checked
// before anything opens, yet sync pending drop without --source, sync dead-letters drop
// or retry with a SEQ that is not a number, sync pending --limit 0, and import with a
// format it cannot tell or --max-deletes -1 opened the store first: on a configuration
// whose database is not there yet they created and migrated one, then said "usage" —
// or, for the one that only reads, exited 1 about the missing database instead of 2.
func TestUsageErrorsOpenNothing(t *testing.T) {
	dir := t.TempDir()
	csv := dir + "/users.csv"
	if err := os.WriteFile(csv, []byte("username\nalice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sync", "pending", "drop"}, "--source is required"},
		{[]string{"sync", "dead-letters", "drop", "abc"}, "SEQ must be a dead letter's number"},
		{[]string{"sync", "dead-letters", "retry", "abc"}, "SEQ must be a dead letter's number"},
		{[]string{"sync", "pending", "--limit", "0"}, "--limit must be positive"},
		{[]string{"sync", "dead-letters", "list", "--limit", "0"}, "--limit must be positive"},
		{[]string{"import", dir + "/users.txt"}, "cannot tell the format"},
		{[]string{"import", csv, "--format", "xml"}, "--format must be csv or jsonl"},
		{[]string{"import", csv, "--full", "--max-deletes", "-1"}, "--max-deletes must not be negative"},
	} {
		cfg := writeConfig(t, "")
		db := strings.TrimSuffix(cfg, "emfa.yaml") + "emfa.db"
		code, out, errOut := emfa(t, append(c.args, "--config", cfg)...)
		if code != 2 || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and %q", c.args, code, out, errOut, c.want)
		}
		if _, err := os.Stat(db); !os.IsNotExist(err) {
			t.Errorf("%q: a usage error made the database %s (%v)", c.args, db, err)
		}
	}
}

// TestAuditWindowCheckedFirst: audit --until not after --since is a usage error,
// but it was found only by the query, after the store opened: on a configuration whose
// database is not there it exited 1 about the database instead of 2 about the window.
func TestAuditWindowCheckedFirst(t *testing.T) {
	cfg := writeConfig(t, "")
	code, out, errOut := emfa(t, "audit", "--since", "2026-12-05", "--until", "2026-12-04", "--config", cfg)
	if code != 2 || out != "" || !strings.Contains(errOut, "--until: must be after since") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2 and the window's error", code, out, errOut)
	}
}

// TestImportJSONIsOneLine: every other --json of the command line prints one JSON
// object a line, but import --json printed its report indented over many lines: a script
// reading the output a line at a time (while read; jq -c per line) choked on it. The
// report is now one line, also when a row is refused (exit 1).
func TestImportJSONIsOneLine(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "seed", "--config", cfg)
	csv := t.TempDir() + "/users.csv"
	if err := os.WriteFile(csv, []byte("username,email\nalice,alice@example.com\nbob,not-an-address\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := emfa(t, "import", csv, "--json", "--config", cfg)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var rep map[string]any
	if code != 1 || len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &rep) != nil || rep["created"] != float64(1) || rep["refused"] != float64(1) {
		t.Errorf("exit %d, %d lines, stdout %q, stderr %q; want 1 and one JSON line with 1 created and 1 refused", code, len(lines), out, errOut)
	}
}
