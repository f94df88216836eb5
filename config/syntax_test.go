package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestYAMLSyntaxErrorsNameFileAndLine: a document YAML cannot read is reported as
// every other problem is, file:line first, and a line indented with a tab — the most
// common way to break a hand-edited file — is named as such. It used to be "config
// emfa.yaml: parse yaml: yaml: line 3: found character that cannot start any token",
// which named neither the tab nor, for some tabs, the right line.
func TestYAMLSyntaxErrorsNameFileAndLine(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name, doc, want string
	}{
		{"tab-key", "server:\n  listen: \"127.0.0.1:8080\"\n  auth:\n\tbasic: {}\n", "tab.yaml:4: indented with a tab: YAML indents with spaces only"},
		{"tab-after-spaces", "server:\n  auth:\n  \tbasic: {}\n", "tab.yaml:3: indented with a tab: YAML indents with spaces only"},
		{"tab-sibling", "server:\n  listen: x\n\tauth: {}\n", "tab.yaml:3: indented with a tab: YAML indents with spaces only"},
		{"colon", "server:\n  listen: 127.0.0.1:8080:\n", "tab.yaml:2: mapping values are not allowed in this context"},
		{"twice", "server:\n  listen: a\n  Listen: b\n", "tab.yaml:3: server.Listen is set twice (first at line 2)"},
	} {
		path := filepath.Join(dir, "tab.yaml")
		if err := os.WriteFile(path, []byte(c.doc), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, env(nil))
		if err == nil || !strings.HasPrefix(err.Error(), path+":") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v\nwant %s…%s", c.name, err, path, c.want)
		}
	}
}

// TestMisspeltOverrideWarns: an EMFA_ variable that is one or two letters from an
// override (EMFA_SERVER_REQUESTTIMOUT, EMFA_LOGLEVEL) used to be ignored without a word,
// though a misspelt key in the file is an error: the operator believed the setting
// applied. It is a warning naming the override meant; the variables emfa's commands
// read themselves, and those the file names as ${NAME}, are no typo.
func TestMisspeltOverrideWarns(t *testing.T) {
	vars := map[string]string{
		"EMFA_VERIFY_PASSWORD":      "verify-password-0123",
		"EMFA_ENCRYPTION_KEY":       testKey,
		"EMFA_SERVER_REQUESTTIMOUT": "30s",
		"EMFA_LOGLEVEL":             "debug",
		"EMFA_DATA_DIR":             "/data",
		"EMFA_LOG_FORMAT":           "json",
		"EMFA_SERVER_LISTN":         "x", // named by the file below: not a typo
	}
	opts := env(vars)
	opts.Environ = func() []string {
		var out []string
		for k, v := range vars {
			out = append(out, k+"="+v)
		}
		return append(out, "PATH=/bin", "EMFA_NOEQUALS")
	}
	doc := strings.Replace(fullYAML, "server:\n", "server:\n  # ${EMFA_SERVER_LISTN} in a comment counts too\n", 1)
	cfg, err := Parse([]byte(doc), "yaml", opts)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(cfg.Warnings, "\n")
	for _, want := range []string{
		"environment variable EMFA_SERVER_REQUESTTIMOUT overrides no key (did you mean EMFA_SERVER_REQUESTTIMEOUT?)",
		"environment variable EMFA_LOGLEVEL overrides no key (did you mean EMFA_LOG_LEVEL?)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	for _, not := range []string{"EMFA_DATA_DIR", "EMFA_LOG_FORMAT", "EMFA_SERVER_LISTN", "EMFA_VERIFY_PASSWORD", "PATH"} {
		if strings.Contains(got, not) {
			t.Errorf("warnings name %s:\n%s", not, got)
		}
	}
	if cfg.Server.RequestTimeout.String() != "10s" {
		t.Errorf("requestTimeout %v: the misspelt variable applied", cfg.Server.RequestTimeout)
	}
}

// TestMisspeltOverrideWarnsFromProcess: Load without a LookupEnv reads the process's
// environment, and so does its check of the names.
func TestMisspeltOverrideWarnsFromProcess(t *testing.T) {
	t.Setenv("EMFA_VERIFY_PASSWORD", "verify-password-0123")
	t.Setenv("EMFA_ENCRYPTION_KEY", testKey)
	t.Setenv("EMFA_SERVER_LISTN", "0.0.0.0:8080")
	path := filepath.Join(t.TempDir(), "emfa.yaml")
	if err := os.WriteFile(path, []byte(fullYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path, Options{Unset: UnsetIsWarning})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Warnings, "\n"); !strings.Contains(got, "EMFA_SERVER_LISTN overrides no key (did you mean EMFA_SERVER_LISTEN?)") {
		t.Errorf("warnings:\n%s", got)
	}
}
