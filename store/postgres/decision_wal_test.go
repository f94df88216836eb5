package postgres_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// An UPDATE of a factor that does not move it to another user (a validation's counter, a
// failure) leaves no lock on the row it writes. A BEFORE UPDATE row trigger on factors,
// whatever its column list, had PostgreSQL lock the row before each UPDATE (a heap LOCK
// WAL record per validation, and the lock carried to the new row version, whose xmax
// then names the deciding transaction). A move still gives the factor its new user's
// disabled flag.
func TestDecisionLocksNoFactorRow(t *testing.T) {
	t.Parallel()
	sv := testdb.Connect(t)
	schema := sv.NewSchema(t)
	s, err := postgres.Open(t.Context(), sv.SchemaDSN(t, schema), postgres.MaxConns(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	t0 := time.Unix(1_700_000_000, 0)
	for _, u := range []store.User{{ID: "u1", Name: "alice"}, {ID: "u2", Name: "bob", Disabled: true}} {
		u.CreatedAt = t0
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "u1", Type: "totp", State: store.FactorActive,
		Secret: []byte("sealed"), KeyID: "k1", Counter: -1, CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	factors := pgx.Identifier{schema, "factors"}.Sanitize()
	xmax := func() string {
		t.Helper()
		var x string
		if err := sv.Admin.QueryRow(ctx, `SELECT xmax::text FROM `+factors+` WHERE id = 'f1'`).Scan(&x); err != nil {
			t.Fatal(err)
		}
		return x
	}
	used := t0.Add(time.Minute)
	err = s.Update(ctx, func(w store.Writer) error {
		if err := w.AdvanceCounter(ctx, "f1", 1, used); err != nil {
			return err
		}
		if err := w.AppendAudit(ctx, store.AuditEvent{Time: used, Provider: "p", Username: "alice",
			FactorID: "f1", Resource: "validate", Outcome: "SUCCESS", WebhookID: "wh"}); err != nil {
			return err
		}
		_, err := w.RecordIdempotency(ctx, store.IdempotencyKey{Provider: "p", WebhookID: "wh", Fingerprint: "f"},
			"p", 200, []byte(`{}`), used.Add(time.Minute), used.Add(time.Hour), used)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if x := xmax(); x != "0" {
		t.Errorf("after a decision the factor's row is locked by transaction %s, want no lock (xmax 0)", x)
	}
	if _, err := s.RecordFailure(ctx, "f1", used.Add(time.Second), 5, time.Minute); err != nil {
		t.Fatal(err)
	}
	if x := xmax(); x != "0" {
		t.Errorf("after a failure the factor's row is locked by transaction %s, want no lock (xmax 0)", x)
	}

	// A move (no emfa makes one; a hand's UPDATE, on the schema's search_path, which the
	// triggers' functions name their tables by) takes the new user's flag, and back.
	c, err := pgxpool.New(ctx, sv.SchemaDSN(t, schema))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, m := range []struct {
		to   string
		want bool
	}{{"u2", true}, {"u1", false}} {
		if _, err := c.Exec(ctx, `UPDATE `+factors+` SET user_id = $1 WHERE id = 'f1'`, m.to); err != nil {
			t.Fatal(err)
		}
		var got bool
		if err := sv.Admin.QueryRow(ctx, `SELECT user_disabled FROM `+factors+` WHERE id = 'f1'`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != m.want {
			t.Errorf("factor moved to %s: user_disabled %v, want %v", m.to, got, m.want)
		}
	}
}

// A speculating decision claims its idempotency record with a plain INSERT: the usual key
// is new, and a key already recorded fails the INSERT with a unique violation, an
// assumption that did not hold, so the unit runs again, carefully, with the upsert that
// takes over an expired record or reports the one held. ON CONFLICT's speculative
// insertion (a probe of the key's index before the insert, a heap confirmation record
// after it) cost the server about 20 µs of a validation's ~290.
func TestDecisionClaimsWithPlainInsert(t *testing.T) {
	t.Parallel()
	s, tr := tracedStore(t)
	ctx := t.Context()
	t0 := time.Unix(1_700_000_000, 0)
	key := store.IdempotencyKey{Provider: "p", WebhookID: "wh", Fingerprint: "f"}
	record := func(owner string, now time.Time) store.IdempotencyClaim {
		t.Helper()
		var c store.IdempotencyClaim
		err := s.Update(ctx, func(w store.Writer) error {
			var err error
			c, err = w.RecordIdempotency(ctx, key, owner, 200, []byte(owner), now.Add(time.Minute), now.Add(time.Hour), now)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	tr.take()
	if c := record("first", t0); !c.Claimed {
		t.Fatalf("a new key: not claimed (%+v)", c)
	}
	sent := tr.take()
	for _, q := range sent {
		if strings.Contains(q, "ON CONFLICT") {
			t.Errorf("the decision's claim of a new key went out as an upsert:\n%s", q)
		}
	}
	// A retry finds the record held, and an expired one is taken over.
	if c := record("retry", t0.Add(time.Second)); c.Claimed || string(c.Record.Body) != "first" {
		t.Errorf("a recorded key: claimed %v, body %q; want the first answer", c.Claimed, c.Record.Body)
	}
	if c := record("later", t0.Add(2*time.Hour)); !c.Claimed {
		t.Errorf("an expired key: not claimed (%+v)", c)
	}
	got, err := s.GetIdempotency(ctx, key)
	if err != nil || string(got.Body) != "later" {
		t.Errorf("record after the takeover: body %q, %v; want later", got.Body, err)
	}
}

// A decision's UPDATE of the factor tests its user's flag on the factor's own row
// (user_disabled, which the database keeps: migrations 21 and 24) and reads no row of
// users: the sub-select on users, kept as a second test, planned an anti-join and probed
// users' key on every validation (about 30 µs of ~360 of the server's CPU) for a flag the
// factor's row holds already. TestCodeWaitingSeesUserDisabled covers a disable
// committed while the decision waits.
func TestDecisionReadsNoUser(t *testing.T) {
	t.Parallel()
	s, tr := tracedStore(t)
	ctx := t.Context()
	t0 := time.Unix(1_700_000_000, 0)
	if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateFactor(ctx, store.Factor{ID: "f1", UserID: "u1", Type: "totp", State: store.FactorActive,
		Secret: []byte("sealed"), KeyID: "k1", Counter: -1, CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	decide := func(n int64) error {
		return s.Update(ctx, func(w store.Writer) error { return w.AdvanceCounter(ctx, "f1", n, t0.Add(time.Minute)) })
	}
	tr.take()
	if err := decide(1); err != nil {
		t.Fatal(err)
	}
	for _, q := range tr.take() {
		if strings.Contains(q, "users") {
			t.Errorf("the decision read users:\n%s", q)
		}
	}
	if err := s.SetUserDisabled(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	if err := decide(2); !errors.Is(err, store.ErrInactive) {
		t.Errorf("a disabled user's code: %v, want ErrInactive", err)
	}
}
