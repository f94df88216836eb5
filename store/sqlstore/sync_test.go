package sqlstore_test

import (
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/sqlstore"
)

// TestListEventsGroupsTakesUnnamedRows: an event queued without group names (NULL:
// before the names were recorded, or by a replica not yet upgraded) is listed whatever
// groups a filter names, so that sync's groupAhead decodes it as it did before; one queued
// with names (or the empty string for none) is listed only for its own.
func TestListEventsGroupsTakesUnnamedRows(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) *sqlstore.Store{
		"sqlite":   func(t *testing.T) *sqlstore.Store { return openSQLite(t, "file:"+t.TempDir()+"/emfa.db") },
		"postgres": func(t *testing.T) *sqlstore.Store { return testdb.Postgres(t).(*postgres.Store).Store },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			s := open(t)
			at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
			ev := func(id string, groups ...string) store.QueuedEvent {
				return store.QueuedEvent{Source: "p", EventID: id, Key: "group:" + id, Type: "group.create", Time: at, Body: []byte(`{}`), Groups: groups}
			}
			if _, err := s.EnqueueEvents(ctx, []store.QueuedEvent{ev("old", "Eng"), ev("new", "Eng"), ev("none")}, at); err != nil {
				t.Fatal(err)
			}
			if err := sqlstore.ExecWriter(ctx, s, `UPDATE sync_events SET group_name = NULL, group_new = NULL WHERE event_id = 'old'`); err != nil {
				t.Fatal(err)
			}
			for groups, want := range map[string][]string{"Ops": {"old"}, "Eng": {"old", "new"}} {
				evs, err := s.ListEvents(ctx, store.QueueFilter{State: store.QueuePending, Source: "p", Groups: []string{groups}})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, e := range evs {
					got = append(got, e.EventID)
				}
				if len(got) != len(want) || len(got) > 0 && got[0] != want[0] || len(got) > 1 && got[1] != want[1] {
					t.Errorf("naming %s: %q, want %q", groups, got, want)
				}
			}
		})
	}
}
