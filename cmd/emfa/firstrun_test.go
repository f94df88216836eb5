package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompletionUsageErrors: `emfa completion` without a shell, or with one it does
// not know, is a usage error (exit 2, on stderr), as every other group's missing or
// mistyped subcommand is. It used to print the help on stdout and exit 0, so that
// `emfa completion tcsh > /etc/bash_completion.d/emfa` "succeeded" with help text.
func TestCompletionUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"completion"}, "completion needs a subcommand: bash, fish, powershell, zsh"},
		{[]string{"completion", "tcsh"}, "unknown completion subcommand tcsh"},
		{[]string{"completion", "bsah"}, "unknown completion subcommand bsah (did you mean bash?)"},
	} {
		code, out, errOut := emfa(t, c.args...)
		if code != 2 || out != "" || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr:\n%s\nwant exit 2, nothing on stdout, %q", c.args, code, out, errOut, c.want)
		}
	}
	// What works still does.
	if code, out, _ := emfa(t, "completion", "--help"); code != 0 || !strings.Contains(out, "bash") {
		t.Errorf("completion --help: exit %d\n%s", code, out)
	}
	if out := mustEmfa(t, "completion", "bash"); !strings.Contains(out, "__start_emfa") {
		t.Errorf("completion bash:\n%s", out)
	}
}

// TestCheckWarnsOfMisspeltOverride: emfa check, on a file and on the embedded
// default, says that an EMFA_ variable one typo from an override is ignored.
func TestCheckWarnsOfMisspeltOverride(t *testing.T) {
	t.Setenv("EMFA_LOGLEVEL", "debug")
	want := "EMFA_LOGLEVEL overrides no key (did you mean EMFA_LOG_LEVEL?)"
	if code, _, errOut := emfa(t, "check", "--config", writeConfig(t, "")); code != 0 || !strings.Contains(errOut, want) {
		t.Errorf("check --config: exit %d\n%s", code, errOut)
	}
	t.Chdir(t.TempDir())
	if code, _, errOut := emfa(t, "check"); code != 0 || !strings.Contains(errOut, want) {
		t.Errorf("check (the embedded default): exit %d\n%s", code, errOut)
	}
}

// TestServeRefusedCreatesNothing: a first serve whose configuration is refused (an
// override that is not host:port, say) creates no data directory and generates no
// secret: it used to make ./emfa-data, generate the Verify password and the encryption
// key and print the password, then refuse to start — a half-done first run whose password
// the next run does not print again.
func TestServeRefusedCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	data := filepath.Join(dir, "emfa-data")
	t.Setenv("EMFA_DATA_DIR", data)
	t.Setenv("EMFA_SERVER_LISTEN", "not-an-address")
	code, _, errOut := emfa(t, "serve")
	if code != 1 || !strings.Contains(errOut, "EMFA_SERVER_LISTEN: server.listen: not host:port") || strings.Contains(errOut, "generated") {
		t.Errorf("serve: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(data); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s after a refused serve: %v", data, err)
	}
}
