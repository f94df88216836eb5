package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// beforeSecondRead runs before, once, before the second read of a user record after it is
// set.
type beforeSecondRead struct {
	store.Store
	reads  int
	before func()
}

func (s *beforeSecondRead) GetUserRecord(ctx context.Context, name string) (store.UserRecord, error) {
	if f := s.before; f != nil {
		if s.reads++; s.reads == 2 {
			s.before = nil
			f()
		}
	}
	return s.Store.GetUserRecord(ctx, name)
}

// TestSCIMWriteAnsweredAsWritten: a SCIM PUT or PATCH that committed, and was
// recorded, is answered 200 with the user as it wrote it (as a GET just after its commit
// shows it, its version too) even when another replica deleted the user before it was read
// back, or deleted it and created another under its name. It was answered 404, for a write
// that stands: the directory told its change was not made. A write that changed nothing,
// its user deleted before it was read back, is still 404: nothing of it stands.
func TestSCIMWriteAnsweredAsWritten(t *testing.T) {
	st := testdb.SQLite(t)
	hooked := &testdb.AfterUserChanges{Store: st}
	var at atomic.Int64 // the clock, in nanoseconds; between two milliseconds
	at.Store(time.Date(2026, 5, 1, 9, 0, 0, 1_500_000, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, at.Load()).UTC() }
	reads := &beforeSecondRead{Store: st}
	h := newSyncHarnessOn(t, st, func(o *Options) {
		m, err := lifecycle.New(lifecycle.Options{Store: hooked, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if o.Sync.Manager, err = lifecycle.New(lifecycle.Options{Store: reads, Now: now}); err != nil {
			t.Fatal(err)
		}
		sq := st.(store.SyncQueue)
		o.Sync.Queue = (&sync.Queue{Store: sq, Applier: &sync.Applier{M: m, Groups: sq}, Now: now}).Init()
	})
	for i, w := range []struct{ method, body string }{
		{"PATCH", `{"Operations":[{"op":"replace","path":"displayName","value":"R2"}]}`},
		{"PATCH", `{"Operations":[{"op":"replace","path":"active","value":false}]}`},
		{"PUT", `{"userName":"%s","displayName":"R","emails":[{"value":"r@EXAMPLE.com","primary":true}],"active":false}`},
		{"PUT", `{"userName":"%s","displayName":"R3","name":{"givenName":"Ro"},"active":false}`},
	} {
		for _, recreate := range []bool{false, true} {
			name := fmt.Sprintf("race%d-%v@example.com", i, recreate)
			_, path := h.created("/Users", `{"userName":"`+name+`","displayName":"R","emails":[{"value":"r@example.com","primary":true}],"externalId":"x"}`)
			at.Add(int64(time.Second))
			var want map[string]any
			var wantTag string
			hooked.After = func() {
				var code int
				var hdr http.Header
				if code, want, hdr = h.scim("GET", path, ""); code != http.StatusOK {
					t.Errorf("GET after the commit: %d %v", code, want)
				}
				wantTag = hdr.Get("ETag")
				if err := h.m.DeleteUser(context.Background(), "test", name); err != nil {
					t.Error(err)
				}
				if recreate {
					if _, err := h.m.CreateUser(context.Background(), "test", lifecycle.UserInput{Name: name}); err != nil {
						t.Error(err)
					}
				}
			}
			body := w.body
			if w.method == "PUT" {
				body = fmt.Sprintf(w.body, name)
			}
			code, got, hdr := h.scim(w.method, path, body)
			x, _ := json.Marshal(got)
			y, _ := json.Marshal(want)
			if code != http.StatusOK || string(x) != string(y) || hdr.Get("ETag") != wantTag {
				t.Errorf("%s %s, the user deleted (created again %v) after it committed: %d %s ETag %s\nwant, as a GET after its commit, %s ETag %s",
					w.method, body, recreate, code, x, hdr.Get("ETag"), y, wantTag)
			}
		}
	}
	// Nothing to change, the user deleted before it is read back.
	_, path := h.created("/Users", `{"userName":"same@example.com","displayName":"S"}`)
	reads.reads, reads.before = 0, func() {
		if err := h.m.DeleteUser(context.Background(), "test", "same@example.com"); err != nil {
			t.Error(err)
		}
	}
	if code, out, _ := h.scim("PUT", path, `{"userName":"same@example.com","displayName":"S"}`); code != http.StatusNotFound {
		t.Errorf("a PUT that changed nothing, its user deleted before it was read back: %d %v, want 404", code, out)
	}
	if reads.before != nil {
		t.Error("the user was not deleted")
	}
}
