package postgres_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// A replayed code fails the speculative unit's assumption, whose batch pgx then takes for
// one that went wrong: it drops every statement of it from its cache (BEGIN, COMMIT, the
// compare-and-set, the claim) and prepares them again on their next use, a round trip
// and a parse and plan each on the server, hidden in the batches that follow. The
// statements of the speculative protocol stay prepared.
func TestFailedAssumptionKeepsStatementsPrepared(t *testing.T) {
	t.Parallel()
	sv := testdb.Connect(t)
	p := &wire{}
	s := openAlice(t, sv.Migrated(t), time.UnixMilli(0), postgres.MaxConns(1),
		postgres.Traced(&roundTrips{}), postgres.Dialed(p.dial))
	ctx := t.Context()
	runs := 0
	counter := int64(0)
	replayThenNext := func() {
		t.Helper()
		for _, want := range []string{"FAILED", "SUCCESS"} {
			if want == "SUCCESS" {
				counter++
			}
			out, _, err := decide(ctx, s, counter, key("w"+time.Now().String(), "a"), &runs)
			if err != nil || out != want {
				t.Fatalf("decided %s, %v; want %s", out, err, want)
			}
		}
	}
	counter++
	if _, _, err := decide(ctx, s, counter, key("w0", "a"), &runs); err != nil {
		t.Fatal(err)
	}
	replayThenNext() // prepares the careful run's statements too
	replayThenNext()
	before := p.count('P')
	replayThenNext()
	if n := p.count('P') - before; n > 1 {
		t.Errorf("a replayed code and the next decision prepared %d statements, want at most 1 (the audit row's)", n)
	}
}

// A DSN that asks for the simple protocol (a pooler that cannot keep prepared
// statements) has none prepared by a unit, failed assumption or not.
func TestSimpleProtocolPreparesNothing(t *testing.T) {
	t.Parallel()
	sv := testdb.Connect(t)
	p := &wire{}
	dsn := sv.Migrated(t)
	if strings.Contains(dsn, "://") {
		dsn += "&default_query_exec_mode=simple_protocol"
	} else {
		dsn += " default_query_exec_mode=simple_protocol"
	}
	s, err := postgres.Open(t.Context(), dsn, postgres.MaxConns(1), postgres.Dialed(p.dial))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: time.UnixMilli(0)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "u1", Type: "totp", State: store.FactorActive,
		Secret: []byte("sealed"), KeyID: "k1", Counter: -1, CreatedAt: time.UnixMilli(0), UpdatedAt: time.UnixMilli(0)}); err != nil {
		t.Fatal(err)
	}
	before := p.count('P')
	runs := 0
	for i, want := range []string{"SUCCESS", "FAILED"} {
		out, _, err := decide(ctx, s, 1, key(fmt.Sprint("w", i), "a"), &runs)
		if err != nil || out != want {
			t.Fatalf("decided %s, %v; want %s", out, err, want)
		}
	}
	if n := p.count('P') - before; n != 0 {
		t.Errorf("prepared %d statements, want none", n)
	}
}
