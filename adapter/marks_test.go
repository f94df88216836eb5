package adapter

import (
	"testing"

	"github.com/emfa/emfa/lifecycle"
)

// TestMarksOfNamesWithSlash: a user's name may hold '/', and the marks that order
// each aspect of a user ("user:NAME", "user:NAME/state", "user:NAME/profile",
// "user:NAME/group:G") must not be another user's. The creation of "alice/state" marked
// the existence "user:alice/state", which was alice's state mark: her suspend, dated
// before it and delivered after, was skipped as older, and she stayed active.
func TestMarksOfNamesWithSlash(t *testing.T) {
	h := newSyncHarness(t)
	auth := []string{"X-Okta-Secret", testSecret}
	send := func(ev string) {
		t.Helper()
		if code, _, _ := h.do("POST", OktaPath, oktaBatch(ev), auth...); code != 204 {
			t.Fatalf("batch: %d", code)
		}
		h.drain()
	}
	send(okEv("c1", "user.lifecycle.create", "alice", 1))
	send(okEv("c2", "user.lifecycle.create", "alice/state", 5))
	send(okEv("c3", "user.lifecycle.create", "bob/group:sales", 6))
	send(okEv("s1", "user.lifecycle.suspend", "alice", 3)) // delivered late, after the second create
	if u, _ := h.user("alice"); u.State != lifecycle.StateDisabled {
		t.Errorf("alice %s after her suspend", u.State)
	}
	send(okEv("c4", "user.lifecycle.create", "bob", 2))
	send(okEv("g1", "group.user_membership.add", "bob", 4, "sales"))
	if u, _ := h.user("bob"); len(u.Groups) != 1 {
		t.Errorf("bob's groups %v after his add to sales", u.Groups)
	}
}
