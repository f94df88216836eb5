package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/duoadminfake"
)

// TestAdminChangesReachDUOAdmin: changes an operator makes through the admin API and the
// CLI reach DUO's Admin API (the fake checks every signature) through the remote
// provider of testdata/config/duo-admin.yaml, with no directory source enabled. A CLI
// change made while no server runs is queued in its own commit and reaches DUO once a
// server starts: nothing is lost between the answer and the propagation.
func TestAdminChangesReachDUOAdmin(t *testing.T) {
	eachStorage(t, adminToDUO)
}

func adminToDUO(t *testing.T, storage map[string]string) {
	duo := duoAdmin(t, servingEnv, storage)
	cfg, err := filepath.Abs(duoAdminConfig) // no sync section: no directory source
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfg); err != nil {
		t.Fatal(err)
	}
	app := fakeCLI()
	token := strings.TrimSpace(app.must(t, "tokens", "create", "--name", "idm", "--scope", "write", "--config", cfg))

	// Added with the CLI while no server runs: queued, not lost.
	app.must(t, "users", "add", "olga", "--email", "olga@example.com", "--display-name", "Olga O", "--config", cfg)
	if out := app.must(t, "sync", "status", "--config", cfg); !strings.Contains(out, "propagate:duoadmin") {
		t.Fatalf("sync status shows no propagation to duoadmin:\n%s", out)
	}

	base, logs, _ := app.serve(t, "--config", cfg)
	api := adminClient{t: t, base: base + "/admin/v1", token: token}
	// until waits, past the worker's poll, for DUO's state to say done.
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
	until("the CLI's add, made before the server started", "olga", func(u duoadminfake.User, ok bool) bool {
		return ok && u.Status == "active" && u.Email == "olga@example.com" && u.Realname == "Olga O"
	})

	// The admin API: a disable, a create.
	api.json("POST", "/users/olga/disable", nil, 200)
	until("the admin API's disable", "olga", func(u duoadminfake.User, ok bool) bool { return ok && u.Status == "disabled" })
	api.json("POST", "/users", map[string]any{"name": "pete", "email": "pete@example.com"}, 201)
	until("the admin API's create", "pete", func(u duoadminfake.User, ok bool) bool { return ok && u.Email == "pete@example.com" })
	// A refused change reaches DUO as nothing: pete exists already.
	api.do("POST", "/users", "", []byte(`{"name":"pete","email":"other@example.com"}`))

	// The CLI beside the running server: a change of pete's profile, then olga's delete.
	app.must(t, "users", "set", "pete", "--email", "peter@example.com", "--config", cfg)
	until("the CLI's set", "pete", func(u duoadminfake.User, ok bool) bool { return ok && u.Email == "peter@example.com" })
	app.must(t, "users", "delete", "olga", "--config", cfg)
	until("the CLI's delete", "olga", func(_ duoadminfake.User, ok bool) bool { return !ok })

	for _, r := range duo.Requests() {
		if r.Reject != "" {
			t.Errorf("DUO refused %s %s: %s", r.Method, r.Path, r.Reject)
		}
	}
	if u, _ := duo.User("pete"); u.Email != "peter@example.com" {
		t.Errorf("pete at DUO: %+v after a refused create and the CLI's set", u)
	}
}
