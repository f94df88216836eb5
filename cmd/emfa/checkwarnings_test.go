package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// warningLines are the "warning: FILE:N: …" lines of out, with N; a warning without a
// line of file is -1.
func warningLines(out, file string) (lines []int, text []string) {
	at := regexp.MustCompile(`^warning: ` + regexp.QuoteMeta(file) + `:(\d+): `)
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "warning: ") {
			continue
		}
		n := -1
		if m := at.FindStringSubmatch(l); m != nil {
			n, _ = strconv.Atoi(m[1])
		}
		lines, text = append(lines, n), append(text, l)
	}
	return lines, text
}

// emfa check printed its warnings by the part of it that found them, not by where they
// are: all-factors.yaml's senders came as lines 25, 24, 26 (the factor types' order), and
// a remote provider's warnings (duo-admin.yaml's transforms) came last and named no line
// at all, so the operator could not tell which of the file's transforms was meant. Every
// warning of the file now has its line, and they follow the file.
func TestCheckWarningsFollowTheFile(t *testing.T) {
	t.Setenv("EMFA_VERIFY_PASSWORD", "")
	t.Setenv("EMFA_ENCRYPTION_KEY", "")
	for _, file := range []string{"../../testdata/config/all-factors.yaml", "../../testdata/config/duo-admin.yaml"} {
		code, _, errOut := emfa(t, "check", "--config", file)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", file, code, errOut)
		}
		lines, text := warningLines(errOut, file)
		if len(lines) < 3 {
			t.Fatalf("%s: %d warnings, want the file's:\n%s", file, len(lines), errOut)
		}
		for i, n := range lines {
			if n < 0 {
				t.Errorf("%s: a warning without its line: %s", file, text[i])
			}
			if i > 0 && n < lines[i-1] {
				t.Errorf("%s: line %d warned of after line %d:\n%s", file, n, lines[i-1], strings.Join(text, "\n"))
			}
		}
	}
}

// duo-admin.yaml, the tested example of a DUO Admin API vendor, is checked with two
// warnings that read "worst-case cost estimate unbounded exceeds 10000000 (…); the runtime
// cost limit of 1000000 applies": a number that is no number, and nothing of what it means
// for the operator, who copied a tested file and cannot tell whether to change it. The
// warning now says the cost cannot be estimated, that nothing needs changing if the
// transform works, and what happens to a run over the limit.
func TestCostWarningSaysWhatItMeans(t *testing.T) {
	t.Setenv("EMFA_VERIFY_PASSWORD", "")
	t.Setenv("EMFA_ENCRYPTION_KEY", "")
	// duo-admin.yaml's transforms now check clean: one is given a cost that is unbounded.
	file := filepath.Join(t.TempDir(), "duo-admin.yaml")
	if err := os.WriteFile(file, []byte(withUnboundedCost(t, mustRead(t, duoAdminConfig))), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := emfa(t, "check", "--config", file)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	n := 0
	for _, l := range strings.Split(errOut, "\n") {
		if !strings.Contains(l, "worst-case cost") {
			continue
		}
		n++
		for _, want := range []string{"cannot be estimated", "nothing to change if it works", "limit of 1000000", "stopped"} {
			if !strings.Contains(l, want) {
				t.Errorf("the cost warning does not say %q: %s", want, l)
			}
		}
		if strings.Contains(l, "unbounded exceeds") {
			t.Errorf("the cost warning calls unbounded a number: %s", l)
		}
	}
	if n == 0 {
		t.Fatalf("no cost warning:\n%s", errOut)
	}
}
