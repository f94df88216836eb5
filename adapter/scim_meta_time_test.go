package adapter

import (
	"net/http"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// TestSCIMUserMetaTimes: a user's meta.created is as precise as the store keeps it, the
// millisecond, as meta.lastModified is. It was whole seconds: a directory comparing the
// two (RFC 7643 §3.1, both xsd:dateTime) saw a user never modified since its creation
// last modified 123ms after it.
func TestSCIMUserMetaTimes(t *testing.T) {
	h := newSyncHarness(t)
	at := time.UnixMilli(1_700_000_000_123).Add(456 * time.Microsecond) // the store keeps the ms
	if err := h.st.CreateUser(t.Context(), store.User{ID: "u-meta", Name: "meta@example.com", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	wantMetaTimes(t, h, "/Users/u-meta", "2023-11-14T22:13:20.123Z")
	// A time not from the store (a creation answered as written) is shown as it will be read.
	if got := scimTime(at.In(time.FixedZone("", 3600))); got != "2023-11-14T22:13:20.123Z" {
		t.Errorf("scimTime(%s) = %s", at, got)
	}
}

// TestSCIMGroupMetaTimes: a group's meta.created was whole seconds, its lastModified to
// the millisecond the store keeps: a group not modified since its creation showed it
// last modified up to a second after it. Both as the users' are now (scimTime).
func TestSCIMGroupMetaTimes(t *testing.T) {
	h := newSyncHarness(t)
	at := time.UnixMilli(1_700_000_000_123)
	sq := h.st.(store.SyncQueue)
	if err := sq.ApplyGroupChange(t.Context(), store.GroupChange{ID: "g-meta", Name: "meta", Create: true, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	wantMetaTimes(t, h, "/Groups/g-meta", "2023-11-14T22:13:20.123Z")
}

// wantMetaTimes checks that the resource at path shows meta.created and lastModified both
// as want.
func wantMetaTimes(t *testing.T, h *syncHarness, path, want string) {
	t.Helper()
	code, got, _ := h.scim("GET", path, "")
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, code, got)
	}
	meta := got["meta"].(map[string]any)
	if meta["created"] != want || meta["lastModified"] != want {
		t.Errorf("%s: meta.created %v, lastModified %v; want both %s", path, meta["created"], meta["lastModified"], want)
	}
}
