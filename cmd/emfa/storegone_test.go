package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadyzNoticesDeletedDatabase: the SQLite directory removed under a running server
// (rm -rf data) makes /readyz answer 503 and the log say why, instead of committing every
// write to an unlinked file that the next start no longer has. A database serve had to
// create is said so (a mistyped storage.dsn is not silently an empty store).
func TestReadyzNoticesDeletedDatabase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cfg := writeTestConfig(t, "driver: sqlite\n  dsn: \"file:"+filepath.Join(dir, "emfa.db")+"\"", oauthProviders)
	base, logs := startServe(t, cfg)
	if !strings.Contains(logs.String(), "created a new store at "+filepath.Join(dir, "emfa.db")) {
		t.Errorf("serve does not say it created the database:\n%s", logs)
	}
	readyz := func() int {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := readyz(); code != 200 {
		t.Fatalf("/readyz before: %d", code)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if code := readyz(); code != 503 {
		t.Errorf("/readyz after the database's directory was removed: %d, want 503", code)
	}
	if !strings.Contains(logs.String(), "no longer the file at") {
		t.Errorf("the log does not say the database file went:\n%s", grepLines(logs.String(), "ready"))
	}
}
