package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The README's step 3 of putting DUO behind emfa shows what emfa check prints for a
// transform error. It is no shell block TestReadmeBlocks runs, and it drifted twice: first
// the one-line form of an output that had become a list with CEL's caret under it, then
// that caret and source line, which emfa stopped printing (a transform may hold a secret),
// at a line that was another resource's. This runs it: duo.yaml with initiate's incoming
// transform written as the README says, checked where the README's reader checks it.
func TestReadmeCheckTransformError(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ *Initiate's incoming transform written ` + "`([^`]*)`" + `:\n *` + "```" + `\n *(emfa check: duo\.yaml:.*)\n`).FindSubmatch(data)
	if m == nil {
		t.Fatal("the README's step 3 (Check it) no longer shows emfa check's output as this test reads it")
	}
	transform, want := string(m[1]), string(m[2])
	duo, err := os.ReadFile("../../testdata/config/duo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// initiate's incoming transform, the block after its key, replaced by the README's.
	lines := strings.Split(string(duo), "\n")
	start := lineAfter(lines, "        initiate:", "            incoming: |")
	if start < 0 {
		t.Fatal("testdata/config/duo.yaml has no initiate resource with an incoming transform")
	}
	end := start + 1
	for end < len(lines) && strings.HasPrefix(lines[end], strings.Repeat(" ", 14)) {
		end++
	}
	lines = append(lines[:start+1], append([]string{"              " + transform}, lines[end:]...)...)
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(filepath.Join(dir, "duo.yaml"), []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	// Step 1's environment.
	for k, v := range map[string]string{"DUO_API_URL": "https://api-1234abcd.duosecurity.com", "DUO_IKEY": "DIXXXXXXXXXXXXXXXXXX",
		"DUO_SKEY": strings.Repeat("s", 40), "EMFA_VERIFY_PASSWORD": "verify-password-0123", "EMFA_ENCRYPTION_KEY": testEncryptionKey} {
		t.Setenv(k, v)
	}
	code, _, errOut := emfa(t, "check", "--config", "duo.yaml")
	if code != 1 || strings.TrimSpace(errOut) != want {
		t.Errorf("emfa check: exit %d\n%s\nthe README shows:\n%s", code, errOut, want)
	}
}

// lineAfter is the index of the first line equal to next after one equal to first;
// -1 when there is none.
func lineAfter(lines []string, first, next string) int {
	seen := false
	for i, l := range lines {
		switch {
		case l == first:
			seen = true
		case seen && l == next:
			return i
		}
	}
	return -1
}
