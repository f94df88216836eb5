package main

import (
	"encoding/json"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	goqr "github.com/piglig/go-qr"
	"github.com/spf13/cobra"

	"github.com/emfa/emfa/internal/qr"
	"github.com/emfa/emfa/provider/builtin"
)

// Every command and subcommand answers --help with its flags and an example, exit 0 —
// `factors --help` and `device --help` used to exit 2, `serve --help` to print nothing.
func TestEveryCommandHasHelp(t *testing.T) {
	var walk func(c *cobra.Command)
	var paths [][]string
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || (c.HasParent() && c.Parent().Name() == "completion") {
			return
		}
		paths = append(paths, strings.Fields(c.CommandPath())[1:])
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRoot(&deps{}))
	if len(paths) < 30 {
		t.Fatalf("only %d commands: %v", len(paths), paths)
	}
	for _, path := range paths {
		code, out, errOut := emfa(t, append(path, "--help")...)
		name := strings.Join(append([]string{"emfa"}, path...), " ")
		if code != 0 || errOut != "" || !strings.Contains(out, "Usage:") {
			t.Errorf("%s --help: exit %d\n%s%s", name, code, out, errOut)
			continue
		}
		if !strings.Contains(out, "Examples:") {
			t.Errorf("%s --help has no example:\n%s", name, out)
		}
		if len(path) > 0 && path[0] != "completion" && !strings.Contains(out, "Flags:") {
			t.Errorf("%s --help lists no flags:\n%s", name, out)
		}
	}
	// The users group no longer asks for a NAME when asked for help.
	if code, out, _ := emfa(t, "users", "--help"); code != 0 || !strings.Contains(out, "Available Commands:") {
		t.Errorf("users --help: %d %s", code, out)
	}
}

// factors add TYPE takes its flags from the factor registry: every type's fields are its
// flags, required ones said so in its usage line.
func TestFactorsAddFlagsFromRegistry(t *testing.T) {
	for _, typ := range builtin.Types() {
		fields, _ := builtin.FieldsOf(typ)
		_, out, _ := emfa(t, "factors", "add", typ, "--help")
		for _, f := range append([]string{"user", "qr", "config", "init"}, names(fields)...) {
			if !strings.Contains(out, "--"+f) {
				t.Errorf("factors add %s --help lacks --%s:\n%s", typ, f, out)
			}
		}
	}
	for _, args := range [][]string{{"factors", "add"}, {"factors", "add", "--user", "alice"}} {
		if code, _, errOut := emfa(t, args...); code != 2 || !strings.Contains(errOut, "needs a type") {
			t.Errorf("%q: exit %d\n%s", args, code, errOut)
		}
	}
	if code, out, _ := emfa(t, "factors", "add", "--help"); code != 0 || !strings.Contains(out, "totp") {
		t.Errorf("factors add --help: %d\n%s", code, out)
	}
}

func names(fields []builtin.Field) []string {
	var out []string
	for _, f := range fields {
		out = append(out, f.Name)
	}
	return out
}

// Exit codes: 0 ok, 1 failure, 2 usage.
func TestExitCodes(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"help"}, 0, ""},
		{[]string{"--help"}, 0, ""},
		{[]string{"version"}, 0, ""},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"users", "frobnicate"}, 2, "unknown users subcommand frobnicate"},
		// A mistyped subcommand with the flags the right one takes is still named as
		// mistyped, not as an unknown flag of its group; a near one is suggested.
		{[]string{"users", "lst", "--config", "emfa.yaml"}, 2, "unknown users subcommand lst (did you mean list?)"},
		{[]string{"sync", "dead-letters", "purge", "1", "--config", "emfa.yaml"}, 2, "unknown dead-letters subcommand purge"},
		{[]string{"users", "--config", "emfa.yaml"}, 2, "users needs a subcommand: add, "},
		{[]string{"factors"}, 2, "factors needs a subcommand: add, "},
		{[]string{"device"}, 2, "device needs a subcommand"},
		{[]string{"users", "add"}, 2, "users add needs exactly one NAME"},
		{[]string{"users", "list", "extra"}, 2, "users list takes no arguments"},
		{[]string{"audit", "--limit", "0"}, 2, "--limit must be positive"},
		{[]string{"replay"}, 2, "replay needs transcript files"},
		{[]string{"serve", "--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"totp", "code", "--secret", "!!"}, 1, "base32"},
		{[]string{"device", "pending", "--state", "/nonexistent/phone.json"}, 1, "/nonexistent/phone.json"},
		{[]string{"check", "--config", "/nonexistent/emfa.yaml"}, 1, "/nonexistent/emfa.yaml"},
	} {
		code, _, errOut := emfa(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, want %d with %q:\n%s", c.args, code, c.code, c.want, errOut)
		}
	}
}

func TestVersion(t *testing.T) {
	out := mustEmfa(t, "version")
	if !strings.HasPrefix(out, "emfa ") || !strings.Contains(out, "commit: ") {
		t.Errorf("version:\n%s", out)
	}
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abc"}, {Key: "vcs.time", Value: "2026-02-03T04:05:06Z"}, {Key: "vcs.modified", Value: "true"}}}
	want := "emfa v1.2.3\ncommit: 0123abc (modified)\ncommit date: 2026-02-03T04:05:06Z\ngo: go1.26.8\n"
	if got := buildVersion(info, true); got != want {
		t.Errorf("buildVersion:\n%s\nwant:\n%s", got, want)
	}
}

func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_emfa", "zsh": "#compdef emfa", "fish": "complete -c emfa"} {
		if out := mustEmfa(t, "completion", shell); !strings.Contains(out, want) {
			t.Errorf("completion %s lacks %q", shell, want)
		}
	}
}

// factors add prints URIs as they are, not HTML-escaped (…\u0026digits=6…).
func TestFactorsAddPrintsURIsUnescaped(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	out := mustEmfa(t, "factors", "add", "totp", "--user", "alice", "--config", cfg)
	if strings.Contains(out, `\u0026`) || !strings.Contains(out, "&digits=6&") {
		t.Errorf("factors add totp:\n%s", out)
	}
}

// --qr draws the URI as a QR code on stderr (stdout stays one JSON object); its modules
// are the QR library's, with a quiet zone, and a decoder reads the URI back from them.
func TestFactorsAddQR(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	code, out, errOut := emfa(t, "factors", "add", "totp", "--user", "alice", "--qr", "--config", cfg)
	var f struct {
		URI string `json:"otpauthURI"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &f) != nil || f.URI == "" {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	drawn, err := terminalQR(f.URI)
	if err != nil {
		t.Fatal(err)
	}
	if errOut != "otpauthURI:\n"+drawn {
		t.Errorf("stderr is not the URI's QR code:\n%s", errOut)
	}
	assertQRMatches(t, drawn, f.URI)
	// A type with no URI says so instead.
	var b strings.Builder
	if err := printQR(&b, "smsotp", map[string]any{"deliveryAddress": "+1 ***-***-0123"}); err != nil || !strings.Contains(b.String(), "no URI") {
		t.Errorf("printQR without a URI: %v %q", err, b.String())
	}
}

// assertQRMatches reads the half-block drawing back into modules (a printed block is a
// light module), compares them with the encoder's matrix, and decodes them with go-qr.
func assertQRMatches(t *testing.T, drawn, text string) {
	t.Helper()
	code, err := qr.Encode([]byte(text), qr.M)
	if err != nil {
		t.Fatal(err)
	}
	size := code.Size()
	side := size + 2*quietZone
	lines := strings.Split(strings.TrimSuffix(drawn, "\n"), "\n")
	if len(lines) != (side+1)/2 {
		t.Fatalf("%d lines for %d module rows", len(lines), side)
	}
	light := make([][]bool, len(lines)*2)
	for y, line := range lines {
		runes := []rune(line)
		if len(runes) != side {
			t.Fatalf("line %d is %d wide, want %d", y, len(runes), side)
		}
		light[2*y], light[2*y+1] = make([]bool, side), make([]bool, side)
		for x, r := range runes {
			light[2*y][x] = r == '█' || r == '▀'
			light[2*y+1][x] = r == '█' || r == '▄'
		}
	}
	for y := range side {
		for x := range side {
			want := true // the quiet zone
			if mx, my := x-quietZone, y-quietZone; mx >= 0 && my >= 0 && mx < size && my < size {
				want = !code.Dark(mx, my)
			}
			if light[y][x] != want {
				t.Fatalf("module (%d,%d): light %v, want %v", x, y, light[y][x], want)
			}
		}
	}
	// As a phone would see it: four pixels a module, dark on light.
	img := image.NewGray(image.Rect(0, 0, 4*side, 4*side))
	for y := range img.Rect.Dy() {
		for x := range img.Rect.Dx() {
			if light[y/4][x/4] {
				img.Pix[y*img.Stride+x] = 0xff
			}
		}
	}
	if read, err := goqr.Decode(img); err != nil || read != text {
		t.Errorf("the drawing decodes to %q (%v), want %q", read, err, text)
	}
}

// One rule for every factor type: a type no builtin provider exposes is refused before
// anything is written (push alone used to be).
func TestFactorsAddRefusesUnexposedType(t *testing.T) {
	cfg := writeConfig(t, "") // exposes totp only
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	for _, args := range [][]string{{"hotp"}, {"push"}, {"smsotp", "--phone", "+15551230123"}, {"emailotp", "--email", "a@example.com"}} {
		code, _, errOut := emfa(t, append([]string{"factors", "add", args[0], "--user", "alice", "--config", cfg}, args[1:]...)...)
		if code != 1 || !strings.Contains(errOut, "exposes the "+args[0]+" capability") {
			t.Errorf("factors add %s: exit %d\n%s", args[0], code, errOut)
		}
	}
	if out := mustEmfa(t, "factors", "list", "--user", "alice", "--config", cfg); strings.Count(out, "\n") != 1 {
		t.Errorf("refused factors were written:\n%s", out)
	}
}

// emfa replay finds IBM's files from --shared-dir (or $EMFA_SHARED_DIR), never from the
// source tree: without either, a transcript that needs them is not run (exit 2) and says
// which variable.
func TestReplaySharedDir(t *testing.T) {
	transcript := "../../testdata/transcripts/ibm/duo-push.yaml"
	shared := os.Getenv("EMFA_SHARED_DIR")
	if shared == "" {
		t.Skip("EMFA_SHARED_DIR is not set: IBM's files are not here")
	}
	t.Setenv("EMFA_SHARED_DIR", "")
	if code, out, _ := emfa(t, "replay", transcript); code != 2 || !strings.Contains(out, "EMFA_SHARED_DIR") {
		t.Errorf("replay without the shared dir: exit %d\n%s", code, out)
	}
	if code, out, _ := emfa(t, "replay", "--shared-dir", shared, transcript); code != 0 {
		t.Errorf("replay --shared-dir: exit %d\n%s", code, out)
	}
	t.Setenv("EMFA_SHARED_DIR", shared)
	if code, out, _ := emfa(t, "replay", transcript); code != 0 {
		t.Errorf("replay with EMFA_SHARED_DIR: exit %d\n%s", code, out)
	}
	// A relative directory is the working directory's (as the README's ../shared is), not
	// the transcript's.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(wd, shared)
	if err != nil {
		t.Fatal(err)
	}
	if code, out, _ := emfa(t, "replay", "--shared-dir", rel, transcript); code != 0 {
		t.Errorf("replay --shared-dir %s: exit %d\n%s", rel, code, out)
	}
	t.Setenv("EMFA_SHARED_DIR", rel)
	if code, out, _ := emfa(t, "replay", transcript); code != 0 {
		t.Errorf("replay with EMFA_SHARED_DIR=%s: exit %d\n%s", rel, code, out)
	}
}

// The built binary carries no test code: nothing of testing or httptest is linked in. A
// package is linked only when the command imports it, directly or not, so its import
// graph says so without building: building and linking the binary (`go build`, then `go
// tool nm`) took this test 94 s of 600 under -race on a loaded 2-core machine, the
// slowest of the package, and go list takes about a second. The graph is the stricter
// check: a package imported but left out by the linker fails it too.
func TestBinaryHasNoTestCode(t *testing.T) {
	if got := testPackagesIn(t, "."); len(got) > 0 {
		t.Errorf("the binary links test code: %s", strings.Join(got, ", "))
	}
	// The check sees test code where there is some: testdb imports testing, duoadminfake
	// httptest.
	for _, dir := range []string{"../../internal/testdb", "../../internal/duoadminfake"} {
		if got := testPackagesIn(t, dir); len(got) == 0 {
			t.Errorf("%s imports testing or httptest, and the check does not see it", dir)
		}
	}
}

// testPackagesIn lists the packages of testing and httptest that the package in dir
// imports, directly or not.
func testPackagesIn(t *testing.T, dir string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps in %s: %v", dir, err)
	}
	var found []string
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "testing" || strings.HasPrefix(pkg, "testing/") || pkg == "httptest" || strings.HasSuffix(pkg, "/httptest") {
			found = append(found, pkg)
		}
	}
	return found
}
