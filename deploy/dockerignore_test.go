package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildContextLeavesSecretsOut: the image's build stage copies the whole
// context (COPY . .), so what the context holds is in that stage's layer, in the build
// cache and on any remote builder it is sent to: compose's .env (where EMFA_VERIFY_PASSWORD
// and EMFA_ENCRYPTION_KEY are naturally kept for `docker compose up --build`) and a data
// directory emfa made while trying it out (its generated password, key and SQLite store),
// at the top or below, must stay out.
func TestBuildContextLeavesSecretsOut(t *testing.T) {
	var patterns []string
	for line := range strings.Lines(string(must(os.ReadFile("../.dockerignore")))) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, strings.TrimSuffix(strings.TrimPrefix(line, "/"), "/"))
		}
	}
	excluded := func(path string) bool {
		for _, p := range patterns {
			// A pattern excludes what it matches and everything under it; ** spans
			// directories.
			for prefix := path; prefix != "."; prefix = filepath.Dir(prefix) {
				if ok, _ := filepath.Match(p, prefix); ok {
					return true
				}
				if rest, ok := strings.CutPrefix(p, "**/"); ok {
					if ok, _ := filepath.Match(rest, filepath.Base(prefix)); ok {
						return true
					}
				}
			}
		}
		return false
	}
	for _, path := range []string{".env", ".git/config", "emfa-data/emfa.db", "cmd/emfa/emfa-data/emfa.db", "deploy/emfa-data/verify-password"} {
		if !excluded(path) {
			t.Errorf(".dockerignore lets %s into the build context", path)
		}
	}
	for _, path := range []string{"go.mod", "cmd/emfa/main.go", "testdata/transcripts/totp.yaml"} {
		if excluded(path) {
			t.Errorf(".dockerignore leaves %s out of the build", path)
		}
	}
}
