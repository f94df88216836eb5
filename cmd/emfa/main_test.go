package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestMain lets a test run the test binary itself as the emfa command (EMFA_TEST_MAIN=1),
// so process-level tests (SIGKILL, signals) need no separate build.
func TestMain(m *testing.M) {
	switch os.Getenv("EMFA_TEST_MAIN") {
	case "1":
		main()
		return
	case "repeat":
		// Run the same command over and over until killed (the SIGKILL test).
		for run(context.Background(), os.Args[1:], os.Stdout, os.Stderr) == 0 {
		}
		os.Exit(1)
	}
	// A command run without --config uses the embedded default, whose data directory
	// would otherwise land in this package's folder.
	dir, err := os.MkdirTemp("", "emfa-test-data-")
	if err != nil {
		panic(err)
	}
	os.Setenv("EMFA_DATA_DIR", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// emfa runs the command in-process and returns its exit code and output.
func emfa(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// mustEmfa runs a command that must succeed.
func mustEmfa(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := emfa(t, args...)
	if code != 0 {
		t.Fatalf("emfa %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}
