package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// Every command's output failing to be written (stdout on a full disk) is exit 1, not 0:
// `emfa users add bob > log` said nothing and exited 0, as did `emfa version > file`.
// The process as a script runs it, stdout opened on /dev/full.
func TestFailedStdoutIsFailure(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full:", err)
	}
	defer full.Close()
	cfg := writeConfig(t, "")
	for _, args := range [][]string{
		{"users", "add", "bob", "--config", cfg},
		{"users", "disable", "bob", "--config", cfg},
		{"version"},
		{"users", "list", "--config", cfg},
	} {
		cmd := selfCommand(t, args...)
		cmd.Stdout = full
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 1 {
			t.Errorf("emfa %s > /dev/full: %v, want exit 1\n%s", strings.Join(args, " "), err, &stderr)
			continue
		}
		if !strings.Contains(stderr.String(), "no space left on device") {
			t.Errorf("emfa %s > /dev/full: stderr does not say why:\n%s", strings.Join(args, " "), &stderr)
		}
	}
	// The writes were made all the same: bob exists, disabled.
	if out := mustEmfa(t, "users", "show", "bob", "--config", cfg); !strings.Contains(out, "disabled") {
		t.Errorf("users show bob:\n%s", out)
	}
}
