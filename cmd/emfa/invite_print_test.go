package main

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/smtpfake"
)

// brokenOut is an output that takes nothing: a closed pipe, a full disk.
type brokenOut struct{ tried strings.Builder }

func (b *brokenOut) Write(p []byte) (int, error) {
	b.tried.Write(p)
	return 0, errors.New("write /dev/stdout: broken pipe")
}

// `emfa users invite --deliver=false` whose output fails handed no one the link: it
// exited 0 and left a live link (replacing the user's older one) that nobody holds, with
// the minute's limit spent. It must fail, and the link it made must open nothing.
func TestInviteUnprinted(t *testing.T) {
	mail := smtpfake.Start(t, smtpfake.Options{})
	cfg := selfServiceConfig(t, mail, "https://mfa.example.com")
	app := fakeCLI()
	app.must(t, "users", "add", "bob", "--config", cfg)

	var out brokenOut
	var errOut strings.Builder
	code := run(context.Background(), []string{"users", "invite", "bob", "--deliver=false", "--config", cfg}, app.deps(&out, &errOut))
	if code == 0 {
		t.Fatalf("invite whose link could not be printed: exit 0, stderr %q", errOut.String())
	}
	if !strings.Contains(errOut.String(), "not printed") {
		t.Errorf("stderr does not say the link was not printed: %q", errOut.String())
	}
	db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(cfg), "emfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var live int
	if err := db.QueryRow(`SELECT count(*) FROM selfservice_links WHERE spent_at = 0 AND expires_at > ?`, app.clock.Now().UnixMilli()).Scan(&live); err != nil {
		t.Fatal(err)
	}
	if live != 0 {
		t.Errorf("%d live link(s) left that no one was handed", live)
	}
	// The withdrawal is recorded, and the next invite may come at once.
	var recorded int
	db.QueryRow(`SELECT count(*) FROM audit WHERE resource = 'admin.selfservice.link' AND outcome = 'FAILED' AND reason LIKE '%not printed%'`).Scan(&recorded)
	if recorded != 1 {
		t.Errorf("%d records of the withdrawn link, want 1", recorded)
	}
	if got := app.must(t, "users", "invite", "bob", "--deliver=false", "--config", cfg); !linkRE.MatchString(got) {
		t.Fatalf("invite after the unprinted one: %q", got)
	}
}

// `emfa users invite alice`, as the README's Self-service shows it, run without --config
// (on the embedded default, which has no page) said "selfService.enabled is false in the
// configuration": not which configuration, nor that the page is turned on in a file passed
// with --config.
func TestInviteWithoutPage(t *testing.T) {
	t.Setenv("EMFA_DATA_DIR", filepath.Join(t.TempDir(), "data"))
	t.Setenv("EMFA_ENCRYPTION_KEY", testEncryptionKey)
	mustEmfa(t, "users", "add", "alice", "--init")
	code, _, errOut := emfa(t, "users", "invite", "alice")
	if code != 1 || !strings.Contains(errOut, "embedded default") || !strings.Contains(errOut, "--config") {
		t.Errorf("exit %d, want 1 naming the embedded default and --config:\n%s", code, errOut)
	}
}
