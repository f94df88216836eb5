package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `--config "$EMFA_CONFIG"` with the variable unset or misspelled, as a script or a CI
// step writes it, gave --config an empty value, which read as no --config at all: `emfa
// check --config ""` checked the embedded default and exited 0, the gate passing without
// reading the file meant; `emfa users add bob --config ""` (tokens create, import…) wrote
// into ./emfa-data where one was, and serve started the default. Now an empty --config is
// a usage error naming the flag (exit 2), and nothing opens or is created.
func TestEmptyConfigRefused(t *testing.T) {
	dataDir := t.TempDir()
	t.Setenv("EMFA_DATA_DIR", dataDir)
	// A default store that exists: the empty --config must not land in it.
	mustEmfa(t, "users", "add", "someone", "--init")
	for _, args := range [][]string{
		{"check", "--config", ""},
		{"check", "--config="},
		{"check", "--config", " "},
		{"users", "add", "bob", "--config", ""},
		{"users", "list", "--config", ""},
		{"tokens", "create", "--name", "ci", "--scope", "write", "--config", ""},
		{"audit", "--config", ""},
		{"verify", "export", "--url", "https://emfa.example.com", "--config", ""},
		{"transform", "eval", "--provider", "p", "--resource", "r", "--direction", "outgoing", "--input", "in.json", "--config", ""},
		{"serve", "--config", ""},
	} {
		// serve given the default runs until stopped: a bounded wait, not a hang.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var stdout, stderr bytes.Buffer
		code := run(ctx, args, (&cli{}).deps(&stdout, &stderr))
		cancel()
		out, errOut := stdout.String(), stderr.String()
		if code != 2 || !strings.Contains(errOut, "--config") || !strings.Contains(errOut, "empty") {
			t.Errorf("emfa %q: exit %d, want 2 naming an empty --config\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
	}
	if out := mustEmfa(t, "users", "list"); strings.Contains(out, "bob") {
		t.Errorf("users add bob --config '' wrote into the default store:\n%s", out)
	}
	if out := mustEmfa(t, "tokens", "list"); strings.Contains(out, "ci") {
		t.Errorf("tokens create --config '' wrote into the default store:\n%s", out)
	}
	// --config given a file still works, and so does no --config.
	cfg := writeConfig(t, "")
	mustEmfa(t, "check", "--config", cfg)
	mustEmfa(t, "check")
	if _, err := os.Stat(filepath.Join(dataDir, "emfa.db")); err != nil {
		t.Error(err)
	}
}
