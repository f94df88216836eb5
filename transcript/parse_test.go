package transcript

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// steps is a transcript's head and n good steps: the first step is on line 5.
func steps(n int) string {
	var b strings.Builder
	b.WriteString("name: x\nconfig: c\n# the steps\nsteps:\n")
	for range n {
		b.WriteString("  - advance: 1m\n")
	}
	return b.String()
}

// A transcript's problem is reported at its own line of its file, in plain words: not at
// the start of the list it is in, not as a Go type, not as a bare EOF.
func TestLoadErrorsSayWhereAndWhat(t *testing.T) {
	for _, c := range []struct {
		name, src, want string
	}{
		{"empty file", "", `t.yaml: the file is empty`},
		{"only comments", "# nothing yet\n", `t.yaml: the file is empty`},
		{"a list, not keys", "- a\n- b\n", `t.yaml:1: a transcript is keys (name, config, steps…), not a list`},
		{"unknown step key", steps(3) + "  - call: {resource: test}\n    expcet: {status: 200}\n",
			`t.yaml:9: steps[3]: unknown key "expcet" (did you mean "expect"?)`},
		{"unknown top-level key", "name: x\nconfig: c\nstep: []\n", `t.yaml:3: unknown key "step" (did you mean "steps"?)`},
		{"unknown key, nothing near", steps(1) + "  - call: {resource: test, zzzzzzzz: 1}\n", `t.yaml:6: steps[1].call: unknown key "zzzzzzzz"` + "\n"},
		{"mis-indented key deep in the list", steps(40) + "  - advance: 1m\n   extra: 1\n",
			`t.yaml:46: YAML syntax: did not find expected '-' indicator`},
		{"mis-indented item", steps(20) + " - advance: 1m\n", `t.yaml:25: YAML syntax: did not find expected key`},
		{"a bad duration", steps(2) + "  - advance: soon\n", `t.yaml:7: steps[2].advance: want a duration like 30s or 3m, got "soon"`},
		{"a bad clock", "name: x\nclock: tomorrow\nconfig: c\nsteps: [{advance: 1m}]\n", `t.yaml:2: clock: want a time like 2026-01-01T00:00:00Z, got "tomorrow"`},
		{"a bad number", "name: x\nconfig: c\nsteps: [{call: {resource: r}, expect: {status: ok}}]\n", `t.yaml:3: steps[0].expect.status: want a whole number, got "ok"`},
		{"a list for keys", "name: x\nconfig: c\nsteps: [{call: [resource]}]\n", `t.yaml:3: steps[0].call: want keys (resource: …), got a list`},
		{"config as keys", "name: x\nconfig:\n  server: {}\nsteps: [{advance: 1m}]\n", `t.yaml:3: config: want the configuration as text (config: |, then the configuration indented below), got keys`},
		{"a missing resource", steps(1) + "  - call: {method: GET}\n", `t.yaml:6: steps[1].call.resource is required`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t.yaml")
			if err := os.WriteFile(path, []byte(c.src), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			want := filepath.Join(filepath.Dir(path), c.want)
			if err == nil || !strings.Contains(err.Error()+"\n", want) {
				t.Errorf("Load: %v\nwant %q", err, want)
			}
		})
	}
}

// Every problem of a file is reported at once, in the file's order.
func TestLoadReportsEveryProblem(t *testing.T) {
	_, err := Parse([]byte("name: x\nconfg: c\nsteps:\n  - advanc: 1m\n  - call: {resource: r, methd: GET}\n"))
	if err == nil {
		t.Fatal("no error")
	}
	want := `line 2: unknown key "confg" (did you mean "config"?)
line 4: steps[0]: unknown key "advanc" (did you mean "advance"?)
line 5: steps[1].call: unknown key "methd" (did you mean "method"?)`
	if err.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", err, want)
	}
}

// ConfigLine maps a line of an inline configuration to its line in the transcript file;
// a configuration from configFile keeps its lines, in its own file.
func TestConfigPosition(t *testing.T) {
	tr, err := Parse([]byte("name: x\n\nconfig: |\n  server:\n    listen: x\nsteps: [{advance: 1m}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	tr.path = "dir/t.yaml"
	if file, line := tr.ConfigPosition(2); file != "dir/t.yaml" || line != 5 {
		t.Errorf("inline: %s:%d, want dir/t.yaml:5", file, line)
	}
	tr, err = Parse([]byte("name: x\nconfigFile: emfa.yaml\nsteps: [{advance: 1m}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	tr.path = "dir/t.yaml"
	if file, line := tr.ConfigPosition(2); file != filepath.Join("dir", "emfa.yaml") || line != 2 {
		t.Errorf("configFile: %s:%d, want dir/emfa.yaml:2", file, line)
	}
	// A folded or quoted configuration has no line-for-line mapping: the key's line.
	tr, err = Parse([]byte("name: x\nconfig: \"server: {}\"\nsteps: [{advance: 1m}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	tr.path = "t.yaml"
	if file, line := tr.ConfigPosition(1); file != "t.yaml" || line != 2 {
		t.Errorf("quoted: %s:%d, want t.yaml:2", file, line)
	}
}
