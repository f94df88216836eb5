package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/smtpfake"
)

// selfServiceConfig is a configuration with the page enabled and links e-mailed to mail.
func selfServiceConfig(t *testing.T, mail *smtpfake.Server, publicURL string) string {
	return writeTestConfig(t, "", fmt.Sprintf(`delivery:
  mail: {type: smtp, host: %q, port: %d, tls: none, from: "emfa <otp@example.com>", timeout: 5s}
providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp, emailotp]
    engine: builtin
    builtin:
      emailotp: {sender: mail}
selfService:
  enabled: true
  capabilities: [totp, emailotp]
  publicURL: %s
  mail: {sender: mail, subject: "Set up MFA, {{.DisplayName}}"}
`, mail.Host(), mail.Port(), publicURL))
}

var linkRE = regexp.MustCompile(`https://mfa\.example\.com/self-service/link/[A-Za-z0-9_-]{43}`)

func TestInviteCLI(t *testing.T) {
	mail := smtpfake.Start(t, smtpfake.Options{})
	cfg := selfServiceConfig(t, mail, "https://mfa.example.com")
	app := fakeCLI()
	app.must(t, "users", "add", "bob", "--config", cfg)

	// Printed, not delivered: a user without an address can still be handed a link.
	out := app.must(t, "users", "invite", "bob", "--deliver=false", "--config", cfg)
	if !linkRE.MatchString(out) {
		t.Fatalf("no link printed: %q", out)
	}
	// Delivered needs an address.
	if code, _, errOut := app.run(t, "users", "invite", "carol", "--config", cfg); code == 0 || !strings.Contains(errOut, `no user "carol"`) {
		t.Fatalf("unknown user: exit %d %q", code, errOut)
	}
	app.clock.Advance(2 * time.Minute)
	if code, _, errOut := app.run(t, "users", "invite", "bob", "--config", cfg); code == 0 || !strings.Contains(errOut, "no e-mail address") ||
		!strings.Contains(errOut, "--deliver=false") || strings.Contains(errOut, "deliver: false") {
		t.Fatalf("no address: exit %d %q", code, errOut)
	}

	// Import --invite: each created user with an address gets one link; bob (updated) none.
	csv := filepath.Join(t.TempDir(), "users.csv")
	os.WriteFile(csv, []byte("username,email,displayName\nalice,alice@example.com,Alice\nbob,,Bob\ndave,,Dave\n"), 0o600)
	out = app.must(t, "import", csv, "--invite", "--config", cfg)
	if !strings.Contains(out, "invited: link sent to a") || strings.Count(out, "invited") != 1 {
		t.Fatalf("import report:\n%s", out)
	}
	if got := mail.To("alice@example.com"); len(got) != 1 || !strings.Contains(got[0].Data, "Set up MFA, Alice") {
		t.Fatalf("alice's mail: %v", got)
	}
	// The send limit is per user: alice again at once is refused, then allowed later.
	if code, _, errOut := app.run(t, "users", "invite", "alice", "--config", cfg); code == 0 || !strings.Contains(errOut, "less than") {
		t.Fatalf("send limit: exit %d %q", code, errOut)
	}
	app.clock.Advance(61 * time.Second)
	out = app.must(t, "users", "invite", "alice", "--config", cfg)
	if !strings.Contains(out, "sent alice's activation link to a") {
		t.Fatalf("invite: %q", out)
	}
	if n := len(mail.To("alice@example.com")); n != 2 {
		t.Fatalf("%d mails to alice", n)
	}
	// --help shows the example.
	if out := app.must(t, "users", "invite", "--help"); !strings.Contains(out, "--deliver=false") {
		t.Fatalf("help: %s", out)
	}
	// Without the page, invite says so.
	plain := writeTestConfig(t, "", `providers:
  - {name: Built-in factors, credentialPrefix: emfa, capabilities: [totp], engine: builtin}
`)
	app.must(t, "users", "add", "erin", "--config", plain)
	if code, _, errOut := app.run(t, "users", "invite", "erin", "--config", plain); code == 0 || !strings.Contains(errOut, "selfService.enabled is false") {
		t.Fatalf("disabled: exit %d %q", code, errOut)
	}
}

// An activation link is a credential: it is stored only with the record of its issue,
// from the same commit, and a send that fails leaves no link (nor the minute's limit)
// behind.
func TestInviteRecorded(t *testing.T) {
	mail := smtpfake.Start(t, smtpfake.Options{})
	cfg := selfServiceConfig(t, mail, "https://mfa.example.com")
	app := fakeCLI()
	csv := filepath.Join(t.TempDir(), "users.csv")
	os.WriteFile(csv, []byte("username,email\nalice,alice@example.com\n"), 0o600)
	app.must(t, "import", csv, "--config", cfg)

	mail.Reject("alice@example.com", true)
	if code, _, errOut := app.run(t, "users", "invite", "alice", "--config", cfg); code == 0 || !strings.Contains(errOut, "could not be e-mailed") {
		t.Fatalf("invite with the mail refused: exit %d %q", code, errOut)
	}
	mail.Reject("alice@example.com", false)
	// Nothing was stored: the next invite goes at once.
	if out := app.must(t, "users", "invite", "alice", "--config", cfg); !strings.Contains(out, "sent alice's activation link to a") {
		t.Fatalf("invite after the failed send: %q", out)
	}

	db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(cfg), "emfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER refuse_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit refused'); END`); err != nil {
		t.Fatal(err)
	}
	app.clock.Advance(2 * time.Minute)
	code, out, errOut := app.run(t, "users", "invite", "alice", "--deliver=false", "--config", cfg)
	if code == 0 || !strings.Contains(errOut, "audit refused") || linkRE.MatchString(out) {
		t.Fatalf("invite with its record refused: exit %d %q %q", code, out, errOut)
	}
	if _, err := db.Exec(`DROP TRIGGER refuse_audit`); err != nil {
		t.Fatal(err)
	}
	// Had the refused link been stored, this one would be within its minute.
	if out := app.must(t, "users", "invite", "alice", "--deliver=false", "--config", cfg); !linkRE.MatchString(out) {
		t.Fatalf("invite after the refused one: %q", out)
	}

	var got []string
	for _, ev := range auditLines(t, app.must(t, "audit", "--json", "--user", "alice", "--config", cfg)) {
		if ev.Resource != "admin.selfservice.link" {
			continue
		}
		if ev.Actor != "cli" {
			t.Errorf("record %+v", ev)
		}
		reason, _, _ := strings.Cut(ev.Reason, ":")
		got = append(got, ev.Outcome+" "+reason)
	}
	want := []string{"SUCCESS returned to the caller", "SUCCESS e-mailed to a***@example.com", "FAILED not sent"}
	if !slices.Equal(got, want) {
		t.Errorf("link records (newest first) %q, want %q", got, want)
	}
}

func TestInviteAdminAPI(t *testing.T) {
	mail := smtpfake.Start(t, smtpfake.Options{})
	cfg := selfServiceConfig(t, mail, "https://mfa.example.com")
	app := &cli{}
	token := strings.TrimSpace(app.must(t, "tokens", "create", "--name", "idm", "--scope", "write", "--config", cfg))
	base, _, _ := app.serve(t, "--config", cfg)
	call := func(method, path, ct, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	// invite without an address is refused before the user is created.
	if code, out := call("POST", "/admin/v1/users", "application/json", `{"name":"alice","invite":true}`); code != 400 && code != 422 {
		t.Fatalf("no email: %d %v", code, out)
	}
	if code, _ := call("GET", "/admin/v1/users/alice", "", ""); code != 404 {
		t.Fatalf("alice created by a refused invite: %d", code)
	}
	code, out := call("POST", "/admin/v1/users", "application/json", `{"name":"alice","email":"alice@example.com","invite":true}`)
	inv, _ := out["invite"].(map[string]any)
	if code != 201 || out["name"] != "alice" || inv["delivered"] != true || inv["to"] == "" {
		t.Fatalf("create with invite: %d %v", code, out)
	}
	if got := mail.To("alice@example.com"); len(got) != 1 || !linkRE.MatchString(strings.ReplaceAll(strings.ReplaceAll(got[0].Data, "=\r\n", ""), "=3D", "=")) {
		t.Fatalf("alice's mail: %v", got)
	}
	// A failed send leaves the user created and says why in inviteError.
	mail.Reject("erin@example.com", true)
	code, out = call("POST", "/admin/v1/users", "application/json", `{"name":"erin","email":"erin@example.com","invite":true}`)
	if ie, _ := out["inviteError"].(map[string]any); code != 201 || out["invite"] != nil || ie["code"] != "link_not_sent" {
		t.Fatalf("create, mail refused: %d %v", code, out)
	}
	if code, _ := call("GET", "/admin/v1/users/erin", "", ""); code != 200 {
		t.Fatalf("erin not created: %d", code)
	}
	// The send limit: a link for alice now is refused.
	if code, out := call("POST", "/admin/v1/users/alice/activation-link", "application/json", ``); code == 201 {
		t.Fatalf("second link within a minute: %d %v", code, out)
	}
	// Import with ?invite=true: carol (new, with an address) is invited, alice (existing),
	// dan (no address) and fay (created disabled: her link could not open) are not.
	code, out = call("POST", "/admin/v1/import?invite=true", "text/csv",
		"username,email,state\nalice,alice@example.com,\ncarol,carol@example.com,\ndan,,\nfay,fay@example.com,disabled\n")
	if code != 200 {
		t.Fatalf("import: %d %v", code, out)
	}
	rows, _ := out["rows"].([]any)
	invited, notInvited := map[string]any{}, map[string]any{}
	for _, r := range rows {
		r := r.(map[string]any)
		invited[r["username"].(string)] = r["invited"]
		if e, ok := r["inviteError"].(map[string]any); ok {
			notInvited[r["username"].(string)] = e["code"]
		}
	}
	if invited["carol"] == nil || invited["alice"] != nil || invited["dan"] != nil || invited["fay"] != nil || notInvited["fay"] != "user_disabled" {
		t.Fatalf("import rows: %v", rows)
	}
	if len(mail.To("fay@example.com")) != 0 {
		t.Fatal("a link went to fay, created disabled")
	}
	if len(mail.To("carol@example.com")) != 1 || len(mail.To("alice@example.com")) != 1 {
		t.Fatalf("mails: %d to carol, %d to alice", len(mail.To("carol@example.com")), len(mail.To("alice@example.com")))
	}
	if code, out := call("POST", "/admin/v1/import?invite=maybe", "text/csv", "username\nx\n"); code != 400 || out["error"].(map[string]any)["field"] != "invite" {
		t.Fatalf("bad invite parameter: %d %v", code, out)
	}
}

func adminDo(t *testing.T, base, token, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}
