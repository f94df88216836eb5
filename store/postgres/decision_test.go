package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// batchSQL keeps the statements of every batch sent.
type batchSQL struct {
	mu  sync.Mutex
	sql []string
}

func (r *batchSQL) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}
func (r *batchSQL) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *batchSQL) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}
func (r *batchSQL) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sql = append(r.sql, d.SQL)
}
func (r *batchSQL) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// tracedStore is a store of one connection in a schema of its own, and what its batches send.
func tracedStore(t *testing.T) (*postgres.Store, *batchSQL) {
	t.Helper()
	sv := testdb.Connect(t)
	tr := &batchSQL{}
	s, err := postgres.Open(t.Context(), sv.Migrated(t), postgres.MaxConns(1), postgres.Traced(tr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, tr
}

func (r *batchSQL) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sql
	r.sql = nil
	return s
}

// A successful validation's unit (its counter, its audit row with the factor's last use,
// its idempotency record) writes the factor's row once. Written twice in one transaction,
// the second UPDATE found a row its own transaction had made, which makes PostgreSQL run
// the foreign key's check on factors.user_id: a SELECT … FOR KEY SHARE of the user's row,
// which locks (writes) that row on every validation, with a WAL record, and with a
// MultiXact when validations of one user's factors overlap; and a second row version.
func TestDecisionWritesFactorOnce(t *testing.T) {
	t.Parallel()
	s, tr, sv, schema := tracedAlice(t)
	ctx := t.Context()
	// The user's row's xmax: the last transaction that locked it (CreateFactor's foreign
	// key check did), which a decision must leave as it is.
	locker := func() string {
		t.Helper()
		var x string
		if err := sv.Admin.QueryRow(ctx, `SELECT xmax::text FROM `+pgx.Identifier{schema, "users"}.Sanitize()+` WHERE id = 'u1'`).Scan(&x); err != nil {
			t.Fatal(err)
		}
		return x
	}
	for i, used := range []time.Time{t0.Add(time.Minute), t0.Add(2 * time.Minute)} {
		tr.take()
		before := locker()
		err := s.Update(ctx, func(w store.Writer) error {
			if err := w.AdvanceCounter(ctx, "f1", int64(i+1), used); err != nil {
				return err
			}
			return w.AppendAudit(ctx, store.AuditEvent{Time: used, Provider: "p", Username: "alice",
				FactorID: "f1", Resource: "validate", Outcome: "SUCCESS"})
		})
		if err != nil {
			t.Fatal(err)
		}
		updates := 0
		for _, q := range tr.take() {
			updates += strings.Count(q, "UPDATE factors")
		}
		if updates != 1 {
			t.Errorf("decision %d: %d UPDATEs of factors, want 1", i, updates)
		}
		if after := locker(); after != before {
			t.Errorf("decision %d locked the user's row (xmax %s, was %s)", i, after, before)
		}
		last, err := s.LastUsed(ctx, []string{"f1"})
		if err != nil {
			t.Fatal(err)
		}
		if !last["f1"].Equal(used) {
			t.Errorf("decision %d: last used %v, want %v", i, last["f1"], used)
		}
		f, err := s.GetFactor(ctx, "f1")
		if err != nil || f.Counter != int64(i+1) {
			t.Errorf("decision %d: counter %d, %v", i, f.Counter, err)
		}
	}
}

// openAlice opens a store at dsn with opts, closed when the test ends, holding user u1
// (alice) and her TOTP factor f1, made at at.
func openAlice(t *testing.T, dsn string, at time.Time, opts ...postgres.Option) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	withAlice(t, s, at)
	return s
}

// tracedAlice is openAlice's store of one connection in a schema of its own (at t0),
// what its batches send, the server and the schema.
func tracedAlice(t *testing.T) (*postgres.Store, *batchSQL, *testdb.Server, string) {
	t.Helper()
	sv := testdb.Connect(t)
	schema := sv.NewSchema(t)
	tr := &batchSQL{}
	return openAlice(t, sv.SchemaDSN(t, schema), t0, postgres.MaxConns(1), postgres.Traced(tr)), tr, sv, schema
}

// withAlice gives s the user alice and her TOTP factor f1, its counter unused, created at
// at, and returns s.
func withAlice[S store.Store](t *testing.T, s S, at time.Time) S {
	t.Helper()
	ctx := t.Context()
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "u1", Type: "totp", State: store.FactorActive,
		Secret: []byte("sealed"), KeyID: "k1", Counter: -1, CreatedAt: at, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	return s
}
