package main

import (
	"strings"
	"testing"
)

// TestReviewCompletionUsageErrors: `emfa completion` without a shell, or with one it does
// not know, is a usage error (exit 2, on stderr), as every other group's missing or
// mistyped subcommand is. It used to print the help on stdout and exit 0, so that
// `emfa completion tcsh > /etc/bash_completion.d/emfa` "succeeded" with help text.
func TestReviewCompletionUsageErrors(t *testing.T) {
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

// TestReviewCheckWarnsOfMisspeltOverride: emfa check, on a file and on the embedded
// default, says that an EMFA_ variable one typo from an override is ignored.
func TestReviewCheckWarnsOfMisspeltOverride(t *testing.T) {
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
