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
