package transcript

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStatusOutOfRange: an HTTP status is three digits. A vendor answer's
// status outside 100-599 made replay's vendor panic (net/http refuses to write it; the
// panic's stack went to the replay's output) and the step fail as if emfa were wrong; an
// expected status outside it can never match. Both are problems of the transcript, told
// at their line when it is read.
func TestStatusOutOfRange(t *testing.T) {
	for _, c := range []struct{ yaml, path string }{
		{"    vendor: [{request: {path: /x}, response: {status: 1000}}]\n", "steps[0].vendor[0].response.status"},
		{"    vendor: [{request: {path: /x}, response: {status: 42}}]\n", "steps[0].vendor[0].response.status"},
		{"    expect: {status: 2000}\n", "steps[0].expect.status"},
		{"    expect: {status: -1}\n", "steps[0].expect.status"},
	} {
		src := "name: x\nconfig: a\nsteps:\n  - call: {resource: validate}\n" + c.yaml
		_, err := Parse([]byte(src))
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%q: %v, want a ParseError", c.yaml, err)
			continue
		}
		if pe.Problems[0].Line != 5 || !strings.Contains(pe.Error(), c.path) {
			t.Errorf("%q: %v (line %d), want %s at line 5", c.yaml, err, pe.Problems[0].Line, c.path)
		}
	}
	for _, ok := range []string{"    expect: {status: 401}\n", "    vendor: [{request: {path: /x}, response: {status: 599}}]\n"} {
		if _, err := Parse([]byte("name: x\nconfig: a\nsteps:\n  - call: {resource: validate}\n" + ok)); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
}

// TestProblemsAtTheirLines: a key written twice, and a problem of a step written
// as an alias, are named at their file's line, as every other problem of a transcript
// is (file:line: …), not as the YAML decoder words them ("unmarshal errors:; line 2: …")
// or with no line at all.
func TestProblemsAtTheirLines(t *testing.T) {
	for _, c := range []struct {
		src  string
		line int
		msg  string
	}{
		{"name: x\nname: y\nconfig: a\nsteps:\n  - advance: 1s\n", 2, `mapping key "name" already defined at line 1`},
		{"name: x\nconfig: a\nsteps:\n  - call: {resource: v, body: {a: 1, a: 2}}\n", 4, `mapping key "a" already defined at line 4`},
		{"name: x\nconfig: a\nsteps:\n  - &c {call: {resource: v}, advance: 1s}\n  - *c\n", 5, "steps[1]: exactly one of call, advance, device"},
	} {
		_, err := Load(writeTemp(t, c.src))
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("%q: %v", c.src, err)
		}
		want := fmt.Sprintf("t.yaml:%d: %s", c.line, c.msg)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q:\n%v\nwant a line ending %q", c.src, err, want)
		}
	}
}

func writeTemp(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHugeFileRefused: replay read a transcript whole, whatever its size: a
// path that never ends (/dev/zero, a FIFO) or a file of gigabytes held replay's memory
// until it failed. A transcript (and its configFile) is refused past a bound, saying so.
func TestHugeFileRefused(t *testing.T) {
	defer func(n int64) { maxFileBytes = n }(maxFileBytes)
	maxFileBytes = 1 << 10
	path := writeTemp(t, "name: x\nconfig: a\nsteps:\n"+strings.Repeat("  - advance: 1s\n", 100))
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "larger than 1 KiB") {
		t.Errorf("a 1.6 KiB transcript, bound 1 KiB: %v", err)
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		if _, err := Load("/dev/zero"); err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("/dev/zero: %v", err)
		}
	}
	cfg := filepath.Join(t.TempDir(), "emfa.yaml")
	os.WriteFile(cfg, []byte(strings.Repeat("# padding\n", 200)), 0o600)
	tr, err := Load(writeTemp(t, "name: x\nconfigFile: "+cfg+"\nsteps:\n  - advance: 1s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.ConfigText(); err == nil || !strings.Contains(err.Error(), "larger than 1 KiB") {
		t.Errorf("a 2 KiB configFile, bound 1 KiB: %v", err)
	}
}
