package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// block is one fenced code block of the README.
type block struct {
	lang  string
	line  int // of the opening fence
	lines []string
}

func (b block) excerpt() bool {
	return len(b.lines) > 0 && strings.HasPrefix(strings.TrimSpace(b.lines[0]), "# excerpt")
}

func readmeBlocks(t testing.TB) []block {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []block
	var cur *block
	indent := ""
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if strings.HasPrefix(trimmed, "```") {
			if cur == nil {
				indent = line[:len(line)-len(trimmed)]
				cur = &block{lang: strings.TrimPrefix(trimmed, "```"), line: i + 1}
				continue
			}
			out = append(out, *cur)
			cur = nil
			continue
		}
		if cur != nil {
			cur.lines = append(cur.lines, strings.TrimPrefix(line, indent))
		}
	}
	return out
}

// TestReadmeBlocks: every shell and YAML example of the README runs as pasted or says it
// is an excerpt (issue 14, item 4). A configuration runs through emfa check; an excerpt
// of one that names providers runs through emfa check pasted into a configuration; the
// walk-throughs run against a built emfa and must print what the README shows.
func TestReadmeBlocks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds emfa and runs the README's walk-throughs")
	}
	blocks := readmeBlocks(t)
	bin := buildEmfa(t)
	ran := 0
	var delivery any // the last delivery section shown, which later excerpts refer to
	for _, b := range blocks {
		var doc map[string]any
		if b.lang == "yaml" && yaml.Unmarshal([]byte(strings.Join(b.lines, "\n")), &doc) == nil && doc["delivery"] != nil {
			delivery = doc["delivery"]
		}
		name := fmt.Sprintf("README.md:%d", b.line)
		switch {
		case b.lang == "yaml" && !b.excerpt():
			t.Run(name, func(t *testing.T) { checkYAML(t, bin, strings.Join(b.lines, "\n"), false, nil) })
		case b.lang == "yaml":
			d := delivery
			t.Run(name, func(t *testing.T) { checkYAML(t, bin, strings.Join(b.lines, "\n"), true, d) })
		case b.lang == "sh" && !b.excerpt():
			ran++
			t.Run(name, func(t *testing.T) { runShell(t, bin, b) })
		}
	}
	if ran < 2 {
		t.Errorf("%d walk-throughs ran, want the curl walk-through and the replay", ran)
	}
}

// buildEmfa builds the binary the README's reader builds.
func buildEmfa(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "emfa")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cleanEnv is a reader's shell: no EMFA_* variable of the test's own.
func cleanEnv(binDir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EMFA_") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	return append(env, "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// checkYAML runs emfa check on a configuration, or on an excerpt pasted into the
// complete example (its top-level sections replace the example's).
func checkYAML(t *testing.T, bin, text string, excerpt bool, delivery any) {
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		if excerpt {
			return // a fragment of a section (it says so)
		}
		t.Fatalf("not YAML: %v\n%s", err, text)
	}
	if _, ok := doc["steps"]; ok {
		return // a transcript, not a configuration
	}
	if _, ok := doc["providers"]; !ok {
		if !excerpt {
			t.Fatalf("a configuration without providers:\n%s", text)
		}
		return
	}
	if values, _ := yaml.Marshal(doc); excerpt && strings.Contains(string(values), "…") {
		return // parts left out (it says so)
	}
	if excerpt {
		if _, ok := doc["delivery"]; !ok && delivery != nil {
			doc["delivery"] = delivery // "with the delivery section above"
		}
		base, err := os.ReadFile("../../testdata/config/emfa.yaml")
		if err != nil {
			t.Fatal(err)
		}
		var merged map[string]any
		yaml.Unmarshal(base, &merged)
		for k, v := range doc {
			merged[k] = v
		}
		data, _ := yaml.Marshal(merged)
		text = string(data)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "emfa.yaml")
	os.WriteFile(path, []byte(text), 0o600)
	cmd := exec.Command(bin, "check", "--config", path)
	cmd.Dir, cmd.Env = dir, cleanEnv(filepath.Dir(bin))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("emfa check: %v\n%s\n--- checked:\n%s", err, out, text)
	}
}

// runShell runs a walk-through block in a fresh directory (with `emfa serve` running
// there, as the README asks) or, when it reads testdata/, in the repository; each
// command's output must match the comment lines right below it, where … stands for
// anything.
func runShell(t *testing.T, bin string, b block) {
	if _, err := exec.LookPath("curl"); err != nil && strings.Contains(strings.Join(b.lines, "\n"), "curl") {
		t.Skip("curl is not installed")
	}
	cmds := parseCommands(b.lines)
	dir, _ := filepath.Abs("../..")
	base := "http://127.0.0.1:8080"
	if !strings.Contains(strings.Join(b.lines, "\n"), "testdata/") {
		dir = t.TempDir()
		os.Link(bin, filepath.Join(dir, "emfa"))
		base = startBuiltServe(t, bin, dir)
	}
	var script strings.Builder
	script.WriteString("set -e\n")
	for i, c := range cmds {
		fmt.Fprintf(&script, "printf '\\n@@%d@@\\n'\n%s\n", i, strings.ReplaceAll(c.text, "http://127.0.0.1:8080", base))
	}
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Dir, cmd.Env = dir, cleanEnv(filepath.Dir(bin))
	out, err := cmd.Output()
	outputs := splitOutputs(string(out), len(cmds))
	for i, c := range cmds {
		if i >= len(outputs) {
			t.Fatalf("stopped before %q: %v\n%s", c.text, err, stderrOf(err))
		}
		if msg := matchOutput(c.want, outputs[i]); msg != "" {
			t.Errorf("%s\n%s\n--- got:\n%s", c.text, msg, outputs[i])
		}
	}
	if err != nil {
		t.Errorf("%v\n%s", err, stderrOf(err))
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

type shellCommand struct {
	text string
	want []string // the output shown, one line each; nil: not shown
}

// parseCommands joins continued lines and takes the comment lines right below a command
// as its output. A `go build` or `go run` line is skipped: the test built emfa.
func parseCommands(lines []string) []shellCommand {
	var out []shellCommand
	var cur *shellCommand
	cont := false
	for _, line := range lines {
		trimmed := strings.TrimSpace(line)
		switch {
		case cont:
			cur.text += "\n" + line
			cont = strings.HasSuffix(trimmed, "\\")
		case trimmed == "":
			cur = nil
		case strings.HasPrefix(trimmed, "#"):
			if cur != nil {
				cur.want = append(cur.want, strings.TrimPrefix(strings.TrimPrefix(trimmed, "#"), " "))
			}
		case strings.HasPrefix(trimmed, "go build") || strings.HasPrefix(trimmed, "go run"):
			cur = nil
		default:
			out = append(out, shellCommand{text: line})
			cur = &out[len(out)-1]
			cont = strings.HasSuffix(trimmed, "\\")
		}
	}
	return out
}

func splitOutputs(out string, n int) []string {
	var outputs []string
	for i := range n {
		marker := fmt.Sprintf("\n@@%d@@\n", i)
		start := strings.Index(out, marker)
		if start < 0 {
			break
		}
		rest := out[start+len(marker):]
		if end := strings.Index(rest, fmt.Sprintf("\n@@%d@@\n", i+1)); end >= 0 {
			rest = rest[:end]
		}
		outputs = append(outputs, rest)
	}
	return outputs
}

// matchOutput compares output with the lines shown: … in a line matches anything, a line
// that is only … matches any number of lines. "" when they match.
func matchOutput(want []string, got string) string {
	if want == nil {
		return ""
	}
	gotLines := strings.Split(strings.TrimRight(got, "\n"), "\n")
	var expr strings.Builder
	expr.WriteString(`(?s)\A`)
	for i, w := range want {
		if strings.TrimSpace(w) == "…" {
			expr.WriteString(`(?:.*\n)?`)
			continue
		}
		parts := strings.Split(w, "…")
		for j, p := range parts {
			if j > 0 {
				expr.WriteString(`.*?`)
			}
			expr.WriteString(regexp.QuoteMeta(p))
		}
		if i < len(want)-1 {
			expr.WriteString(`\n`)
		}
	}
	expr.WriteString(`\z`)
	re := regexp.MustCompile(expr.String())
	if !re.MatchString(strings.Join(gotLines, "\n")) {
		return "want:\n" + strings.Join(want, "\n")
	}
	return ""
}

// startBuiltServe runs `emfa serve` in dir, as the README's reader does in another
// terminal, on a free port.
func startBuiltServe(t *testing.T, bin, dir string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve")
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(filepath.Dir(bin)), "EMFA_SERVER_LISTEN=127.0.0.1:0")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`emfa serving.* addr=(\S+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatal("emfa serve did not start")
	}
	return ""
}
