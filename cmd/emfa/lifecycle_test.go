package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/duoadminfake"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/remote"
	"github.com/emfa/emfa/store"
)

const duoAdminConfig = "../../testdata/config/duo-admin.yaml"

// duoAdmin starts the DUO Admin API fake and sets what duoAdminConfig reads from the
// environment (the fake's URL and keys, the Verify password, the encryption key), then
// each of env (servingEnv, a storage).
func duoAdmin(t testing.TB, env ...map[string]string) *duoadminfake.Server {
	t.Helper()
	duo := duoadminfake.New(t, duoadminfake.Options{IntegrationKey: "DIADMINIKEY0000000000", SecretKey: "admin-secret-key-0123456789"})
	for k, v := range map[string]string{
		"DUO_ADMIN_URL": duo.URL(), "DUO_ADMIN_IKEY": "DIADMINIKEY0000000000", "DUO_ADMIN_SKEY": "admin-secret-key-0123456789",
		"EMFA_VERIFY_PASSWORD": "sim-password-0123", "EMFA_ENCRYPTION_KEY": testEncryptionKey,
	} {
		t.Setenv(k, v)
	}
	for _, m := range env {
		for k, v := range m {
			t.Setenv(k, v)
		}
	}
	return duo
}

// servingEnv is the environment of an emfa serve under test: any free port, a debug log
// in JSON.
var servingEnv = map[string]string{"EMFA_SERVER_LISTEN": "127.0.0.1:0", "EMFA_LOG_LEVEL": "debug", "EMFA_LOG_FORMAT": "json"}

// eachStorage runs f on SQLite, then on a PostgreSQL schema of its own, f's storage being
// the environment that selects it.
func eachStorage(t *testing.T, f func(t *testing.T, storage map[string]string)) {
	t.Run("sqlite", func(t *testing.T) {
		f(t, map[string]string{"EMFA_STORAGE_DSN": "file:" + filepath.Join(t.TempDir(), "emfa.db")})
	})
	t.Run("postgres", func(t *testing.T) {
		sv := testdb.Connect(t)
		f(t, map[string]string{"EMFA_STORAGE_DRIVER": "postgres", "EMFA_STORAGE_DSN": sv.Migrated(t)})
	})
}

// lifecycleDUO builds the remote engine of testdata/config/duo-admin.yaml against a DUO
// Admin API fake, auditing into a SQLite store.
func lifecycleDUO(t testing.TB) (*remote.Engine, *duoadminfake.Server, store.Store) {
	t.Helper()
	duo := duoAdmin(t)
	cfg, err := loadConfig(storeOptions{config: duoAdminConfig, strict: true}, forReading, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	w, _, err := remoteWebhook(cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A copy of a database migrated once for the test binary: migrating one from nothing
	// took 0.35 s of CPU under -race, for every engine the DUO Admin tests build.
	st := testdb.SQLite(t)
	e, err := remote.New(remote.Options{Webhook: w, Provider: "duoadmin", Store: st, Audit: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, duo, st
}

func str(s string) *string { return &s }

// auditOutcomes is the audit trail as resource=outcome, one an event.
func auditOutcomes(t *testing.T, st store.Store) []string {
	t.Helper()
	events, err := st.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range events {
		got = append(got, ev.Resource+"="+ev.Outcome)
	}
	return got
}

// wantAudit checks that the audit trail holds the outcomes want (sorted), in any order.
func wantAudit(t *testing.T, st store.Store, want ...string) {
	t.Helper()
	got := auditOutcomes(t, st)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("audit %q, want %q", got, want)
	}
}

// Every lifecycle resource of the DUO example, one event after the other, each checked
// in the fake's state (issue 12, item 4).
func TestLifecycleDUOAdmin(t *testing.T) {
	e, duo, st := lifecycleDUO(t)
	ctx := context.Background()
	propagate := func(ev provider.LifecycleEvent) {
		t.Helper()
		if err := e.Propagate(ctx, ev); err != nil {
			t.Fatalf("%s: %v", ev.Type, err)
		}
	}
	user := func() duoadminfake.User {
		t.Helper()
		u, ok := duo.User("ann lee")
		if !ok {
			t.Fatal("ann lee is not in DUO")
		}
		return u
	}

	propagate(provider.LifecycleEvent{ID: "e1", Type: provider.EventUserCreate, Source: "scim", Username: "ann lee",
		Email: str("ann@example.com"), DisplayName: str("Ann Lee")})
	if u := user(); u.Email != "ann@example.com" || u.Realname != "Ann Lee" || u.Status != "active" {
		t.Fatalf("created: %+v", u)
	}
	// Again (a retry): the user exists, nothing is created twice.
	propagate(provider.LifecycleEvent{ID: "e1", Type: provider.EventUserCreate, Username: "ann lee"})

	propagate(provider.LifecycleEvent{Type: provider.EventUserUpdate, Username: "ann lee", Email: str("ann.lee@example.com")})
	if u := user(); u.Email != "ann.lee@example.com" || u.Realname != "Ann Lee" {
		t.Fatalf("updated email only: %+v", u)
	}
	propagate(provider.LifecycleEvent{Type: provider.EventUserUpdate, Username: "ann lee", DisplayName: str("Ann Lee-Smith")})
	if u := user(); u.Realname != "Ann Lee-Smith" || u.Email != "ann.lee@example.com" {
		t.Fatalf("updated realname: %+v", u)
	}

	propagate(provider.LifecycleEvent{Type: provider.EventUserDisable, Username: "ann lee"})
	if u := user(); u.Status != "disabled" {
		t.Fatalf("disable: status %q", u.Status)
	}
	propagate(provider.LifecycleEvent{Type: provider.EventUserEnable, Username: "ann lee"})
	if u := user(); u.Status != "active" {
		t.Fatalf("enable: status %q", u.Status)
	}

	propagate(provider.LifecycleEvent{Type: provider.EventGroupMemberAdd, Username: "ann lee", Group: "Sales Team"})
	g, ok := duo.Group("Sales Team")
	if u := user(); !ok || len(u.Groups) != 1 || u.Groups[0].GroupID != g.GroupID {
		t.Fatalf("member add (group created): %+v %+v", u.Groups, g)
	}
	existing := duo.AddGroup("Ops")
	propagate(provider.LifecycleEvent{Type: provider.EventGroupMemberAdd, Username: "ann lee", Group: "Ops"})
	if u := user(); len(u.Groups) != 2 {
		t.Fatalf("member add to an existing group: %+v", u.Groups)
	}
	propagate(provider.LifecycleEvent{Type: provider.EventGroupMemberRemove, Username: "ann lee", Group: "Sales Team"})
	if u := user(); len(u.Groups) != 1 || u.Groups[0].GroupID != existing {
		t.Fatalf("member remove: %+v", u.Groups)
	}
	propagate(provider.LifecycleEvent{Type: provider.EventGroupMemberRemove, Username: "ann lee", Group: "No Such Group"})

	// MFA reset: every phone and token disassociated, every security key and bypass code
	// deleted; another user's are left.
	keys := duoadminfake.User{Username: "bo", Phones: []duoadminfake.Phone{{Number: "+15550100"}, {Number: "+15550101"}},
		Tokens:              []duoadminfake.Token{{Serial: "123456", Type: "h6"}},
		U2FTokens:           []duoadminfake.U2FToken{{}},
		WebAuthnCredentials: []duoadminfake.WebAuthnCredential{{CredentialName: "YubiKey"}, {CredentialName: "Touch ID"}},
		BypassCodes:         []duoadminfake.BypassCode{{}, {}, {}},
	}
	duo.AddUser(keys)
	keys.Username = "cy"
	duo.AddUser(keys)
	propagate(provider.LifecycleEvent{Type: provider.EventUserMFAReset, Username: "bo"})
	if u, _ := duo.User("bo"); len(u.Phones)+len(u.Tokens)+len(u.U2FTokens)+len(u.WebAuthnCredentials)+len(u.BypassCodes) != 0 {
		t.Fatalf("mfa reset left %+v", u)
	}
	if u, _ := duo.User("cy"); len(u.Phones) != 2 || len(u.Tokens) != 1 || len(u.U2FTokens) != 1 || len(u.WebAuthnCredentials) != 2 || len(u.BypassCodes) != 3 {
		t.Fatalf("mfa reset of bo changed cy: %+v", u)
	}
	propagate(provider.LifecycleEvent{Type: provider.EventUserMFAReset, Username: "bo"}) // nothing left: no calls

	propagate(provider.LifecycleEvent{Type: provider.EventGroupCreate, Group: "Finance"})
	propagate(provider.LifecycleEvent{Type: provider.EventGroupCreate, Group: "Finance"})
	propagate(provider.LifecycleEvent{Type: provider.EventGroupDelete, Group: "Finance"})
	if _, ok := duo.Group("Finance"); ok {
		t.Fatal("group delete left Finance")
	}

	propagate(provider.LifecycleEvent{ID: "e9", Type: provider.EventUserDelete, Source: "okta", Username: "ann lee"})
	if _, ok := duo.User("ann lee"); ok {
		t.Fatal("delete left the user")
	}
	// A user DUO does not know: done, not an error (the queue would retry it forever).
	propagate(provider.LifecycleEvent{Type: provider.EventUserDelete, Username: "ann lee"})
	propagate(provider.LifecycleEvent{Type: provider.EventUserDisable, Username: "nobody"})

	// Every call was signed and accepted.
	for _, r := range duo.Requests() {
		if r.Status != 200 {
			t.Errorf("%s %s answered %d: %s", r.Method, r.Path, r.Status, r.Reject)
		}
	}
	joined := strings.Join(auditOutcomes(t, st), " ")
	for _, want := range []string{"lifecycle:user.create=SUCCESS", "lifecycle:user.delete=SUCCESS", "lifecycle:user.delete=SKIPPED", "lifecycle:user.mfa.reset=SUCCESS"} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit lacks %s: %s", want, joined)
		}
	}
}

// DUO lists groups a hundred at a time with no name filter: a group beyond the first page
// is found on its own page, not created twice, and a member is removed from it; a group
// on no page ends a removal as done only after the last page.
func TestLifecycleDUOAdminGroupsPaged(t *testing.T) {
	e, duo, st := lifecycleDUO(t)
	ctx := context.Background()
	propagate := func(ev provider.LifecycleEvent) {
		t.Helper()
		if err := e.Propagate(ctx, ev); err != nil {
			t.Fatalf("%s %s: %v", ev.Type, ev.Group, err)
		}
	}
	for i := range 250 {
		duo.AddGroup(fmt.Sprintf("g%03d", i)) // listed by name: g200 is on the third page
	}
	duo.AddUser(duoadminfake.User{Username: "ann"})
	groupCalls := func() (lists []string, creates int) {
		for _, r := range duo.Requests() {
			switch {
			case r.Path == "/admin/v1/groups" && r.Method == "GET":
				lists = append(lists, r.Params.Get("offset"))
			case r.Path == "/admin/v1/groups" && r.Method == "POST":
				creates++
			}
			if r.Status != 200 {
				t.Errorf("%s %s answered %d: %s", r.Method, r.Path, r.Status, r.Reject)
			}
		}
		return lists, creates
	}

	propagate(provider.LifecycleEvent{Type: provider.EventGroupMemberAdd, Username: "ann", Group: "g200"})
	g, _ := duo.Group("g200")
	if u, _ := duo.User("ann"); len(u.Groups) != 1 || u.Groups[0].GroupID != g.GroupID {
		t.Fatalf("member add: groups %+v, want g200 %s", u.Groups, g.GroupID)
	}
	if lists, creates := groupCalls(); !slices.Equal(lists, []string{"0", "100", "200"}) || creates != 0 {
		t.Fatalf("member add listed offsets %q and created %d groups; want 0, 100, 200 and none", lists, creates)
	}

	propagate(provider.LifecycleEvent{Type: provider.EventGroupMemberRemove, Username: "ann", Group: "g200"})
	if u, _ := duo.User("ann"); len(u.Groups) != 0 {
		t.Fatalf("member remove left %+v", u.Groups)
	}
	// A group on no page: every page is read, then the event is done.
	propagate(provider.LifecycleEvent{Type: provider.EventGroupMemberRemove, Username: "ann", Group: "zzz"})
	// A group on the first page: one page.
	propagate(provider.LifecycleEvent{Type: provider.EventGroupDelete, Group: "g007"})
	if _, ok := duo.Group("g007"); ok {
		t.Fatal("group delete left g007")
	}
	lists, _ := groupCalls()
	if want := []string{"0", "100", "200", "0", "100", "200", "0", "100", "200", "0"}; !slices.Equal(lists, want) {
		t.Errorf("offsets listed %q, want %q", lists, want)
	}
	// A rename: the group found on its page keeps its id under the new name; a group DUO
	// does not have is done (an add under the new name creates it).
	old, _ := duo.Group("g150")
	propagate(provider.LifecycleEvent{Type: provider.EventGroupRename, Group: "g150", NewGroup: "Sales EMEA"})
	if g, ok := duo.Group("Sales EMEA"); !ok || g.GroupID != old.GroupID {
		t.Errorf("renamed: %+v, want g150's id %s", g, old.GroupID)
	}
	if _, ok := duo.Group("g150"); ok {
		t.Error("the old name is still a group")
	}
	propagate(provider.LifecycleEvent{Type: provider.EventGroupRename, Group: "g150", NewGroup: "Sales EMEA"}) // again: done
	wantAudit(t, st, "lifecycle:group.delete=SUCCESS", "lifecycle:group.member.add=SUCCESS",
		"lifecycle:group.member.remove=SKIPPED", "lifecycle:group.member.remove=SUCCESS",
		"lifecycle:group.rename=SKIPPED", "lifecycle:group.rename=SUCCESS")
}

// A vendor failure is an error for the queue to retry, audited FAILED; the retry succeeds.
func TestLifecycleDUOAdminFailureIsRetried(t *testing.T) {
	e, duo, st := lifecycleDUO(t)
	ctx := context.Background()
	duo.AddUser(duoadminfake.User{Username: "cy"})
	duo.FailNext("/admin/v1/users/DU", 503)
	ev := provider.LifecycleEvent{ID: "x1", Type: provider.EventUserDisable, Username: "cy"}
	err := e.Propagate(ctx, ev)
	if err == nil || !strings.Contains(err.Error(), "step status") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v", err)
	}
	if err := e.Propagate(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if u, _ := duo.User("cy"); u.Status != "disabled" {
		t.Fatalf("status %q", u.Status)
	}
	events, _ := st.ListAudit(ctx, store.AuditFilter{})
	if len(events) != 2 || events[0].Outcome != "FAILED" && events[1].Outcome != "FAILED" {
		t.Fatalf("audit: %+v", events)
	}
}

// A user created disabled reaches DUO disabled, through the example's user.create and
// user.disable resources unchanged; a disable that fails fails the event, and its retry
// creates nothing twice.
func TestLifecycleDUOAdminCreatedDisabled(t *testing.T) {
	e, duo, st := lifecycleDUO(t)
	ctx := context.Background()
	ev := provider.LifecycleEvent{ID: "c1", Type: provider.EventUserCreate, Source: "scim", Username: "dee",
		Email: str("dee@example.com"), Disabled: true}
	duo.FailNext("/admin/v1/users/DU", 503)
	if err := e.Propagate(ctx, ev); err == nil || !strings.Contains(err.Error(), "user.disable") {
		t.Fatalf("a failed disable: %v", err)
	}
	if err := e.Propagate(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if u, ok := duo.User("dee"); !ok || u.Status != "disabled" || u.Email != "dee@example.com" {
		t.Fatalf("dee in DUO = %+v, %v; want disabled", u, ok)
	}
	creates := 0
	for _, r := range duo.Requests() {
		if r.Method == "POST" && r.Path == "/admin/v1/users" {
			creates++
		}
	}
	if creates != 1 {
		t.Errorf("DUO saw %d creations, want 1", creates)
	}
	wantAudit(t, st, "lifecycle:user.create=SUCCESS", "lifecycle:user.create=SUCCESS", "lifecycle:user.disable=FAILED", "lifecycle:user.disable=SUCCESS")
}

// An update that changes the state too reaches DUO through the example's user.update and
// then its user.disable or user.enable, unchanged.
func TestLifecycleDUOAdminUpdateWithState(t *testing.T) {
	e, duo, st := lifecycleDUO(t)
	ctx := context.Background()
	duo.AddUser(duoadminfake.User{Username: "gus", Email: "gus@example.com"})
	ev := provider.LifecycleEvent{ID: "u1", Type: provider.EventUserUpdate, Source: "scim", Username: "gus",
		Email: str("gus@example.net"), State: provider.StateDisabled}
	if err := e.Propagate(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if u, ok := duo.User("gus"); !ok || u.Status != "disabled" || u.Email != "gus@example.net" {
		t.Fatalf("gus in DUO = %+v, %v; want disabled, the new e-mail", u, ok)
	}
	ev.ID, ev.State = "u2", provider.StateActive
	if err := e.Propagate(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if u, _ := duo.User("gus"); u.Status != "active" {
		t.Fatalf("gus in DUO = %+v; want active", u)
	}
	wantAudit(t, st, "lifecycle:user.disable=SUCCESS", "lifecycle:user.enable=SUCCESS", "lifecycle:user.update=SUCCESS", "lifecycle:user.update=SUCCESS")
}

func TestLifecycleCheckCountsTransforms(t *testing.T) {
	for _, name := range []string{"DUO_ADMIN_URL", "DUO_ADMIN_IKEY", "DUO_ADMIN_SKEY", "EMFA_VERIFY_PASSWORD", "EMFA_ENCRYPTION_KEY"} {
		t.Setenv(name, "")
	}
	code, out, errOut := emfa(t, "check", "--config", duoAdminConfig)
	if code != 0 || !strings.Contains(out, "transforms compiled") || strings.Contains(out, " 0 transforms compiled") {
		t.Errorf("check: exit %d\n%s%s", code, out, errOut)
	}
}

func BenchmarkLifecyclePropagateDelete(b *testing.B) {
	e, duo, _ := lifecycleDUO(b)
	ctx := context.Background()
	ev := provider.LifecycleEvent{Type: provider.EventUserDelete, Username: "bench"}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		duo.AddUser(duoadminfake.User{Username: "bench"})
		b.StartTimer()
		if err := e.Propagate(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
}
