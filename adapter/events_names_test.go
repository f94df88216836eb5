package adapter

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// storedLookAlike is a store holding a user under a name CheckNewName refuses, stored
// before that rule: an invisible character after "alice".
func storedLookAlike(t *testing.T) (store.Store, string) {
	t.Helper()
	const name = "alice\u200b"
	st := testdb.SQLite(t)
	u := store.User{ID: "legacy1", Name: name, CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := st.ApplyUserChanges(context.Background(), []store.UserChange{{Name: name, Create: &u, Now: u.CreatedAt}})[0]; err != nil {
		t.Fatal(err)
	}
	return st, name
}

// TestDirectoryEventsOfStoredLookAlikeUser: the events of every posting source about a
// user stored under a name emfa now refuses for a new user are received (none refused
// at receipt, whose screen holds names to what a stored one meets, CheckName) and
// applied: Okta's profile update and suspension, Verify's enabling, Auth0's MFA reset and
// deletion.
func TestDirectoryEventsOfStoredLookAlikeUser(t *testing.T) {
	st, name := storedLookAlike(t)
	h := newSyncHarnessOn(t, st)
	post := func(path, body string, hdr ...string) {
		t.Helper()
		if code, out, _ := h.do("POST", path, body, hdr...); code != 204 {
			t.Fatalf("POST %s: %d %v", path, code, out)
		}
		h.drain()
	}
	post(OktaPath, oktaBatch(okEv("o1", "user.account.update_profile", name, 1), okEv("o2", "user.lifecycle.suspend", name, 2)), "X-Okta-Secret", testSecret)
	if u, ok := h.user(name); !ok || u.State != lifecycle.StateDisabled || u.DisplayName != "Alice Example" {
		t.Errorf("after Okta's update and suspension: %+v %v, want disabled, named Alice Example", u, ok)
	}
	post(VerifyPath, `{"id":"v1","event_type":"management","time":1777626003000,"data":{"resource":"user","action":"enabled","username":"`+name+`","result":"success"}}`,
		"X-Verify-Secret", testSecret)
	if u, ok := h.user(name); !ok || u.State != lifecycle.StateActive {
		t.Errorf("after Verify's enabling: %+v %v, want active", u, ok)
	}
	post(Auth0Path, `{"log_id":"a1","type":"gd_user_delete","date":"2026-05-01T09:00:04Z","user_name":"`+name+`"}`+"\n"+
		`{"log_id":"a2","type":"du","date":"2026-05-01T09:00:05Z","user_name":"`+name+`"}`, "Authorization", testSecret)
	if u, ok := h.user(name); ok {
		t.Errorf("after Auth0's deletion: %+v, want it gone", u)
	}
	if logs := h.logs.String(); strings.Contains(logs, "refused") || strings.Contains(logs, "skipped") {
		t.Errorf("an event of the stored user was refused or skipped:\n%s", logs)
	}
}

// TestDirectoryCreateOfLookAlikeNameSkippedOnce: a directory's creation of a user under a
// name CheckNewName refuses is received and queued, then skipped where it applies, with
// CheckNewName's reason, logged once: whether it creates a user is known only there, in
// the order of the user's events (a creation of a user stored under that name is its
// update; after its deletion, queued before it, it is a new user's). The receipt's screen
// cannot know either: it holds every event's names to what the queue can hold.
func TestDirectoryCreateOfLookAlikeNameSkippedOnce(t *testing.T) {
	t.Run("auth0 new user", func(t *testing.T) {
		h := newSyncHarness(t)
		const name = "carol\u2060@example.com"
		if code, out, _ := h.do("POST", Auth0Path, `{"log_id":"a1","type":"ss","date":"2026-05-01T09:00:01Z","user_name":"`+name+`"}`, "Authorization", testSecret); code != 204 {
			t.Fatalf("log stream: %d %v", code, out)
		}
		h.drain()
		if _, ok := h.user(name); ok {
			t.Fatalf("Auth0's signup created %q", name)
		}
		const reason = `reason="invalid_field: name: holds an invisible character, U+2060, at character 6`
		if logs := h.logs.String(); strings.Count(logs, reason) != 1 || strings.Count(logs, "U+2060") != 1 {
			t.Errorf("the creation is not skipped once with its reason:\n%s", logs)
		}
	})
	t.Run("okta after the stored user's deletion", func(t *testing.T) {
		st, name := storedLookAlike(t)
		h := newSyncHarnessOn(t, st)
		body := oktaBatch(okEv("o1", "user.lifecycle.delete.initiated", name, 1), okEv("o2", "user.lifecycle.create", name, 2))
		if code, out, _ := h.do("POST", OktaPath, body, "X-Okta-Secret", testSecret); code != 204 {
			t.Fatalf("event hook: %d %v", code, out)
		}
		h.drain()
		if u, ok := h.user(name); ok {
			t.Fatalf("Okta's creation after the deletion created %+v", u)
		}
		const reason = `event_id=o2 type=user.create seq=2 reason="invalid_field: name: holds an invisible character, U+200B, at character 6`
		if logs := h.logs.String(); strings.Count(logs, reason) != 1 || strings.Count(logs, "U+200B") != 1 {
			t.Errorf("the creation is not skipped once with its reason:\n%s", logs)
		}
	})
}
