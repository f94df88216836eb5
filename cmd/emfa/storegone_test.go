package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emfa/emfa/provider/builtin"
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

// TestContractRefusesWritesOnceDatabaseGone: once /readyz has found the SQLite database
// deleted under the server, a decision that must write (a wrong code's failure count, a
// right code's counter) answers 503, so that Verify retries elsewhere, instead of being
// committed to the unlinked file and lost at the next start.
func TestContractRefusesWritesOnceDatabaseGone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := writeTestConfig(t, "driver: sqlite\n  dsn: \"file:"+filepath.Join(dir, "emfa.db")+"\"", oauthProviders)
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	secret := builtin.EncodeSecret([]byte("0123456789abcdefghij"))
	var factor struct{ ID string }
	if err := json.Unmarshal([]byte(mustEmfa(t, "factors", "add", "totp", "--config", cfg, "--user", "alice", "--secret", secret)), &factor); err != nil {
		t.Fatal(err)
	}
	base, _ := startServe(t, cfg)
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("/readyz after the database went: %d", resp.StatusCode)
	}
	right := strings.TrimSpace(mustEmfa(t, "totp", "code", "--secret", secret))
	for _, pass := range []string{"000000", right} {
		body, _ := json.Marshal(map[string]any{"capability": "totp", "id": factor.ID,
			"attributes": map[string]any{"username": "alice", "passvalue": pass}})
		if code, data := sim.call("POST", "validate", string(body)); code != 503 {
			t.Errorf("validate %s once the database went: %d %s, want 503", pass, code, data)
		}
	}
}
