package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emfa/emfa/store/sqlite"
)

func TestCheck(t *testing.T) {
	cfg := writeConfig(t, "")
	code, out, _ := emfa(t, "check", "--config", cfg)
	if code != 0 || !strings.HasPrefix(out, "ok: ") || strings.Count(out, "\n") != 1 || !strings.Contains(out, "1 provider(s)") {
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
	for _, want := range []string{"server.auth:", "storage.driver:", "storage.encryptionKey:", `providers[0].credentialPrefix: "a:b" must not contain ':'`, "providers[0].capabilities[1]"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check output lacks %q:\n%s", want, errOut)
		}
	}
	if code, _, _ := emfa(t, "check", "--config", "/nonexistent.yaml"); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"users"}, {"factors", "add", "totp"}, {"totp", "code"}, {"serve", "extra"}, {"users", "add", "--bogus"}} {
		if code, _, errOut := emfa(t, args...); code != 2 || !strings.Contains(errOut, "Usage:") {
			t.Errorf("%q: exit %d, want 2 with usage:\n%s", args, code, errOut)
		}
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
		{[]string{"users", "add", "alice"}, `user "alice" already exists`},
		{[]string{"users", "delete", "zed"}, `no user "zed"`},
		{[]string{"factors", "add", "totp", "--user", "zed"}, `user "zed"`},
		{[]string{"factors", "add", "totp", "--user", "alice", "--secret", "SHORT"}, "at least 128"},
		{[]string{"factors", "add", "totp", "--user", "alice", "--digits", "7"}, "digits must be 6 or 8"},
		{[]string{"factors", "add", "totp", "--user", "alice", "--algorithm", "MD5"}, "unknown algorithm"},
		{[]string{"factors", "add", "sms", "--user", "alice"}, "unknown factor type"},
		{[]string{"factors", "disable", "nope"}, `no factor "nope"`},
	}
	for _, c := range cases {
		code, _, errOut := emfa(t, append(c.args, "--config", cfg)...)
		if code != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, %q; want 1 and %q", c.args, code, errOut, c.want)
		}
	}
	if out := mustEmfa(t, "factors", "list", "--user", "alice", "--config", cfg); strings.Count(out, "\n") != 1 {
		t.Errorf("refused commands left factors:\n%s", out)
	}
	if out := mustEmfa(t, "users", "list", "--config", cfg); strings.Count(out, "\n") != 2 {
		t.Errorf("users:\n%s", out)
	}
}

// With no --config, emfa runs on the embedded default: data under EMFA_DATA_DIR, the
// Verify password and encryption key generated once, kept, and the password printed once.
func TestEmbeddedDefault(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	t.Setenv("EMFA_DATA_DIR", dir)
	t.Setenv("EMFA_VERIFY_PASSWORD", "")
	t.Setenv("EMFA_ENCRYPTION_KEY", "")
	code, _, errOut := emfa(t, "users", "add", "carol")
	if code != 0 {
		t.Fatalf("users add: %d %s", code, errOut)
	}
	pw, err := os.ReadFile(filepath.Join(dir, "verify-password"))
	if err != nil || !strings.Contains(errOut, strings.TrimSpace(string(pw))) || !strings.Contains(errOut, "BACK IT UP") {
		t.Fatalf("first run must print the generated password and the key warning:\n%s", errOut)
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

// selfCommand runs the test binary as `emfa args...`.
func selfCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "EMFA_TEST_MAIN=1")
	return cmd
}

// SIGTERM stops serve gracefully: it stops listening, finishes, exits 0.
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
	go func() {
		for sc.Scan() {
		}
	}()
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
	cfg := writeConfig(t, "")
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

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
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
