package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// check without --config (the embedded default) reports its load problems and those of
// the checks made after loading (here the DSN's) in one run, as it does for a file: it
// stopped at the load's problems, and the operator learnt of the DSN's only after mending
// those. Each problem is said once, named by what the operator sets.
func TestCheckEmbeddedDefaultReportsEveryProblemInOneRun(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	t.Setenv("EMFA_DATA_DIR", data)
	t.Setenv("EMFA_VERIFY_PASSWORD", "short")
	t.Setenv("EMFA_SERVER_LISTEN", "not-an-address")
	t.Setenv("EMFA_STORAGE_DRIVER", "postgres")
	t.Setenv("EMFA_STORAGE_DSN", "postgres://emfa:secret-9@db.example:notaport/emfa")
	want := []string{
		"EMFA_SERVER_LISTEN: server.listen: not host:port",
		"server.auth.basic.password (from ${EMFA_VERIFY_PASSWORD}): too short",
		"EMFA_STORAGE_DSN: storage.dsn: cannot parse",
	}
	file := filepath.Join(dir, "emfa.yaml")
	if err := os.WriteFile(file, defaultConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check"}, {"check", "--config", file}} {
		code, out, errOut := emfa(t, args...)
		if code != 1 || out != "" {
			t.Fatalf("%v: exit %d, stdout %q\n%s", args, code, out, errOut)
		}
		for _, w := range want {
			if n := strings.Count(errOut, w); n != 1 {
				t.Errorf("%v: %q said %d times, want once:\n%s", args, w, n, errOut)
			}
		}
		if strings.Contains(errOut, "secret-9") {
			t.Errorf("%v: the DSN's password is echoed:\n%s", args, errOut)
		}
		if _, err := os.Stat(data); !os.IsNotExist(err) {
			t.Errorf("%v: check made the data directory: %v", args, err)
		}
	}
	// The embedded default's lines are those of no file the operator has: none is named,
	// for a load's problem or a check's (the DSN made of ${EMFA_DATA_DIR}, read as
	// PostgreSQL's).
	os.Unsetenv("EMFA_STORAGE_DSN")
	_, _, errOut := emfa(t, "check")
	src := "embedded default (data in " + data + ")"
	for _, w := range []string{
		src + ": server.auth.basic.password (from ${EMFA_VERIFY_PASSWORD}): too short",
		src + ": storage.dsn (from ${EMFA_DATA_DIR}): cannot parse",
	} {
		if strings.Count(errOut, w) != 1 {
			t.Errorf("want once, with no line: %q\n%s", w, errOut)
		}
	}
	if strings.Contains(errOut, src+":1") || strings.Contains(errOut, src+": "+src) {
		t.Errorf("a line of the embedded default is named, or its name said twice:\n%s", errOut)
	}
}
