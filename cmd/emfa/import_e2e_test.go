package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportKeepsAbsentColumns: an export naming only some columns, imported over the
// admin API and with emfa import, updates those and leaves the others as they were.
func TestImportKeepsAbsentColumns(t *testing.T) {
	app := fakeCLI()
	cfg := adminConfig(t, "", "")
	token := strings.TrimSpace(app.must(t, "tokens", "create", "--name", "idm", "--scope", "write", "--config", cfg))
	base, _, _ := app.serve(t, "--config", cfg)
	api := adminClient{t: t, base: base + "/admin/v1", token: token}
	user := func() string {
		t.Helper()
		u := api.json("GET", "/users/carol", nil, 200)
		return fmt.Sprint(u["email"], " ", u["phone"], " ", u["displayName"], " ", u["groups"])
	}

	code, rep := api.do("POST", "/import", "text/csv", []byte("username,email,phone,displayName,groups\ncarol,carol@example.com,+15550000003,Carol,staff\n"))
	if code != 200 || rep["created"] != float64(1) {
		t.Fatalf("first import: %d %v", code, rep)
	}
	code, rep = api.do("POST", "/import", "text/csv", []byte("username,email,phone\ncarol,carol@example.org,+15550000003\n"))
	if code != 200 || rep["updated"] != float64(1) {
		t.Fatalf("import without displayName and groups: %d %v", code, rep)
	}
	if got := user(); got != "carol@example.org +15550000003 Carol [staff]" {
		t.Errorf("after the API's import: %s", got)
	}

	path := filepath.Join(t.TempDir(), "names.jsonl")
	if err := os.WriteFile(path, []byte(`{"username":"carol","displayName":"Carol C."}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := app.must(t, "import", path, "--config", cfg)
	if !strings.Contains(out, `displayName: "Carol" → "Carol C."`) || strings.Contains(out, "email:") || strings.Contains(out, "groups:") {
		t.Errorf("emfa import of display names:\n%s", out)
	}
	if got := user(); got != "carol@example.org +15550000003 Carol C. [staff]" {
		t.Errorf("after emfa import: %s", got)
	}
}

// TestFullImportKeepsUnreadableRows is the reviewer's case: a full import whose file has
// keep2's row with a field too many deleted keep2 and its active TOTP factor as "absent".
// Now the row is refused, keep2 kept, nobody deleted, and emfa import says why and exits 1,
// in a dry run as in a real one; a JSON line refused with its name keeps just that user.
func TestFullImportKeepsUnreadableRows(t *testing.T) {
	cfg, _ := aliceWithTOTP(t)
	app := fakeCLI()
	for _, name := range []string{"keep1", "keep2", "gone"} {
		app.must(t, "users", "add", name, "--config", cfg)
	}
	app.must(t, "factors", "add", "totp", "--user", "keep2", "--config", cfg)
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "directory.csv")
	if err := os.WriteFile(csvPath, []byte("username,phone\nalice,\nkeep1,+15550001111\nkeep2,+15550001112,extra\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dry := range []bool{true, false} {
		args := []string{"import", csvPath, "--full", "--config", cfg}
		if dry {
			args = append(args, "--dry-run")
		}
		code, out, _ := app.run(t, args...)
		for _, want := range []string{"\n! line 4: invalid_row: 3 fields, the header has 2 (its username column holds \"keep2\")\n",
			"\n! line 4 was refused without a user name that could be read: nobody was deleted", " 0 deleted, 1 refused\n"} {
			if code != 1 || !strings.Contains("\n"+out, want) || strings.Contains(out, "- ") {
				t.Errorf("dry run %v: exit %d\n%s\nwant exit 1 and %q", dry, code, out, want)
			}
		}
	}
	users := app.must(t, "users", "list", "--config", cfg)
	for _, name := range []string{"keep2", "gone"} {
		if !strings.Contains(users, name) {
			t.Errorf("%s deleted:\n%s", name, users)
		}
	}
	if fs := app.must(t, "factors", "list", "--user", "keep2", "--config", cfg); !strings.Contains(fs, "totp") {
		t.Errorf("keep2's factor:\n%s", fs)
	}

	jsonPath := filepath.Join(dir, "directory.jsonl")
	if err := os.WriteFile(jsonPath, []byte(`{"username":"alice"}`+"\n"+`{"username":"keep1"}`+"\n"+`{"username":"keep2","phone":15550001112}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := app.run(t, "import", jsonPath, "--full", "--config", cfg)
	if code != 1 || !strings.Contains(out, "! line 3 keep2: invalid_field: phone: must be a string\n- gone\n") {
		t.Errorf("a JSON line refused with its name: exit %d\n%s", code, out)
	}
	if users := app.must(t, "users", "list", "--config", cfg); !strings.Contains(users, "keep2") || strings.Contains(users, "gone") {
		t.Errorf("after the JSON lines:\n%s", users)
	}
}
