package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEmptyKeptSecret: a generated secret's file that exists but is empty (its
// writer crashed before writing, an operator touched it) is named as such, not read
// as an empty secret that the configuration then refuses without saying where it came
// from.
func TestEmptyKeptSecret(t *testing.T) {
	wait := emptySecretWait
	emptySecretWait = 0
	t.Cleanup(func() { emptySecretWait = wait })
	for _, file := range []string{"encryption.key", "verify-password"} {
		t.Run(file, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("EMFA_DATA_DIR", dir)
			t.Setenv("EMFA_ENCRYPTION_KEY", "")
			t.Setenv("EMFA_VERIFY_PASSWORD", "")
			path := filepath.Join(dir, file)
			if err := os.WriteFile(path, []byte("\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			_, err := loadConfig(storeOptions{}, forServe, &stderr)
			if err == nil || !strings.Contains(err.Error()+stderr.String(), path) || !strings.Contains(err.Error()+stderr.String(), "empty") {
				t.Fatalf("err %v, stderr %q: want an error naming %s as empty", err, stderr.String(), path)
			}
		})
	}
}
