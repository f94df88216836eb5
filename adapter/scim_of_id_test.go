package adapter

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// nameByIDHook is a sync queue store that runs after once, just after the next
// read of a user's name by its id: between SCIM's read of the id and its read of the user.
type nameByIDHook struct {
	store.SyncQueue
	after func()
}

func (s *nameByIDHook) UserNameByID(ctx context.Context, id string) (string, error) {
	name, err := s.SyncQueue.UserNameByID(ctx, id)
	if f := s.after; f != nil {
		s.after = nil
		f()
	}
	return name, err
}

// TestSCIMAnswersTheUserOfItsID: a SCIM GET, PUT or PATCH of /Users/{id} read the
// user's name by its id, then the user by that name (after the write, for PUT and
// PATCH). A user deleted and another created under its name between the two reads was
// answered as the user of the id: 200 with the other user's id, profile and version,
// which a directory then keeps as the one it asked for. The user of the id is gone: a
// GET is 404; a PUT or PATCH, whose change committed first, is answered as written.
func TestSCIMAnswersTheUserOfItsID(t *testing.T) {
	for _, c := range []struct{ name, method, body string }{
		{"GET", "GET", ""},
		{"PATCH", "PATCH", `{"Operations":[{"op":"replace","path":"displayName","value":"Old Lee"}]}`},
		{"PUT", "PUT", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"lee","displayName":"Old Lee"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				applied := &testdb.AfterUserChanges{Store: st}
				m, err := lifecycle.New(lifecycle.Options{Store: applied})
				if err != nil {
					t.Fatal(err)
				}
				other, err := lifecycle.New(lifecycle.Options{Store: st})
				if err != nil {
					t.Fatal(err)
				}
				sq := st.(store.SyncQueue)
				byID := &nameByIDHook{SyncQueue: sq}
				log := slog.New(slog.NewTextHandler(io.Discard, nil))
				q := (&sync.Queue{Store: byID, Applier: &sync.Applier{M: m, Groups: sq}, Log: log}).Init()
				srv := New(Options{Log: log, Sync: &Sync{Queue: q, Manager: m, SCIMToken: testSCIMToken}})
				h := &syncHarness{t: t, h: srv.Handler(), srv: srv, m: m, q: q, st: st}
				code, created, _ := h.scim("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"lee"}`)
				if code != 201 {
					t.Fatalf("create: %d %v", code, created)
				}
				recreate := func() {
					if err := other.DeleteUser(ctx, "test", "lee"); err != nil {
						t.Error(err)
					}
					if _, err := other.CreateUser(ctx, "test", lifecycle.UserInput{Name: "lee", DisplayName: ptrTo("New Lee")}); err != nil {
						t.Error(err)
					}
				}
				if c.method == "GET" {
					byID.after = recreate
				} else {
					applied.After = recreate
				}
				id := created["id"].(string)
				code, out, hdr := h.scim(c.method, "/Users/"+id, c.body)
				if code == 200 && out["id"] != id {
					t.Fatalf("%s /Users/%s answered another user: %v (ETag %s)", c.method, id, out, hdr.Get("ETag"))
				}
				if c.method == "GET" {
					if code != 404 {
						t.Fatalf("GET /Users/%s of a user deleted since: %d %v, want 404", id, code, out)
					}
					return
				}
				// A write that committed before the delete is answered as written (the user
				// of its id, with its change), not 404: see TestSCIMWriteAnsweredAsWritten.
				if code != 200 || out["displayName"] != "Old Lee" {
					t.Fatalf("%s /Users/%s committed, then its user deleted: %d %v, want 200 as written", c.method, id, code, out)
				}
			})
		})
	}
}
