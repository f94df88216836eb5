package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A run whose answers were wrong, or whose server ended during it, prints its report and
// then fails (bench exits 1), so that a script or CI running it does not take the figures
// for a clean run's.
func TestRunFailsOnWrongAnswers(t *testing.T) {
	a, b := &scenario{name: "enrollments · emfa (duo.yaml)"}, &scenario{name: "TOTP validate · emfa SQLite"}
	scenarios := []*scenario{a, b}
	clean := map[*scenario][]measurement{a: {{requests: 5}, {requests: 5}}, b: {{requests: 5}}}
	if err := runOutcome(scenarios, clean, nil); err != nil {
		t.Errorf("a clean run: %v", err)
	}
	wrong := map[*scenario][]measurement{a: {{requests: 5}, {requests: 4, errors: 1}}, b: {{requests: 5, errors: 2}}}
	err := runOutcome(scenarios, wrong, nil)
	if err == nil || !strings.Contains(err.Error(), "3 wrong answers") || !strings.Contains(err.Error(), "TOTP validate · emfa SQLite 2") {
		t.Errorf("a run with wrong answers: %v", err)
	}

	// A server that ended: its log's tail is in the error.
	p, err := startProc("emfa-totp-sqlite", exec.Command("sh", "-c", "echo panic: boom; exit 2"), filepath.Join(t.TempDir(), "p.log"))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(time.Minute):
		t.Fatal("sh did not end")
	}
	err = runOutcome(scenarios, clean, []*proc{p})
	if err == nil || !strings.Contains(err.Error(), "emfa-totp-sqlite") || !strings.Contains(err.Error(), "panic: boom") {
		t.Errorf("a run whose server ended: %v", err)
	}
}
