package adapter

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/emfa/emfa/lifecycle"
)

// TestPageNeverReachesAnotherUsersFactor: the page's forms name a factor by its id
// (rename, remove, the set-up's confirm). A signed-in user who puts another user's
// factor id in them changes nothing of that factor: not its label, not its state, and it
// stays; the answer is a refusal, the same as for an id no one has.
func TestPageNeverReachesAnotherUsersFactor(t *testing.T) {
	h, code, alice := aliceOnPage(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"bob"}`); code != 201 {
		t.Fatalf("create bob: %d %v", code, out)
	}
	bobActive, _ := totpFactor(t, h, "bob")
	totpFactor(t, h, "bob") // bob's active one is not his last
	pending, err := h.manager.EnrollFactor(context.Background(), "test", "bob", lifecycle.Enrollment{Type: "totp", Activation: lifecycle.ActivationPasscode})
	if err != nil {
		t.Fatal(err)
	}
	bobPending := pending.Factor.ID
	before, err := h.manager.ListFactors(context.Background(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	alice.signIn("alice", code())

	for _, id := range []string{bobActive, bobPending} {
		for _, step := range []struct {
			path string
			form url.Values
		}{
			{"/self-service/factors/" + id + "/rename", url.Values{"label": {"taken over"}}},
			{"/self-service/factors/" + id + "/remove", url.Values{}},
			{"/self-service/confirm", url.Values{"factor": {id}, "code": {"123456"}}},
		} {
			a := alice.post(step.path, step.form)
			if a.status < 400 || a.status >= 500 {
				t.Errorf("alice posts %s with bob's factor: %d %q, want a refusal", step.path, a.status, a.header.Get("Location"))
			}
			alice.get("/self-service/") // back to her page, and its token
		}
	}
	after, err := h.manager.ListFactors(context.Background(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("bob's factors: %d, were %d", len(after), len(before))
	}
	for i := range after {
		if after[i].ID != before[i].ID || after[i].Label != before[i].Label || after[i].State != before[i].State {
			t.Errorf("bob's factor %s: %+v, was %+v", before[i].ID, after[i], before[i])
		}
	}
	if a := alice.get("/self-service/"); a.status != http.StatusOK {
		t.Errorf("alice's page after: %d", a.status)
	}
}
