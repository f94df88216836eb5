package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeSecret writes content to a private file and returns its path.
func writeSecret(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFileReference: ${file:PATH} is the content of the file, less its trailing line
// ending, wherever ${NAME} may go; it is read at each load, so a file rotated since the
// last one gives the new value; ${file:-x} is still a variable named file with a default.
func TestFileReference(t *testing.T) {
	pw := writeSecret(t, "file-password-0123456\n", 0o600)
	y := strings.Replace(fullYAML, "${EMFA_VERIFY_PASSWORD}", "${file:"+pw+"}", 1)
	y = strings.Replace(y, "k-123-header-secret", "prefix-${file:"+pw+"}", 1)
	opts := env(map[string]string{"EMFA_ENCRYPTION_KEY": testKey})
	cfg, err := Parse([]byte(y), "yaml", opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Server.Auth.Basic.Password.Reveal(); got != "file-password-0123456" {
		t.Errorf("password = %q", got)
	}
	if got := cfg.Server.Auth.Header.Value.Reveal(); got != "prefix-file-password-0123456" {
		t.Errorf("header value = %q", got)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings for a private file: %v", cfg.Warnings)
	}
	// Rotated: the next load reads the new content (CRLF trimmed too).
	if err := os.WriteFile(pw, []byte("rotated-password-0123\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if cfg, err = Parse([]byte(y), "yaml", opts); err != nil || cfg.Server.Auth.Basic.Password.Reveal() != "rotated-password-0123" {
		t.Errorf("after rotation: %v %v", cfg.Server.Auth.Basic.Password.Reveal(), err)
	}
	// An override may name a file too.
	opts.LookupEnv = env(map[string]string{"EMFA_ENCRYPTION_KEY": testKey, "EMFA_SERVER_AUTH_BASIC_PASSWORD": "${file:" + pw + "}"}).LookupEnv
	if cfg, err = Parse([]byte(fullYAML), "yaml", opts); err != nil || cfg.Server.Auth.Basic.Password.Reveal() != "rotated-password-0123" {
		t.Errorf("override naming a file: %v %v", cfg.Server.Auth.Basic.Password.Reveal(), err)
	}
	// ${file:-default} keeps its meaning: the variable "file", or the default.
	y = strings.Replace(fullYAML, "${EMFA_VERIFY_PASSWORD}", "${file:-fallback-password-0123}", 1)
	if cfg, err = Parse([]byte(y), "yaml", env(map[string]string{"EMFA_ENCRYPTION_KEY": testKey})); err != nil ||
		cfg.Server.Auth.Basic.Password.Reveal() != "fallback-password-0123" {
		t.Errorf("${file:-default}: %v %v", cfg.Server.Auth.Basic.Password.Reveal(), err)
	}
}

// TestFileReferenceProblems: a file that is missing, empty, not a file or too large is an
// error naming the file and the key, never its content; one other users may read is a
// warning, as a readable database is; a missing one is, like an unset variable, only a
// warning to a command that does not need it (emfa check without the secrets).
func TestFileReferenceProblems(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("s", maxSecretFileBytes+1)
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "nope"), "does not exist"},
		{"empty", writeSecret(t, "\n", 0o600), "is empty"},
		{"directory", dir, "is not a regular file"},
		{"too large", writeSecret(t, big, 0o600), "is larger than 64 KiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := strings.Replace(fullYAML, "${EMFA_VERIFY_PASSWORD}", "${file:"+tc.path+"}", 1)
			_, err := Parse([]byte(y), "yaml", env(map[string]string{"EMFA_ENCRYPTION_KEY": testKey}))
			want := "line 5: server.auth.basic.password: file " + tc.path + " " + tc.want
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("got %v, want %q", err, want)
			}
			if err != nil && strings.Contains(err.Error(), "sss") {
				t.Error("the error shows the file's content")
			}
		})
	}
	// A file others may read: a warning naming it and its mode.
	open := writeSecret(t, "world-readable-password\n", 0o644)
	y := strings.Replace(fullYAML, "${EMFA_VERIFY_PASSWORD}", "${file:"+open+"}", 1)
	cfg, err := Parse([]byte(y), "yaml", env(map[string]string{"EMFA_ENCRYPTION_KEY": testKey}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"line 5: server.auth.basic.password (from ${file:" + open + "}): file " + open + " is readable by other users (mode 0644): chmod 600 it (0400 or 0440 on a Kubernetes Secret volume: defaultMode)"}
	if diff := cmp.Diff(want, cfg.Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	// Missing, for a command that does not need it: a warning, the rest checked.
	y = strings.Replace(fullYAML, "${EMFA_VERIFY_PASSWORD}", "${file:"+filepath.Join(dir, "nope")+"}", 1)
	cfg, err = Parse([]byte(y), "yaml", Options{LookupEnv: env(map[string]string{"EMFA_ENCRYPTION_KEY": testKey}).LookupEnv, Unset: UnsetIsWarning})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"line 5: server.auth.basic.password: file " + filepath.Join(dir, "nope") + " does not exist"}
	if diff := cmp.Diff(want, cfg.Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}
