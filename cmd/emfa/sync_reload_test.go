package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/config"
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

// duoSync is a server for the reload tests of directory sync with DUO's Admin API as the
// vendor: the fake, duo-admin.yaml split into its head and its provider, a builtin
// provider beside it, and, once serving, the Okta hook's calls and the wait for a user
// to reach DUO.
type duoSync struct {
	t                          *testing.T
	duo                        *duoadminfake.Server
	head, duoProvider, builtin string
	cfg                        string
	app                        *cli
	url                        string
	logs                       *lockedLog
	reload                     func() error
}

// oktaSync is a sync section with the Okta hook enabled.
const oktaSync = "\nsync:\n  okta: {enabled: true, secretHeader: {name: X-Okta-Secret, value: \"okta-secret-0123456789\"}}\n  settle: 1s\n"

func newDUOSync(t *testing.T) *duoSync {
	const ikey, skey = "DIADMINIKEY0000000000", "admin-secret-key-0123456789"
	d := &duoSync{t: t, duo: duoadminfake.New(t, duoadminfake.Options{IntegrationKey: ikey, SecretKey: skey})}
	dir := t.TempDir()
	for k, v := range map[string]string{
		"DUO_ADMIN_URL": d.duo.URL(), "DUO_ADMIN_IKEY": ikey, "DUO_ADMIN_SKEY": skey,
		"EMFA_VERIFY_PASSWORD": "sim-password-0123", "EMFA_ENCRYPTION_KEY": testEncryptionKey,
		"EMFA_SERVER_LISTEN": "127.0.0.1:0", "EMFA_STORAGE_DSN": "file:" + filepath.Join(dir, "emfa.db"),
		"EMFA_LOG_LEVEL": "debug", "EMFA_LOG_FORMAT": "json",
	} {
		t.Setenv(k, v)
	}
	base := mustRead(t, duoAdminConfig)
	const duoStart = "  - name: DUO Security directory\n"
	at := strings.Index(base, duoStart)
	if at < 0 || !strings.Contains(base[at:], "\n      lifecycle:\n") || strings.Contains(base[at:], "\nsync:") {
		t.Fatalf("%s no longer has its provider, and no sync section, where these tests split it", duoAdminConfig)
	}
	d.head, d.duoProvider = base[:at], base[at:]
	d.builtin = "  - name: Built-in factors\n    credentialPrefix: emfa\n    capabilities: [totp]\n    engine: builtin\n" +
		"    builtin:\n      totp: {algorithm: SHA1, digits: 6, period: 30, window: 1, issuer: emfa}\n"
	d.cfg = filepath.Join(dir, "emfa.yaml")
	d.app = fakeCLI()
	return d
}

// serve starts the server on data.
func (d *duoSync) serve(data string) {
	if err := os.WriteFile(d.cfg, []byte(data), 0o600); err != nil {
		d.t.Fatal(err)
	}
	d.url, d.logs, d.reload = d.app.reloadingServe(d.t, d.cfg)
}

// create posts an Okta hook's user creation, and returns its status.
func (d *duoSync) create(id, user string) int {
	d.t.Helper()
	ev := `{"uuid":"` + id + `","published":"2026-05-01T09:00:01Z","eventType":"user.lifecycle.create",` +
		`"target":[{"type":"User","alternateId":"` + user + `","displayName":"` + user + `"}]}`
	code, _ := syncPost(d.t, d.url+"/sync/okta", `{"eventType":"com.okta.event_hook","data":{"events":[`+ev+`]}}`,
		"X-Okta-Secret", "okta-secret-0123456789")
	return code
}

// reached waits for user to reach DUO.
func (d *duoSync) reached(user string) {
	d.t.Helper()
	d.app.clock.Advance(2 * time.Second) // past sync.settle
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, ok := d.duo.User(user); ok {
			return
		}
	}
	d.t.Fatalf("%s never reached DUO\n%s", user, grepLines(d.logs.String(), "sync"))
}

// reloadTo reloads the server on data, and returns what it logged meanwhile; nothing of
// it may wait for a restart.
func (d *duoSync) reloadTo(data string) string {
	d.t.Helper()
	before := len(d.logs.String())
	replaceFile(d.t, d.cfg, data)
	if err := d.reload(); err != nil {
		d.t.Fatalf("reload: %v\n%s", err, d.logs)
	}
	out := d.logs.String()[before:]
	if strings.Contains(out, "next restart") {
		d.t.Errorf("a reload waits for a restart:\n%s", grepLines(out, "reload"))
	}
	return out
}

// TestReloadAddsAndRemovesSyncVendor: a remote provider with lifecycle calls added by a
// reload gets its propagation worker and engine at once, and its transforms' warnings are
// logged once (not once per engine built from them); one removed by a reload is propagated nothing more, with a warning that
// says what happens to what was still queued for it, and none that waits for a restart;
// added back, it is propagated to again.
func TestReloadAddsAndRemovesSyncVendor(t *testing.T) {
	d := newDUOSync(t)
	// duo-admin.yaml's transforms check clean: its user.create step create is given one
	// whose cost is unbounded.
	without, with := d.head+d.builtin+oktaSync, d.head+d.builtin+withUnboundedCost(t, d.duoProvider)+oktaSync
	d.serve(without)
	create := func(id, user string) {
		t.Helper()
		if code := d.create(id, user); code != 204 {
			t.Fatalf("okta hook: %d", code)
		}
	}

	out := d.reloadTo(with)
	const warning = "(duoadmin).remote.lifecycle.user.create[1].transform.outgoing: worst-case cost"
	if n := strings.Count(out, warning); n != 1 {
		t.Errorf("the reload logged the transform's warning %d times, want once:\n%s", n, grepLines(out, "worst-case cost"))
	}
	create("p1", "petra")
	d.reached("petra")

	out = d.reloadTo(without)
	if !strings.Contains(grepLines(out, `"level":"WARN"`), "duoadmin") {
		t.Errorf("removing a vendor logged no warning naming it:\n%s", grepLines(out, "reload"))
	}

	d.reloadTo(with)
	create("r1", "rosa")
	d.reached("rosa")
}

// TestReloadSyncSourcesAndLimits: while directory sync runs, a reload enables and disables
// its sources (served, or not, at once) and changes the queue's limits (a lowered
// sync.maxDeletesPerHour pauses the next deletion that passes it), with nothing waiting
// for a restart. The builtin engines serve and sync share are built once at start: their
// warnings are logged once.
func TestReloadSyncSourcesAndLimits(t *testing.T) {
	const okta = "  okta: {enabled: true, secretHeader: {name: X-Okta-Secret, value: \"okta-secret-0123456789\"}}\n"
	const scim = "  scim: {enabled: true, token: \"scim-token-0123456789abcdef0123456789\"}\n"
	cfg := adminConfig(t, "", "sync:\n"+okta+"  settle: 1s\n")
	base, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	head := string(base[:strings.Index(string(base), "sync:\n")])
	app := fakeCLI()
	url, logs, reload := app.reloadingServe(t, cfg)
	if n := strings.Count(logs.String(), "smsotp.sender: a log sender"); n != 1 {
		t.Errorf("the builtin engine's warning logged %d times at start, want once:\n%s", n, grepLines(logs.String(), "log sender"))
	}
	oktaPost := func(id, typ, user string) int {
		t.Helper()
		ev := `{"uuid":"` + id + `","published":"2026-05-01T09:00:01Z","eventType":"` + typ + `","target":[{"type":"User","alternateId":"` + user + `","displayName":"` + user + `"}]}`
		code, _ := syncPost(t, url+"/sync/okta", `{"eventType":"com.okta.event_hook","data":{"events":[`+ev+`]}}`, "X-Okta-Secret", "okta-secret-0123456789")
		return code
	}
	scimGet := func() int {
		t.Helper()
		code, _ := syncPost(t, url+"/scim/v2/Users", "", "GET", "Authorization", "Bearer scim-token-0123456789abcdef0123456789")
		return code
	}
	type status struct {
		Counts map[string]map[string]int `json:"counts"`
		Paused []struct {
			Source string `json:"source"`
		} `json:"paused"`
	}
	until := func(what string, ok func(st status) bool) {
		t.Helper()
		app.clock.Advance(2 * time.Second) // past sync.settle
		var st status
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			st = status{}
			jsonMust(t, app.must(t, "sync", "status", "--json", "--config", cfg), &st)
			if ok(st) {
				return
			}
		}
		t.Fatalf("%s: never; status %+v\n%s", what, st, grepLines(logs.String(), "sync"))
	}
	reloadTo := func(sync string) string {
		t.Helper()
		before := len(logs.String())
		replaceFile(t, cfg, head+"sync:\n"+sync)
		if err := reload(); err != nil {
			t.Fatalf("reload: %v\n%s", err, logs)
		}
		out := logs.String()[before:]
		if strings.Contains(out, "next restart") {
			t.Errorf("a sync change waits for a restart:\n%s", grepLines(out, "reload"))
		}
		return out
	}

	if code := scimGet(); code != 404 {
		t.Fatalf("SCIM, not enabled: %d", code)
	}
	for _, u := range []string{"ulla", "vera"} {
		if code := oktaPost("c-"+u, "user.lifecycle.create", u); code != 204 {
			t.Fatalf("okta create %s: %d", u, code)
		}
	}
	until("both users created", func(st status) bool { return st.Counts["okta"]["done"] == 2 })

	out := reloadTo(okta + scim + "  settle: 1s\n  maxDeletesPerHour: 1\n")
	if !strings.Contains(out, "sync.scim enabled") || !strings.Contains(out, `"maxDeletesPerHour":1`) {
		t.Errorf("the reload did not say what it changed of sync:\n%s", grepLines(out, "reload"))
	}
	if code := scimGet(); code != 200 {
		t.Errorf("SCIM, enabled by the reload: %d", code)
	}
	for _, u := range []string{"ulla", "vera"} {
		if code := oktaPost("d-"+u, "user.lifecycle.delete.initiated", u); code != 204 {
			t.Fatalf("okta delete %s: %d", u, code)
		}
	}
	until("okta paused at its second deletion in the hour", func(st status) bool {
		return len(st.Paused) == 1 && st.Paused[0].Source == "okta" && st.Counts["okta"]["done"] == 3 && st.Counts["okta"]["pending"] == 1
	})

	out = reloadTo(scim + "  settle: 1s\n")
	if !strings.Contains(out, "sync.okta disabled") {
		t.Errorf("the reload did not say okta is disabled:\n%s", grepLines(out, "reload"))
	}
	if code := oktaPost("c-wanda", "user.lifecycle.create", "wanda"); code != 404 {
		t.Errorf("okta, disabled by the reload: %d", code)
	}
	if code := scimGet(); code != 200 {
		t.Errorf("SCIM, still enabled: %d", code)
	}
}

// TestReloadKeepsSyncWhenItDoesNotRun: where no queue runs and none can be started (a
// reload without serve's startSync), a reload that enables a source keeps sync as it
// was, and says it waits for a restart. With the queue running, or one to start
// (TestReloadStartsSync), the same change is the reload's.
func TestReloadKeepsSyncWhenItDoesNotRun(t *testing.T) {
	enabled := config.Sync{SCIM: config.SyncSCIM{Enabled: true, Token: "scim-token-0123456789abcdef0123456789"}, MaxAttempts: 3}
	running, next := &config.Config{}, &config.Config{Sync: enabled}
	got := frozenSettings(running, next, false)
	if len(got) != 1 || !strings.HasPrefix(got[0], "sync changed") || next.Sync.SCIM.Enabled || next.Sync.MaxAttempts != 0 {
		t.Errorf("sync enabled with no queue running: %q, sync kept %+v", got, next.Sync)
	}
	next = &config.Config{Sync: enabled}
	if got := frozenSettings(running, next, true); len(got) != 0 || !next.Sync.SCIM.Enabled {
		t.Errorf("sync enabled with the queue running: %q, %+v", got, next.Sync)
	}
}

// TestReloadStartsSync: a process started with no sync source and no vendor runs no
// queue; the first reload that enables a source and adds a vendor with lifecycle calls
// starts it: the source is served at once, its events are applied and carried to the
// vendor, and nothing waits for a restart. A reload that would start it but fails leaves
// none running. A later reload that turns the source off and on again changes the running
// queue's sources, and shutdown stops it.
func TestReloadStartsSync(t *testing.T) {
	d := newDUOSync(t)
	d.serve(d.head + d.builtin)
	if strings.Contains(d.logs.String(), `"msg":"directory sync"`) {
		t.Fatalf("sync runs without a source or a vendor:\n%s", grepLines(d.logs.String(), "sync"))
	}
	if code := d.create("a0", "anna"); code != 404 {
		t.Errorf("okta before it is enabled: %d", code)
	}

	// A reload that would start sync but fails after (a signing key that is no key) leaves
	// none running: the source is not served, and the next reload starts it.
	const basic = "    basic: {username: verify, password: \"${EMFA_VERIFY_PASSWORD}\"}\n"
	if !strings.Contains(d.head, basic) {
		t.Fatalf("%s no longer has the basic credentials this test adds OAuth beside", duoAdminConfig)
	}
	badKey := strings.Replace(d.head, basic, basic+"    oauth: {signingKey: \"not a PEM key\"}\n", 1)
	replaceFile(t, d.cfg, badKey+d.builtin+d.duoProvider+oktaSync)
	if err := d.reload(); err == nil || !strings.Contains(err.Error(), "signing key") {
		t.Fatalf("a reload with a bad signing key: %v", err)
	}
	if !strings.Contains(d.logs.String(), "reload: directory sync started") {
		t.Errorf("the failed reload did not get as far as starting sync:\n%s", grepLines(d.logs.String(), "reload"))
	}
	if code := d.create("a1", "anna"); code != 404 {
		t.Errorf("okta after the failed reload: %d", code)
	}

	out := d.reloadTo(d.head + d.builtin + d.duoProvider + oktaSync)
	if !strings.Contains(out, "reload: directory sync started") {
		t.Errorf("the reload did not start sync:\n%s", grepLines(out, "sync"))
	}
	if code := d.create("p1", "petra"); code != 204 {
		t.Fatalf("okta, enabled by the reload: %d", code)
	}
	d.reached("petra")
	// The admin API's changes are propagated too: a user created by the CLI beside the
	// server is queued for the vendor, and the running queue carries it.
	d.app.must(t, "users", "add", "quinn", "--config", d.cfg)
	d.reached("quinn")

	d.reloadTo(d.head + d.builtin + d.duoProvider + "\nsync:\n  settle: 1s\n")
	if code := d.create("r1", "rosa"); code != 404 {
		t.Errorf("okta, disabled by a later reload: %d", code)
	}
	out = d.reloadTo(d.head + d.builtin + d.duoProvider + oktaSync)
	if strings.Contains(out, "reload: directory sync started") {
		t.Errorf("a second reload started sync again:\n%s", grepLines(out, "sync"))
	}
	if code := d.create("s1", "sara"); code != 204 {
		t.Fatalf("okta, enabled again: %d", code)
	}
	d.reached("sara")
}
