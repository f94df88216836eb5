package adapter

import (
	"testing"
	"time"

	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestSCIMPausedSourceHoldsOnlyDeletions: the deletion guard holds a paused source's
// deletions (a SCIM DELETE is 503) and nothing else: creations, updates and disables
// still apply, as the README says.
func TestSCIMPausedSourceHoldsOnlyDeletions(t *testing.T) {
	h := newSyncHarness(t)
	_, u, _ := h.scim("POST", "/Users", `{"userName":"kept"}`)
	now := time.Now()
	ev := lifecycle.AdminEvent(now, "sync:scim", "sync.pause", "", "", "SUCCESS", "test")
	if err := h.st.(store.SyncQueue).PauseSource(t.Context(), store.SourcePause{Source: "scim", Reason: "test", CreatedAt: now}, ev); err != nil {
		t.Fatal(err)
	}
	if code, out, hdr := h.scim("DELETE", "/Users/"+u["id"].(string), ""); code != 503 {
		t.Errorf("DELETE of a paused source: %d %v %v, want 503", code, out, hdr)
	}
	if _, ok := h.user("kept"); !ok {
		t.Errorf("the DELETE of a paused source deleted the user")
	}
	if code, out, _ := h.scim("POST", "/Users", `{"userName":"new"}`); code != 201 {
		t.Errorf("POST of a paused source: %d %v, want 201", code, out)
	}
	code, out, _ := h.scim("PATCH", "/Users/"+u["id"].(string), `{`+patchSchema+`,"Operations":[{"op":"replace","path":"active","value":false}]}`)
	if code != 200 || out["active"] != false {
		t.Errorf("disable by a paused source: %d %v, want 200", code, out)
	}
}
