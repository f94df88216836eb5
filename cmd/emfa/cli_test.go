package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emfa/emfa/store/sqlite"
)

func TestCheck(t *testing.T) {
	cfg := writeConfig(t, "")
	code, out, _ := emfa(t, "check", "--config", cfg)
	if code != 0 || !strings.HasPrefix(out, "ok: ") || strings.Count(out, "\n") != 1 || !strings.Contains(out, "1 provider,") {
		t.Errorf("check: exit %d, %q", code, out)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte(`
server: {auth: {}}
storage: {driver: mysql, dsn: x, encryptionKey: "not-base64!"}
providers:
  - {name: A, credentialPrefix: "a:b", capabilities: [totp, totp]}
`), 0o600)
	code, _, errOut := emfa(t, "check", "--config", bad)
	if code != 1 {
		t.Errorf("bad config: exit %d", code)
	}
	for _, want := range []string{"server.auth:", "storage.driver:", "storage.encryptionKey:", `providers[0].credentialPrefix: must not contain ':'`, "providers[0].capabilities[1]"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check output lacks %q:\n%s", want, errOut)
		}
	}
	if code, _, _ := emfa(t, "check", "--config", "/nonexistent.yaml"); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"users"}, {"factors", "add", "totp"}, {"totp", "code"}, {"serve", "extra"}, {"users", "add", "--bogus"},
		{"sync", "resume"}, {"sync", "resume", "okta", "scim"}, {"sync", "dead-letters", "retry", "1", "2"}} {
		if code, _, errOut := emfa(t, args...); code != 2 || !strings.Contains(errOut, "Usage:") {
			t.Errorf("%q: exit %d, want 2 with usage:\n%s", args, code, errOut)
		}
	}
	cfg := writeConfig(t, "")
	file := filepath.Join(t.TempDir(), "users.csv")
	os.WriteFile(file, []byte("username\nbob\n"), 0o600)
	if code, _, errOut := emfa(t, "import", file, "--format", "xml", "--config", cfg); code != 2 || !strings.Contains(errOut, `--format must be csv or jsonl, not "xml"`) {
		t.Errorf("import --format xml: exit %d, want 2:\n%s", code, errOut)
	}
}

func TestTOTPCodeCommand(t *testing.T) {
	// RFC 6238: SHA1 seed "12345678901234567890" at 59 s is 94287082.
	out := mustEmfa(t, "totp", "code", "--secret", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "--digits", "8", "--time", "59")
	if strings.TrimSpace(out) != "94287082" {
		t.Errorf("code %q", out)
	}
	if code, _, errOut := emfa(t, "totp", "code", "--secret", "!!", "--time", "59"); code != 1 || !strings.Contains(errOut, "base32") {
		t.Errorf("bad secret: %d %s", code, errOut)
	}
}

// Refused input writes nothing.
func TestBadInputWritesNothing(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"users", "add", "alice"}, `a user named "alice" exists already`},
		{[]string{"users", "add", "ALICE"}, `a user named "alice" exists already (user names match regardless of letter case)`},
		{[]string{"users", "delete", "zed"}, `no user "zed"`},
		{[]string{"users", "add", "zed", "--phone", "555"}, `--phone: "555" is not an E.164 number`},
		{[]string{"users", "add", "zed", "--email", "nope", "--disabled"}, `--email: "nope" is not one bare e-mail address`},
		{[]string{"users", "add", "zed", "--group", " g"}, "--group: must not start or end with spaces"},
		{[]string{"factors", "add", "totp", "--user", "zed"}, `user "zed"`},
		{[]string{"factors", "add", "totp", "--user", "alice", "--secret", "SHORT"}, "at least 128"},
		{[]string{"factors", "add", "totp", "--user", "alice", "--digits", "7"}, "digits must be 6 or 8"},
		{[]string{"factors", "add", "totp", "--user", "alice", "--algorithm", "MD5"}, "unknown algorithm"},
		{[]string{"factors", "add", "totp", "--user", "alice", "--name", " padded"}, "--name: must not start or end with spaces"},
		{[]string{"factors", "add", "totp", "--user", "alice", "--activation", "later"}, "totp factors take activation immediate or passcode"},
		{[]string{"factors", "disable", "nope"}, `no factor "nope"`},
		{[]string{"clients", "create", "--name", "verify\nclient"}, "name: 1 to 64 letters"},
		{[]string{"tokens", "create", "--name", "a b", "--scope", "read"}, "name: 1 to 64 letters"},
		{[]string{"clients", "revoke", "nobody"}, `no client named "nobody"`},
		{[]string{"tokens", "revoke", "nobody"}, `no token "nobody"`},
	}
	for _, c := range cases {
		code, _, errOut := emfa(t, append(c.args, "--config", cfg)...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, %q; want 1 and %q", c.args, code, errOut, c.want)
		}
	}
	// A name no request could carry (a control character, over 256 bytes), or one the admin
	// API refuses (spaces around it), is a usage error.
	for _, name := range []string{"a\x00b", "tab\tname", strings.Repeat("n", 257), "bob ", " bob"} {
		if code, _, errOut := emfa(t, "users", "add", name, "--config", cfg); code != 2 || !strings.Contains(errOut, "username") {
			t.Errorf("users add %q: exit %d, %q; want 2 and why", name, code, errOut)
		}
	}
	if out := mustEmfa(t, "factors", "list", "--user", "alice", "--config", cfg); strings.Count(out, "\n") != 1 {
		t.Errorf("refused commands left factors:\n%s", out)
	}
	if out := mustEmfa(t, "users", "list", "--config", cfg); strings.Count(out, "\n") != 2 || !strings.Contains(out, " active ") {
		t.Errorf("users (alice, active, as the admin API says it):\n%s", out)
	}
	// A user added with a profile and disabled is so from the start.
	if out := mustEmfa(t, "users", "add", "bob", "--email", "bob@example.com", "--phone", "+15550100123", "--group", "sms", "--disabled", "--config", cfg); out != "added user bob (disabled)\n" {
		t.Errorf("users add --disabled: %q", out)
	}
	dsn := regexp.MustCompile(`dsn: "([^"]+)"`).FindStringSubmatch(mustRead(t, cfg))[1]
	st, err := sqlite.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.GetUserRecord(context.Background(), "bob")
	if err != nil || !r.Disabled || r.Profile.Email != "bob@example.com" || r.Profile.Phone != "+15550100123" || !slices.Equal(r.Profile.Groups, []string{"sms"}) {
		t.Errorf("bob as stored: %+v, %v", r, err)
	}
	for _, kind := range []string{"clients", "tokens"} {
		if out := mustEmfa(t, kind, "list", "--config", cfg); strings.Count(out, "\n") != 1 {
			t.Errorf("refused commands left %s:\n%s", kind, out)
		}
	}
}

// With no --config, emfa runs on the embedded default: data under EMFA_DATA_DIR, the
// Verify password and encryption key generated once (by serve, or a command given --init),
// kept, and the password printed once, by serve only: a store command that generates it
// as a side effect names its file (its stderr may be a script's log, and it is not the
// command that Verify's password is set up with).
func TestEmbeddedDefault(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("EMFA_DATA_DIR", dir)
	t.Setenv("EMFA_VERIFY_PASSWORD", "")
	t.Setenv("EMFA_ENCRYPTION_KEY", "")
	code, _, errOut := emfa(t, "users", "add", "carol", "--init")
	if code != 0 {
		t.Fatalf("users add: %d %s", code, errOut)
	}
	pw, err := os.ReadFile(filepath.Join(dir, "verify-password"))
	if err != nil || strings.Contains(errOut, strings.TrimSpace(string(pw))) || !strings.Contains(errOut, filepath.Join(dir, "verify-password")) ||
		!strings.Contains(errOut, "BACK IT UP") {
		t.Fatalf("a first run of users add --init must name the generated password's file, not print it, and warn about the key:\n%s", errOut)
	}
	for _, f := range []string{"verify-password", "encryption.key"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v, want mode 0600", f, fi, err)
		}
	}
	code, out, errOut := emfa(t, "users", "list")
	if code != 0 || !strings.Contains(out, "carol") {
		t.Errorf("second run: %d %s %s", code, out, errOut)
	}
	if strings.Contains(errOut, strings.TrimSpace(string(pw))) {
		t.Error("the password is printed again on a later run")
	}
	if code, out, _ := emfa(t, "check"); code != 0 || !strings.Contains(out, "embedded default") {
		t.Errorf("check on the default: %d %s", code, out)
	}
}

// A command other than serve, run where there is no store (no --config, another
// directory), refuses instead of creating a new data directory and key and then reporting
// the factor missing; it names the path and the ways to point at the existing store.
func TestNoSilentNewStore(t *testing.T) {
	t.Setenv("EMFA_VERIFY_PASSWORD", "")
	t.Setenv("EMFA_ENCRYPTION_KEY", "")
	t.Run("no data directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "elsewhere")
		t.Setenv("EMFA_DATA_DIR", dir)
		for _, args := range [][]string{{"users", "list"}, {"users", "add", "alice"}, {"factors", "list", "--user", "alice"},
			{"factors", "add", "totp", "--user", "alice"}, {"factors", "disable", "x"}, {"audit"}} {
			code, out, errOut := emfa(t, args...)
			if code != 1 || out != "" {
				t.Errorf("%q: exit %d, %q", args, code, out)
			}
			for _, want := range []string{dir, "--config", "EMFA_DATA_DIR", "--init"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("%q: the refusal does not name %q:\n%s", args, want, errOut)
				}
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Fatalf("%q created %s: %v", args, dir, err)
			}
		}
		// check reads without creating anything either.
		if code, out, errOut := emfa(t, "check"); code != 0 || !strings.Contains(out, "ok: embedded default") {
			t.Errorf("check: %d %s %s", code, out, errOut)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("check created %s: %v", dir, err)
		}
	})
	t.Run("no key", func(t *testing.T) {
		// A data directory whose key is gone (or a directory that is not emfa's) would
		// otherwise get a new key, which opens none of the factors sealed before.
		dir := t.TempDir()
		t.Setenv("EMFA_DATA_DIR", dir)
		code, _, errOut := emfa(t, "users", "list")
		if key := filepath.Join(dir, "encryption.key"); code != 1 || !strings.Contains(errOut, key) || !strings.Contains(errOut, "EMFA_ENCRYPTION_KEY") {
			t.Errorf("exit %d:\n%s", code, errOut)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("the refused command left %v", entries)
		}
		// The key from the environment is enough: nothing is generated, not even Verify's
		// password, which users never uses.
		t.Setenv("EMFA_ENCRYPTION_KEY", testEncryptionKey)
		code, _, errOut = emfa(t, "users", "add", "alice")
		if code != 0 || strings.Contains(errOut, "generated") {
			t.Errorf("users add with EMFA_ENCRYPTION_KEY: %d %s", code, errOut)
		}
		if _, err := os.Stat(filepath.Join(dir, "verify-password")); !os.IsNotExist(err) {
			t.Errorf("users add generated Verify's password: %v", err)
		}
	})
}

// Admin commands need the store's secrets, not the ones only serve uses: with a
// configuration naming ${EMFA_VERIFY_PASSWORD} and a vendor's key, users and factors run
// without them; serve and check still demand them.
func TestAdminNeedsNoServeSecrets(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "emfa.yaml")
	os.WriteFile(cfg, []byte(`server:
  auth: {basic: {username: verify, password: "${EMFA_VERIFY_PASSWORD}"}}
storage: {dsn: "file:`+dir+`/emfa.db", encryptionKey: "${EMFA_ENCRYPTION_KEY}"}
delivery:
  sms: {type: twilio, accountSid: AC1, authToken: "${TWILIO_TOKEN}", from: "+15550001111"}
providers:
  - {name: Built-in factors, credentialPrefix: emfa, capabilities: [totp, smsotp], builtin: {smsotp: {sender: sms}}}
`), 0o600)
	t.Setenv("EMFA_VERIFY_PASSWORD", "")
	t.Setenv("TWILIO_TOKEN", "")
	t.Setenv("EMFA_ENCRYPTION_KEY", testEncryptionKey)
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	mustEmfa(t, "factors", "add", "smsotp", "--user", "alice", "--phone", "+15551230123", "--config", cfg)
	if out := mustEmfa(t, "factors", "list", "--user", "alice", "--config", cfg); !strings.Contains(out, "smsotp") {
		t.Errorf("factors list:\n%s", out)
	}
	mustEmfa(t, "audit", "--config", cfg)
	for _, args := range [][]string{{"check"}, {"serve"}} {
		code, _, errOut := emfa(t, append(args, "--config", cfg)...)
		if code != 1 || !strings.Contains(errOut, "EMFA_VERIFY_PASSWORD is not set") || !strings.Contains(errOut, "TWILIO_TOKEN is not set") {
			t.Errorf("%s without the secrets: exit %d\n%s", args[0], code, errOut)
		}
	}
	// The store's own key stays required.
	t.Setenv("EMFA_ENCRYPTION_KEY", "")
	if code, _, errOut := emfa(t, "users", "list", "--config", cfg); code != 1 || !strings.Contains(errOut, "EMFA_ENCRYPTION_KEY is not set") {
		t.Errorf("users list without the key: exit %d\n%s", code, errOut)
	}
}

// SIGTERM stops serve gracefully: it stops listening, finishes, exits 0. A SIGHUP before
// it neither kills serve nor passes unsaid: serve reloads its configuration and says so.
func TestServeSIGTERM(t *testing.T) {
	cfg := writeConfig(t, "")
	cmd := selfCommand(t, "serve", "--config", cfg)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	listening := regexp.MustCompile(`"msg":"emfa serving","addr":"([^"]+)"`)
	var addr string
	for addr == "" && sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		cmd.Process.Kill()
		t.Fatal("serve never logged its address")
	}
	lines := make(chan string, 100)
	go func() {
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for said := false; !said; {
		select {
		case line := <-lines:
			said = strings.Contains(line, "configuration reloaded")
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatal("serve said nothing of the SIGHUP")
		}
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err != nil {
		t.Fatalf("serve after SIGHUP: %v", err)
	} else {
		resp.Body.Close()
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("serve ignored SIGTERM")
	}
}

// Killing emfa with SIGKILL while it writes loses no factor whose creation it reported.
// The child runs `emfa factors add` in a loop (each run opens the store, writes, closes);
// the parent kills it mid-stream once it has reported enough factors.
func TestSIGKILLLosesNoCommittedFactor(t *testing.T) {
	// The child adds factors until it is killed: room for more than maxFactorsPerUser's
	// default 20, or a fast child meets the limit and exits before the kill arrives.
	cfg := writeTestConfig(t, "", `providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp]
    engine: builtin
    builtin:
      maxFactorsPerUser: 1000
`)
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	cmd := exec.Command(os.Args[0], "factors", "add", "totp", "--user", "alice", "--config", cfg)
	cmd.Env = append(os.Environ(), "EMFA_TEST_MAIN=repeat")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(out)
	var reported []string
	for len(reported) < 20 {
		var f struct{ ID string }
		if err := dec.Decode(&f); err != nil {
			cmd.Process.Kill()
			t.Fatalf("child stopped after %d factors: %v", len(reported), err)
		}
		reported = append(reported, f.ID)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for { // what the child printed before it died was committed too
		var f struct{ ID string }
		if dec.Decode(&f) != nil {
			break
		}
		reported = append(reported, f.ID)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("child was not killed: %v", err)
	}

	dsn := regexp.MustCompile(`dsn: "([^"]+)"`).FindStringSubmatch(mustRead(t, cfg))[1]
	st, err := sqlite.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("store after SIGKILL: %v", err)
	}
	defer st.Close()
	u, err := st.GetUser(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	factors, err := st.ListFactors(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, f := range factors {
		have[f.ID] = true
	}
	for _, id := range reported {
		if !have[id] {
			t.Errorf("factor %s was reported created but is gone", id)
		}
	}
	if len(factors) < len(reported) || len(factors) > len(reported)+1 {
		t.Errorf("%d factors stored for %d reported: at most one unreported write may have committed", len(factors), len(reported))
	}
	// The store is consistent and the CLI goes on using it.
	mustEmfa(t, "factors", "list", "--user", "alice", "--config", cfg)
}

// check builds every sender, so a broken one is found before the first login.
func TestCheckBuildsSenders(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "emfa.yaml")
	os.WriteFile(path, []byte(`server: {auth: {basic: {username: v, password: verify-password-0123}}}
storage: {dsn: "file:`+dir+`/emfa.db", encryptionKey: "`+testEncryptionKey+`"}
delivery:
  hook: {type: http, url: "https://gw.example.com/send", body: '{"to": to, "text": message +}'}
  sms:  {type: twilio, accountSid: AC1, authToken: t, from: "+15550001111", baseURL: "http://gw.example.com"}
providers:
  - {name: A, credentialPrefix: a, capabilities: [smsotp], builtin: {smsotp: {sender: hook}}}
`), 0o600)
	code, _, errOut := emfa(t, "check", "--config", path)
	if code != 1 || !strings.Contains(errOut, "delivery.hook:") || !strings.Contains(errOut, "delivery.sms:") {
		t.Errorf("check: exit %d\n%s", code, errOut)
	}
}

// aliceWithTOTP writes a configuration and adds alice and a TOTP factor with the CLI:
// the configuration's path and the factor's id.
func aliceWithTOTP(t *testing.T) (cfg, id string) {
	t.Helper()
	cfg = writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	var f struct{ ID string }
	if err := json.Unmarshal([]byte(mustEmfa(t, "factors", "add", "totp", "--user", "alice", "--config", cfg)), &f); err != nil || f.ID == "" {
		t.Fatalf("factors add: %v %q", err, f.ID)
	}
	return cfg, f.ID
}

// The CLI's changes to users and factors are in the audit trail as the admin API's are:
// resource admin.<action>, the actor "cli", the user's name (a factor's owner for the
// commands that name only a factor), the factor; a refused change leaves no SUCCESS.
func TestCLIChangesAudited(t *testing.T) {
	cfg, id := aliceWithTOTP(t)
	for _, verb := range []string{"disable", "enable", "unlock", "delete"} {
		mustEmfa(t, "factors", verb, id, "--config", cfg)
	}
	for _, verb := range []string{"disable", "enable", "delete"} {
		mustEmfa(t, "users", verb, "alice", "--config", cfg)
	}
	if code, _, _ := emfa(t, "users", "delete", "alice", "--config", cfg); code == 0 {
		t.Fatal("deleting a deleted user succeeded")
	}
	var got []string
	for _, ev := range auditLines(t, mustEmfa(t, "audit", "--json", "--config", cfg)) {
		if ev.Actor != "cli" || ev.Username != "alice" || ev.Outcome != "SUCCESS" {
			t.Errorf("event %+v", ev)
		}
		if strings.HasPrefix(ev.Resource, "admin.factors.") && ev.FactorID != id {
			t.Errorf("factor event without its factor: %+v", ev)
		}
		got = append(got, strings.TrimPrefix(ev.Resource, "admin."))
	}
	slices.Reverse(got) // newest first
	want := []string{"users.create", "factors.enroll", "factors.disable", "factors.enable", "factors.unlock", "factors.delete",
		"users.disable", "users.enable", "users.delete"}
	if !slices.Equal(got, want) {
		t.Errorf("audit trail %v, want %v", got, want)
	}
	// The table shows the actor too.
	if out := mustEmfa(t, "audit", "--limit", "1", "--config", cfg); !strings.Contains(out, "ACTOR") || !strings.Contains(out, "admin.users.delete") || !strings.HasSuffix(strings.TrimSpace(out), "cli") {
		t.Errorf("audit table:\n%s", out)
	}
}

// The CLI's user and factor commands follow the admin API's rules, being lifecycle's: a
// refusal by those rules is recorded FAILED with the actor "cli", and a pending factor is
// neither disabled nor enabled by hand (only its activation makes it active; deleting it
// withdraws it).
func TestCLIFollowsAdminRules(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	var f struct{ ID string }
	if err := json.Unmarshal([]byte(mustEmfa(t, "factors", "add", "totp", "--user", "alice", "--activation", "passcode", "--config", cfg)), &f); err != nil || f.ID == "" {
		t.Fatalf("factors add: %v %q", err, f.ID)
	}
	if code, _, errOut := emfa(t, "users", "add", "alice", "--config", cfg); code != 1 || !strings.Contains(errOut, `a user named "alice" exists already`) {
		t.Errorf("users add twice: exit %d, %q", code, errOut)
	}
	// A label the admin API refuses (a terminal's escape sequence) is refused here too.
	if code, _, errOut := emfa(t, "factors", "add", "totp", "--user", "alice", "--name", "phone\x1b[2J", "--config", cfg); code != 1 ||
		!strings.Contains(errOut, "--name: must be text without control characters") {
		t.Errorf("factors add with an escape in its name: exit %d, %q", code, errOut)
	}
	for _, verb := range []string{"disable", "enable"} {
		if code, _, errOut := emfa(t, "factors", verb, f.ID, "--config", cfg); code != 1 || !strings.Contains(errOut, "pending its activation") ||
			strings.Contains(errOut, "not_active") {
			t.Errorf("factors %s of a pending factor: exit %d, %q", verb, code, errOut)
		}
	}
	if out := mustEmfa(t, "factors", "list", "--user", "alice", "--config", cfg); !strings.Contains(out, "pending") {
		t.Errorf("the pending factor changed:\n%s", out)
	}
	var failed []string
	for _, ev := range auditLines(t, mustEmfa(t, "audit", "--json", "--config", cfg)) {
		if ev.Outcome == "FAILED" {
			if ev.Actor != "cli" || ev.Username != "alice" || ev.Reason == "" {
				t.Errorf("refusal record %+v", ev)
			}
			failed = append(failed, strings.TrimPrefix(ev.Resource, "admin.")+" "+ev.FactorID)
		}
	}
	slices.Reverse(failed) // newest first
	if want := []string{"users.create ", "factors.enroll ", "factors.disable " + f.ID, "factors.enable " + f.ID}; !slices.Equal(failed, want) {
		t.Errorf("refusals recorded %q, want %q", failed, want)
	}
	mustEmfa(t, "factors", "delete", f.ID, "--config", cfg)
}

// A CLI change and its audit record are one step: with the audit table refusing every row
// (a trigger), no user or factor command changes anything.
func TestCLIChangeNeedsItsRecord(t *testing.T) {
	cfg, id := aliceWithTOTP(t)
	db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(cfg), "emfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	mustEmfa(t, "tokens", "create", "--name", "ci", "--scope", "read", "--config", cfg)
	mustEmfa(t, "clients", "create", "--name", "verify", "--config", cfg)
	exec(`CREATE TRIGGER refuse_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit refused'); END`)
	for _, args := range [][]string{
		{"tokens", "create", "--name", "ops", "--scope", "write"},
		{"tokens", "revoke", "ci"},
		{"clients", "create", "--name", "other"},
		{"clients", "revoke", "verify"},
		{"users", "add", "bob"},
		{"users", "disable", "alice"},
		{"users", "delete", "alice"},
		{"factors", "add", "totp", "--user", "alice"},
		{"factors", "disable", id},
		{"factors", "unlock", id},
		{"factors", "delete", id},
	} {
		if code, _, errOut := emfa(t, append(args, "--config", cfg)...); code == 0 || !strings.Contains(errOut, "audit refused") {
			t.Errorf("%v with its record refused: exit %d, %q", args, code, errOut)
		}
	}
	exec(`DROP TRIGGER refuse_audit`)
	if out := mustEmfa(t, "users", "list", "--config", cfg); strings.Contains(out, "bob") || !strings.Contains(out, "alice") || strings.Contains(out, "disabled") {
		t.Errorf("users after the refused commands:\n%s", out)
	}
	if out := mustEmfa(t, "factors", "list", "--user", "alice", "--config", cfg); strings.Count(out, "\n") != 2 || !strings.Contains(out, id) || !strings.Contains(out, "active") {
		t.Errorf("factors after the refused commands:\n%s", out)
	}
	if out := mustEmfa(t, "tokens", "list", "--config", cfg); strings.Contains(out, "ops") || !strings.Contains(out, "ci ") || !strings.HasSuffix(strings.TrimSpace(out), "-") {
		t.Errorf("tokens after the refused commands:\n%s", out)
	}
	if out := mustEmfa(t, "clients", "list", "--config", cfg); strings.Contains(out, "other") || !strings.Contains(out, "verify") || !strings.HasSuffix(strings.TrimSpace(out), "-") {
		t.Errorf("clients after the refused commands:\n%s", out)
	}
	if out := mustEmfa(t, "audit", "--json", "--config", cfg); strings.Count(strings.TrimSpace(out), "\n") != 3 {
		t.Errorf("audit trail after the refused commands, want its four records:\n%s", out)
	}
}

// An operator's override of the deletion guard, and a dead-letter retry, are in the audit
// trail with the actor cli; a command that changed nothing is refused or leaves no record.
func TestSyncCommandsRecorded(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	if code, _, errOut := emfa(t, "sync", "resume", "okta", "--config", cfg); code != 1 || !strings.Contains(errOut, `source "okta" is not paused`) {
		t.Fatalf("resume of a running source: exit %d, %q", code, errOut)
	}
	if out := mustEmfa(t, "sync", "dead-letters", "retry", "--config", cfg); !strings.Contains(out, "0 event(s) queued again") {
		t.Fatalf("retry with no dead letter: %q", out)
	}
	// The guard's pause, as the queue writes it, and a dead letter.
	db, err := sql.Open("sqlite", filepath.Join(filepath.Dir(cfg), "emfa.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`INSERT INTO sync_pauses (source, reason, created_at) VALUES ('okta', '100 users deleted in the last hour', 0)`,
		`INSERT INTO sync_events (source, event_id, type, order_key, event_time, state, attempts, next_at, body, created_at, updated_at)
			VALUES ('okta', 'e1', 'user.delete', 'user:bob', 0, 'dead', 3, 0, '{}', 0, 0)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if out := mustEmfa(t, "sync", "resume", "okta", "--config", cfg); !strings.Contains(out, "okta resumed") {
		t.Fatalf("resume: %q", out)
	}
	if out := mustEmfa(t, "sync", "dead-letters", "retry", "--config", cfg); !strings.Contains(out, "1 event(s) queued again") {
		t.Fatalf("retry: %q", out)
	}
	var got []string
	for _, ev := range auditLines(t, mustEmfa(t, "audit", "--json", "--config", cfg)) {
		got = append(got, ev.Resource+" "+ev.Outcome+" "+ev.Actor+" "+ev.Reason)
	}
	want := []string{"admin.sync.retry SUCCESS cli every dead letter", "admin.sync.resume SUCCESS cli okta", "admin.users.create SUCCESS cli "}
	if !slices.Equal(got, want) {
		t.Errorf("audit trail %q, want %q", got, want)
	}
}

// auditLines reads the output of emfa audit --json: one record a line.
func auditLines(t *testing.T, out string) []auditJSON {
	t.Helper()
	var evs []auditJSON
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev auditJSON
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		evs = append(evs, ev)
	}
	return evs
}

// TestCheckFindsWhatServeRefuses: emfa check compiles what serve compiles at start, so a
// file it passes does not fail at start: a provider's policy, the OAuth signing key.
func TestCheckFindsWhatServeRefuses(t *testing.T) {
	for name, tc := range map[string]struct{ body, edit, want string }{
		"a policy that does not compile": {body: "providers:\n  - name: A\n    credentialPrefix: emfa\n    capabilities: [totp]\n    policy:\n      totp: '\"staff\" in user.groups &&'\n",
			want: "providers[0].policy"},
		"a signing key that is no key": {body: "providers:\n  - name: A\n    credentialPrefix: emfa\n    capabilities: [totp]\n",
			edit: "    oauth: {signingKey: \"not a PEM key\"}\n", want: "server.auth.oauth.signingKey"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := writeTestConfig(t, "", tc.body)
			if tc.edit != "" {
				os.WriteFile(cfg, []byte(strings.Replace(mustRead(t, cfg), "  auth:\n", "  auth:\n"+tc.edit, 1)), 0o600)
			}
			if code, out, errOut := emfa(t, "check", "--config", cfg); code != 1 || !strings.Contains(errOut, tc.want) {
				t.Errorf("check: exit %d %s%s, want 1 naming %s", code, out, errOut, tc.want)
			}
		})
	}
}
