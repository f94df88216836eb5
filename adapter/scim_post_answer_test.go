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

// markHook is a sync queue store that runs after once, just before the next keys are
// marked applied: after a SCIM POST's create was applied, before the POST reads it back.
type markHook struct {
	store.SyncQueue
	after func()
}

func (s *markHook) MarkKeys(ctx context.Context, t time.Time, keys ...string) error {
	if f := s.after; f != nil {
		s.after = nil
		f()
	}
	return s.SyncQueue.MarkKeys(ctx, t, keys...)
}

// TestSCIMPostAnswersTheUserItCreated: a POST /Users created the user, then read
// it back by its name. Deleted and another created under its name in between, the POST
// answered 201 with the other user's id and profile, and the directory kept that id as
// its own user's. It answers the user it created: its id, its profile as written.
func TestSCIMPostAnswersTheUserItCreated(t *testing.T) {
	for _, recreate := range []bool{true, false} {
		name := "deleted and created again"
		if !recreate {
			name = "deleted"
		}
		t.Run(name, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				m, err := lifecycle.New(lifecycle.Options{Store: st})
				if err != nil {
					t.Fatal(err)
				}
				sq := st.(store.SyncQueue)
				hooked := &markHook{SyncQueue: sq}
				log := slog.New(slog.NewTextHandler(io.Discard, nil))
				q := (&sync.Queue{Store: hooked, Applier: &sync.Applier{M: m, Groups: sq}, Log: log}).Init()
				srv := New(Options{Log: log, Sync: &Sync{Queue: q, Manager: m, SCIMToken: testSCIMToken}})
				h := &syncHarness{t: t, h: srv.Handler(), srv: srv, m: m, q: q, st: st}
				var created, other lifecycle.User
				hooked.after = func() {
					if created, err = m.GetUser(ctx, "lee"); err != nil {
						t.Error(err)
					}
					if err := m.DeleteUser(ctx, "test", "lee"); err != nil {
						t.Error(err)
					}
					if recreate {
						if other, err = m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "lee", DisplayName: ptrTo("Other Lee")}); err != nil {
							t.Error(err)
						}
					}
				}
				code, out, hdr := h.scim("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"lee","displayName":"Lee Created"}`)
				if code != 201 {
					t.Fatalf("create: %d %v", code, out)
				}
				if created.ID == "" || out["id"] != created.ID || out["displayName"] != "Lee Created" || out["userName"] != "lee" {
					t.Errorf("POST answered %v, want the user it created (%s, Lee Created), not the other (%s)", out, created.ID, other.ID)
				}
				if loc := hdr.Get("Location"); created.ID == "" || loc == "" || loc[len(loc)-len(created.ID):] != created.ID {
					t.Errorf("Location %q, want the created user's (%s)", loc, created.ID)
				}
			})
		})
	}
}

// TestSCIMPostOfANameTakenMeanwhile: of two POSTs of one user at once (a
// directory's retry of one it gave up on), the second finds the first's user when it
// creates: it is not its own creation (applied before a kill), however alike, and is
// answered 409, not 201 with an id no user has.
func TestSCIMPostOfANameTakenMeanwhile(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		hooked := &testdb.BeforeUserChanges{Store: st}
		m, err := lifecycle.New(lifecycle.Options{Store: hooked})
		if err != nil {
			t.Fatal(err)
		}
		other, err := lifecycle.New(lifecycle.Options{Store: st})
		if err != nil {
			t.Fatal(err)
		}
		sq := st.(store.SyncQueue)
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		q := (&sync.Queue{Store: sq, Applier: &sync.Applier{M: m, Groups: sq}, Log: log}).Init()
		srv := New(Options{Log: log, Sync: &Sync{Queue: q, Manager: m, SCIMToken: testSCIMToken}})
		h := &syncHarness{t: t, h: srv.Handler(), srv: srv, m: m, q: q, st: st}
		var first lifecycle.User
		hooked.Before = func() {
			if first, err = other.CreateUser(ctx, "sync:scim", lifecycle.UserInput{Name: "lee", Email: ptrTo(""), Phone: ptrTo(""),
				Country: ptrTo(""), DisplayName: ptrTo("Lee"), Attributes: &map[string]string{}}); err != nil {
				t.Error(err)
			}
		}
		code, out, _ := h.scim("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"lee","displayName":"Lee"}`)
		if code != 409 {
			t.Errorf("POST of a user created meanwhile (%s): %d %v, want 409", first.ID, code, out)
		}
		if code == 201 {
			if c, got, _ := h.scim("GET", "/Users/"+out["id"].(string), ""); c != 200 {
				t.Errorf("GET of the id the POST answered: %d %v", c, got)
			}
		}
	})
}
