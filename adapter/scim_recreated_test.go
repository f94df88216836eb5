package adapter

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// enqueueHook is a sync queue store that runs before once, just before the next
// events are queued to be applied: after the SCIM request read the user its id names.
type enqueueHook struct {
	store.SyncQueue
	before func()
}

func (s *enqueueHook) EnqueueLeased(ctx context.Context, evs []store.QueuedEvent, owner string, leaseUntil, now time.Time) ([]int64, error) {
	if f := s.before; f != nil {
		s.before = nil
		f()
	}
	return s.SyncQueue.EnqueueLeased(ctx, evs, owner, leaseUntil, now)
}

// TestSCIMWriteNamesTheUserOfItsID: a SCIM write names a user by its id, but was
// made by name: a user deleted and created again under its name (by the admin API, an
// import, another directory) between the request's read of the id and the write was
// written instead, its revision restarted at the one read. A DELETE of the old id
// deleted the new user, a PUT or PATCH replaced its profile or state. The old id is
// gone: 404, or 412 for a request conditional on the old user's version, and the new
// user is kept as it is.
func TestSCIMWriteNamesTheUserOfItsID(t *testing.T) {
	for _, c := range []struct {
		name, method, body string
		ifMatch            bool
		want               int
	}{
		{"DELETE", "DELETE", "", false, 404},
		{"DELETE If-Match", "DELETE", "", true, 412},
		{"PATCH", "PATCH", `{"Operations":[{"op":"replace","path":"displayName","value":"Old Lee"}]}`, false, 404},
		{"PATCH If-Match", "PATCH", `{"Operations":[{"op":"replace","path":"displayName","value":"Old Lee"}]}`, true, 412},
		{"PATCH active", "PATCH", `{"Operations":[{"op":"replace","path":"active","value":false}]}`, false, 404},
		{"PUT", "PUT", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"lee","displayName":"Old Lee"}`, false, 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				m, err := lifecycle.New(lifecycle.Options{Store: st})
				if err != nil {
					t.Fatal(err)
				}
				sq := st.(store.SyncQueue)
				hooked := &enqueueHook{SyncQueue: sq}
				log := slog.New(slog.NewTextHandler(io.Discard, nil))
				q := (&sync.Queue{Store: hooked, Applier: &sync.Applier{M: m, Groups: sq}, Log: log}).Init()
				srv := New(Options{Log: log, Sync: &Sync{Queue: q, Manager: m, SCIMToken: testSCIMToken}})
				h := &syncHarness{t: t, h: srv.Handler(), srv: srv, m: m, q: q, st: st}
				code, created, hdr := h.scim("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"lee"}`)
				if code != 201 {
					t.Fatalf("create: %d %v", code, created)
				}
				var again lifecycle.User
				hooked.before = func() {
					if err := m.DeleteUser(ctx, "test", "lee"); err != nil {
						t.Error(err)
					}
					if again, err = m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "lee", DisplayName: ptrTo("New Lee")}); err != nil {
						t.Error(err)
					}
				}
				var cond []string
				if c.ifMatch {
					cond = []string{"If-Match", hdr.Get("ETag")}
				}
				code, out, _ := h.scim(c.method, "/Users/"+created["id"].(string), c.body, cond...)
				if code != c.want {
					t.Errorf("%s of the id of a user deleted and created again since: %d %v, want %d", c.name, code, out, c.want)
				}
				u, err := m.GetUser(ctx, "lee")
				if err != nil || u.ID != again.ID || u.State != lifecycle.StateActive || u.DisplayName != "New Lee" {
					t.Fatalf("the new lee (%s) after the write of the old one's id: %+v, %v", again.ID, u, err)
				}
			})
		})
	}
}
