package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/duoadminfake"
)

// TestImportsReachDUOAdmin: the users a bulk import creates, updates and (full) deletes
// reach DUO's Admin API (the fake checks every signature) through the remote provider of
// testdata/config/duo-admin.yaml, with no directory source enabled, as the admin API's
// single changes do: emfa import run while no server runs queues each user's
// propagations in that user's commit, and they reach DUO once a server starts; the admin
// API's import, while it runs.
func TestImportsReachDUOAdmin(t *testing.T) {
	eachStorage(t, importToDUO)
}

func importToDUO(t *testing.T, storage map[string]string) {
	duo := duoAdmin(t, servingEnv, storage)
	cfg, err := filepath.Abs(duoAdminConfig) // no sync section: no directory source
	if err != nil {
		t.Fatal(err)
	}
	app := fakeCLI()
	token := strings.TrimSpace(app.must(t, "tokens", "create", "--name", "idm", "--scope", "write", "--config", cfg))

	// Imported with the CLI while no server runs: queued, not lost. A dry run queues nothing.
	file := filepath.Join(t.TempDir(), "directory.csv")
	if err := os.WriteFile(file, []byte("username,email,displayName,groups,state\n"+
		"olga,olga@example.com,Olga O,staff,active\n"+
		"pete,pete@example.com,Pete P,,disabled\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	app.must(t, "import", file, "--dry-run", "--config", cfg)
	if out := app.must(t, "sync", "status", "--config", cfg); strings.Contains(out, "propagate:duoadmin") {
		t.Fatalf("a dry run queued propagations:\n%s", out)
	}
	app.must(t, "import", file, "--config", cfg)
	if out := app.must(t, "sync", "status", "--config", cfg); !strings.Contains(out, "propagate:duoadmin") {
		t.Fatalf("sync status shows no propagation to duoadmin after the import:\n%s", out)
	}

	base, logs, _ := app.serve(t, "--config", cfg)
	api := adminClient{t: t, base: base + "/admin/v1", token: token}
	until := func(what, user string, done func(u duoadminfake.User, ok bool) bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			app.clock.Advance(time.Second)
			if done(duo.User(user)) {
				return
			}
		}
		for _, r := range duo.Requests() {
			t.Logf("DUO saw %s %s %d %s", r.Method, r.Path, r.Status, r.Reject)
		}
		u, ok := duo.User(user)
		t.Fatalf("%s never reached DUO: %+v (exists %v)\n%s", what, u, ok, logs)
	}
	inGroup := func(u duoadminfake.User, group string) bool {
		return slices.ContainsFunc(u.Groups, func(g duoadminfake.Group) bool { return g.Name == group })
	}
	until("the CLI's import of olga, made before the server started", "olga", func(u duoadminfake.User, ok bool) bool {
		return ok && u.Status == "active" && u.Email == "olga@example.com" && u.Realname == "Olga O" && inGroup(u, "staff")
	})
	until("the CLI's import of pete, disabled", "pete", func(u duoadminfake.User, ok bool) bool {
		return ok && u.Status == "disabled" && u.Email == "pete@example.com"
	})

	// The admin API's full import: olga renamed, out of her group and disabled; pete,
	// absent, deleted.
	code, out := api.do("POST", "/import?full=true&maxDeletes=1", "text/csv",
		[]byte("username,email,displayName,groups,state\nolga,olga@example.com,Olga Olsen,,disabled\n"))
	if code != 200 {
		t.Fatalf("POST /import: %d %v", code, out)
	}
	until("the admin API's import of olga", "olga", func(u duoadminfake.User, ok bool) bool {
		return ok && u.Realname == "Olga Olsen" && u.Status == "disabled" && !inGroup(u, "staff")
	})
	until("the admin API's full import, without pete", "pete", func(_ duoadminfake.User, ok bool) bool { return !ok })

	for _, r := range duo.Requests() {
		if r.Reject != "" {
			t.Errorf("DUO refused %s %s: %s", r.Method, r.Path, r.Reject)
		}
	}
}
