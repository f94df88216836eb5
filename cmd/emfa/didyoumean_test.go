package main

import (
	"strings"
	"testing"
)

// A mistyped command (`emfa chek`) was "unknown command "chek"" and the whole usage,
// with no suggestion, though a mistyped subcommand (`emfa users lst`) names the one meant.
func TestDidYouMean(t *testing.T) {
	for arg, want := range map[string]string{"chek": "check", "serv": "serve", "user": "users"} {
		code, _, errOut := emfa(t, arg)
		if first, _, _ := strings.Cut(errOut, "\n"); code != 2 || !strings.Contains(first, "(did you mean "+want+"?)") {
			t.Errorf("emfa %s: exit %d, want 2 suggesting %s:\n%s", arg, code, want, errOut)
		}
	}
}
