package adapter

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// recordReads is a store that counts its reads of user records, one at a time and many
// at once.
type recordReads struct {
	store.Store
	one, many atomic.Int64
}

func (s *recordReads) GetUserRecords(ctx context.Context, names []string) (map[string]store.UserRecord, error) {
	s.many.Add(1)
	return s.Store.GetUserRecords(ctx, names)
}

func (s *recordReads) GetUserRecord(ctx context.Context, name string) (store.UserRecord, error) {
	s.one.Add(1)
	return s.Store.GetUserRecord(ctx, name)
}

// membersPatch is a SCIM PATCH that adds (or removes) the users of ids to a group.
func membersPatch(op string, ids []string) string {
	var b strings.Builder
	b.WriteString(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"` + op + `","path":"members","value":[`)
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"value":%q}`, id)
	}
	b.WriteString(`]}]}`)
	return b.String()
}

// newMemberHarness is a SCIM harness whose lifecycle Manager, which reads the users a
// group write changes (MemberChanges), reads them through reads.
func newMemberHarness(tb testing.TB, st store.Store, more ...func(*Options)) (*syncHarness, *recordReads) {
	reads := &recordReads{Store: st}
	h := newSyncHarnessOn(tb, st, append(more, func(o *Options) {
		m, err := lifecycle.New(lifecycle.Options{Store: reads})
		if err != nil {
			tb.Fatal(err)
		}
		sq := st.(store.SyncQueue)
		o.Sync.Manager = m
		o.Sync.Queue = (&sync.Queue{Store: sq, Applier: &sync.Applier{M: m, Groups: sq}}).Init()
	})...)
	return h, reads
}

// TestGroupPatchReadsMemberRecordsAtOnce: a group PATCH that adds members read each
// member's record (GetUserRecord) one at a time, to change its groups: a directory's
// PATCH of 5,000 members was 5,000 reads (their names, by id, were already read at once:
// TestGroupPutReadsMembersAtOnce). They are read at once now (GetUserRecords), and the
// members are added, and removed again, as before.
func TestGroupPatchReadsMemberRecordsAtOnce(t *testing.T) {
	h, reads := newMemberHarness(t, testdb.SQLite(t))
	const n = 200
	members, names := d92Members(t, h.st, n)
	ids := make([]string, n)
	for i, m := range members {
		ids[i] = m.(map[string]any)["value"].(string)
	}
	_, path := h.created("/Groups", `{"displayName":"d92-patch"}`)
	reads.one.Store(0)
	reads.many.Store(0)
	if code, out, _ := h.scim("PATCH", path, membersPatch("add", ids)); code != http.StatusOK {
		t.Fatalf("PATCH adding %d members: %d %v", n, code, out)
	}
	if one, many := reads.one.Load(), reads.many.Load(); one > 1 || many != 1 {
		t.Errorf("PATCH adding %d members read user records one at a time %d times, at once %d times; want once at once", n, one, many)
	}
	for _, name := range []string{names[0], names[n-1]} {
		if u, ok := h.user(name); !ok || len(u.Groups) != 1 || u.Groups[0] != "d92-patch" {
			t.Errorf("%s after the PATCH: %+v", name, u.Groups)
		}
	}
	if code, out, _ := h.scim("PATCH", path, membersPatch("remove", ids[:n/2])); code != http.StatusOK {
		t.Fatalf("PATCH removing %d members: %d %v", n/2, code, out)
	}
	if u, _ := h.user(names[0]); len(u.Groups) != 0 {
		t.Errorf("%s after its removal: %+v", names[0], u.Groups)
	}
	if u, _ := h.user(names[n-1]); len(u.Groups) != 1 {
		t.Errorf("%s, not removed: %+v", names[n-1], u.Groups)
	}
}

// BenchmarkGroupMembersWrite: the write a SCIM PATCH adding 5,000 members to a group
// makes (sync.Queue.ApplyGroupNow: the members' records read, their groups changed, in
// one step), on SQLite; the members are removed again between runs, off the clock. Not
// through the handler: on a loaded machine the write of 5,000 users outlasts SCIM's 10 s.
func BenchmarkGroupMembersWrite(b *testing.B) {
	benchGroupMembersWrite(b, testdb.SQLite(b), false)
}

// BenchmarkGroupMembersWritePostgres: BenchmarkGroupMembersWrite on PostgreSQL, where
// each statement the write sends is a round trip.
func BenchmarkGroupMembersWritePostgres(b *testing.B) {
	benchGroupMembersWrite(b, testdb.Postgres(b), false)
}

// BenchmarkGroupMembersWritePropagated: BenchmarkGroupMembersWrite with a vendor
// configured, so that finishing the write's events queues a propagation each
// (store.SyncQueue.FinishAppliedEvents), on either store.
func BenchmarkGroupMembersWritePropagated(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchGroupMembersWrite(b, testdb.SQLite(b), true) })
	b.Run("postgres", func(b *testing.B) { benchGroupMembersWrite(b, testdb.Postgres(b), true) })
}

// benchGroupMembersWrite is BenchmarkGroupMembersWrite on st, with a vendor configured
// when propagate is set.
func benchGroupMembersWrite(b *testing.B, st store.Store, propagate bool) {
	h, _ := newMemberHarness(b, st)
	if propagate {
		if _, err := h.q.SwapPropagators([]provider.LifecyclePropagator{discarded{}}); err != nil {
			b.Fatal(err)
		}
	}
	const n = 5_000
	_, names := d92Members(b, h.st, n)
	out, _ := h.created("/Groups", `{"displayName":"d92-bench"}`)
	id := out["id"].(string)
	write := func(have, want []string) {
		g, err := h.q.Store.GetGroup(context.Background(), id)
		if err != nil {
			b.Fatal(err)
		}
		evs := memberEvents(g.Name, have, want)
		if err := h.q.ApplyGroupNow(context.Background(), sync.GroupWrite{ID: id, Source: "scim", IfRevision: g.Revision, Events: evs}); err != nil {
			b.Fatalf("%d member events: %v", len(evs), err)
		}
	}
	for b.Loop() {
		write(nil, names)
		b.StopTimer()
		write(names, nil)
		b.StartTimer()
	}
}

// discarded is a vendor that drops what it is sent.
type discarded struct{}

func (discarded) Propagate(context.Context, provider.LifecycleEvent) error { return nil }

// BenchmarkMemberChanges: what a group write of 5,000 members reads before it writes
// (lifecycle.MemberChanges: each member's record, and the change of its groups), on
// SQLite, nothing written.
func BenchmarkMemberChanges(b *testing.B) {
	h := newSyncHarness(b)
	_, names := d92Members(b, h.st, 5_000)
	edit := func(u lifecycle.User) ([]string, bool) { return append(u.Groups, "d92-bench"), true }
	for b.Loop() {
		changes, err := h.m.MemberChanges(context.Background(), "bench", names, edit)
		if err != nil || len(changes) != len(names) {
			b.Fatalf("MemberChanges: %d changes, %v", len(changes), err)
		}
	}
}
