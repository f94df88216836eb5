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

// TestReloadAddsAndRemovesSyncVendor: a remote provider with lifecycle calls added by a
// reload gets its propagation worker and engine at once, and its transforms' warnings are
// logged once (not once per engine built from them); one removed by a reload is propagated nothing more, with a warning that
// says what happens to what was still queued for it, and none that waits for a restart;
// added back, it is propagated to again.
func TestReloadAddsAndRemovesSyncVendor(t *testing.T) {
	const ikey, skey = "DIADMINIKEY0000000000", "admin-secret-key-0123456789"
	duo := duoadminfake.New(t, duoadminfake.Options{IntegrationKey: ikey, SecretKey: skey})
	dir := t.TempDir()
	for k, v := range map[string]string{
		"DUO_ADMIN_URL": duo.URL(), "DUO_ADMIN_IKEY": ikey, "DUO_ADMIN_SKEY": skey,
		"EMFA_VERIFY_PASSWORD": "sim-password-0123", "EMFA_ENCRYPTION_KEY": testEncryptionKey,
		"EMFA_SERVER_LISTEN": "127.0.0.1:0", "EMFA_STORAGE_DSN": "file:" + filepath.Join(dir, "emfa.db"),
		"EMFA_LOG_LEVEL": "debug", "EMFA_LOG_FORMAT": "json",
	} {
		t.Setenv(k, v)
	}
	base := mustRead(t, duoAdminConfig)
	const duoStart = "  - name: DUO Security directory\n"
	at := strings.Index(base, duoStart)
	if at < 0 || !strings.Contains(base[at:], "\n      lifecycle:\n") {
		t.Fatalf("%s no longer has its provider where this test splits it", duoAdminConfig)
	}
	head, duoProvider := base[:at], base[at:]
	builtin := "  - name: Built-in factors\n    credentialPrefix: emfa\n    capabilities: [totp]\n    engine: builtin\n" +
		"    builtin:\n      totp: {algorithm: SHA1, digits: 6, period: 30, window: 1, issuer: emfa}\n"
	sync := "\nsync:\n  okta: {enabled: true, secretHeader: {name: X-Okta-Secret, value: \"okta-secret-0123456789\"}}\n  settle: 1s\n"
	without, with := head+builtin+sync, head+builtin+duoProvider+sync
	cfg := filepath.Join(dir, "emfa.yaml")
	if err := os.WriteFile(cfg, []byte(without), 0o600); err != nil {
		t.Fatal(err)
	}
	app := fakeCLI()
	url, logs, reload := app.reloadingServe(t, cfg)
	create := func(id, user string) {
		t.Helper()
		ev := `{"uuid":"` + id + `","published":"2026-05-01T09:00:01Z","eventType":"user.lifecycle.create",` +
			`"target":[{"type":"User","alternateId":"` + user + `","displayName":"` + user + `"}]}`
		code, _ := syncPost(t, url+"/sync/okta", `{"eventType":"com.okta.event_hook","data":{"events":[`+ev+`]}}`,
			"X-Okta-Secret", "okta-secret-0123456789")
		if code != 204 {
			t.Fatalf("okta hook: %d", code)
		}
	}
	reached := func(user string) {
		t.Helper()
		app.clock.Advance(2 * time.Second)
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if _, ok := duo.User(user); ok {
				return
			}
		}
		t.Fatalf("%s never reached DUO\n%s", user, grepLines(logs.String(), "reload"))
	}
	reloadTo := func(data string) string {
		t.Helper()
		before := len(logs.String())
		replaceFile(t, cfg, data)
		if err := reload(); err != nil {
			t.Fatalf("reload: %v\n%s", err, logs)
		}
		out := logs.String()[before:]
		if strings.Contains(out, "next restart") {
			t.Errorf("a remote provider added or removed waits for a restart:\n%s", grepLines(out, "reload"))
		}
		return out
	}

	out := reloadTo(with)
	// duo-admin.yaml's user.create looks the user up with a transform of unbounded cost.
	const warning = "(duoadmin).remote.lifecycle.user.create[1].transform.outgoing: worst-case cost estimate"
	if n := strings.Count(out, warning); n != 1 {
		t.Errorf("the reload logged the transform's warning %d times, want once:\n%s", n, grepLines(out, "cost estimate"))
	}
	create("p1", "petra")
	reached("petra")

	out = reloadTo(without)
	if !strings.Contains(grepLines(out, `"level":"WARN"`), "duoadmin") {
		t.Errorf("removing a vendor logged no warning naming it:\n%s", grepLines(out, "reload"))
	}

	reloadTo(with)
	create("r1", "rosa")
	reached("rosa")
}
