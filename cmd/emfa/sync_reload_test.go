package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/duoadminfake"
)

// TestReloadRotatesSyncVendorKey: a vendor's secret key rotated in a ${file:PATH} secret
// reaches directory sync's propagation at a reload, as it reaches the contract: the DUO
// Admin API fake, which checks every signature against the key it holds, takes the next
// propagation signed with the new key, and refuses none. A reload that fails (the file
// emptied half-way through a rotation) keeps the propagators in place.
func TestReloadRotatesSyncVendorKey(t *testing.T) {
	const ikey, oldKey, newKey = "DIADMINIKEY0000000000", "old-admin-secret-key-0123456789", "new-admin-secret-key-9876543210"
	duo := duoadminfake.New(t, duoadminfake.Options{IntegrationKey: ikey, SecretKey: oldKey})
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "duo-skey")
	if err := os.WriteFile(keyFile, []byte(oldKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"DUO_ADMIN_URL": duo.URL(), "DUO_ADMIN_IKEY": ikey,
		"EMFA_VERIFY_PASSWORD": "sim-password-0123", "EMFA_ENCRYPTION_KEY": testEncryptionKey,
		"EMFA_SERVER_LISTEN": "127.0.0.1:0", "EMFA_STORAGE_DSN": "file:" + filepath.Join(dir, "emfa.db"),
		"EMFA_LOG_LEVEL": "debug", "EMFA_LOG_FORMAT": "json",
	} {
		t.Setenv(k, v)
	}
	base := mustRead(t, duoAdminConfig)
	if !strings.Contains(base, `"${DUO_ADMIN_SKEY}"`) {
		t.Fatalf("%s no longer reads the secret key from DUO_ADMIN_SKEY", duoAdminConfig)
	}
	base = strings.Replace(base, `"${DUO_ADMIN_SKEY}"`, `"${file:`+keyFile+`}"`, 1)
	cfg := filepath.Join(dir, "emfa.yaml")
	sync := "\nsync:\n  okta: {enabled: true, secretHeader: {name: X-Okta-Secret, value: \"okta-secret-0123456789\"}}\n  settle: 1s\n"
	if err := os.WriteFile(cfg, []byte(base+sync), 0o600); err != nil {
		t.Fatal(err)
	}
	app := fakeCLI()
	url, logs, reload := app.reloadingServe(t, cfg)
	okta := func(id, typ string, sec int) {
		t.Helper()
		ev := `{"uuid":"` + id + `","published":"2026-05-01T09:00:0` + string(rune('0'+sec)) + `Z","eventType":"` + typ +
			`","target":[{"type":"User","alternateId":"olga","displayName":"Olga O"}]}`
		code, _ := syncPost(t, url+"/sync/okta", `{"eventType":"com.okta.event_hook","data":{"events":[`+ev+`]}}`,
			"X-Okta-Secret", "okta-secret-0123456789")
		if code != 204 {
			t.Fatalf("okta hook: %d", code)
		}
	}
	// until waits, past the queue's settle time, for the fake to hold what done wants; a
	// request the fake refused since seen (a signature with another key) fails at once.
	seen := 0
	until := func(what string, done func(u duoadminfake.User, ok bool) bool) {
		t.Helper()
		app.clock.Advance(2 * time.Second)
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			reqs := duo.Requests()
			for _, r := range reqs[seen:] {
				if r.Reject != "" {
					t.Fatalf("%s: DUO refused %s %s: %s\n%s", what, r.Method, r.Path, r.Reject, grepLines(logs.String(), "reload"))
				}
			}
			if done(duo.User("olga")) {
				seen = len(reqs)
				return
			}
		}
		u, ok := duo.User("olga")
		t.Fatalf("%s never reached DUO: %+v (exists %v)\n%s", what, u, ok, logs)
	}

	okta("o1", "user.lifecycle.create", 1)
	until("create, signed with the old key", func(u duoadminfake.User, ok bool) bool { return ok && u.Status == "active" })

	// The key is rotated at DUO and in the file, then emfa is told (SIGHUP).
	duo.SetSecretKey(newKey)
	if err := os.WriteFile(keyFile, []byte(newKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := reload(); err != nil {
		t.Fatalf("reload: %v\n%s", err, logs)
	}
	if out := logs.String(); strings.Contains(out, "next restart") {
		t.Errorf("a rotated vendor key reported as waiting for a restart:\n%s", grepLines(out, "reload"))
	}
	okta("o2", "user.lifecycle.suspend", 2)
	until("suspend, signed with the new key", func(u duoadminfake.User, ok bool) bool { return ok && u.Status == "disabled" })

	// A rotation half done: the file is empty. The reload fails, and the propagators it
	// would have replaced carry on with the key they have.
	if err := os.WriteFile(keyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := reload(); err == nil {
		t.Fatal("a reload with an empty secret file succeeded")
	}
	okta("o3", "user.lifecycle.unsuspend", 3)
	until("unsuspend after a failed reload", func(u duoadminfake.User, ok bool) bool { return ok && u.Status == "active" })

	if out := logs.String(); strings.Contains(out, oldKey) || strings.Contains(out, newKey) {
		t.Errorf("the log shows a secret key:\n%s", grepLines(out, "key"))
	}
}
