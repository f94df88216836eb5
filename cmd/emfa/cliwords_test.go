package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// The CLI names a factor waiting for its activation as the admin API and the README do,
// pending_activation, in factors add's JSON and in factors list.
func TestCLIFactorStateNames(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	var f struct{ ID, State string }
	if err := json.Unmarshal([]byte(mustEmfa(t, "factors", "add", "totp", "--user", "alice", "--activation", "passcode", "--config", cfg)), &f); err != nil ||
		f.State != "pending_activation" {
		t.Errorf("factors add --activation passcode: state %q %v", f.State, err)
	}
	out := mustEmfa(t, "factors", "list", "--user", "alice", "--config", cfg)
	if line := lineWith(out, f.ID); !strings.Contains(line, " pending_activation ") {
		t.Errorf("factors list shows %q", line)
	}
}

// A retry of one dead letter that is not there says so and fails; with no SEQ, no dead
// letter is not an error. Only one SEQ is taken.
func TestRetryMissingDeadLetter(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	code, out, errOut := emfa(t, "sync", "dead-letters", "retry", "42", "--config", cfg)
	if code != 1 || out != "" || !strings.Contains(errOut, "no dead letter 42") {
		t.Errorf("retry 42: exit %d, %q %q", code, out, errOut)
	}
	if code, _, errOut := emfa(t, "sync", "dead-letters", "retry", "42", "43", "--config", cfg); code != 2 || !strings.Contains(errOut, "at most one SEQ") {
		t.Errorf("retry 42 43: exit %d, %q", code, errOut)
	}
	if out := mustEmfa(t, "sync", "dead-letters", "retry", "--config", cfg); !strings.Contains(out, "0 event(s) queued again") {
		t.Errorf("retry with no dead letter: %q", out)
	}
}

func lineWith(out, s string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}
