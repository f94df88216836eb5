package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
	_ "modernc.org/sqlite"
)

type reviewInt int

// reviewRaw opens an in-memory SQLite database with a table of values of every storage
// class, and returns it and a rawConn on its one connection, held for the test.
func reviewRaw(t *testing.T) (*sql.Conn, func(func(r *rawConn))) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var r *rawConn
	return conn, func(f func(r *rawConn)) {
		if err := conn.Raw(func(dc any) error {
			r = r.on(dc, true)
			f(r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRawScanEquivalence: every value SQLite gives scanned into every kind of
// destination the store uses, through database/sql and through rawConn: the same result,
// or an error from both.
func TestRawScanEquivalence(t *testing.T) {
	ctx := context.Background()
	conn, raw := reviewRaw(t)
	if _, err := conn.ExecContext(ctx, `CREATE TABLE v (id INTEGER PRIMARY KEY, x, ts TIMESTAMP)`); err != nil {
		t.Fatal(err)
	}
	values := []string{`NULL`, `0`, `1`, `2`, `-1`, `5`, `9223372036854775807`, `2147483648`, `1.5`, `2.0`,
		`'abc'`, `'5'`, `'-7'`, `''`, `'true'`, `'1.5'`, `x''`, `x'616263'`, `x'35'`}
	for i, v := range values {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(`INSERT INTO v (id, x) VALUES (%d, %s)`, i, v)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO v (id, x, ts) VALUES (100, NULL, '2024-01-02 03:04:05')`); err != nil {
		t.Fatal(err)
	}
	dests := []func() any{
		func() any { return new(string) }, func() any { return new([]byte) }, func() any { return new(int64) },
		func() any { return new(int) }, func() any { return new(int32) }, func() any { return new(uint64) },
		func() any { return new(bool) }, func() any { return new(float64) }, func() any { return new(time.Time) },
		func() any { return new(any) }, func() any { return new(sql.NullString) }, func() any { return new(sql.NullInt64) },
		func() any { return new(sql.NullBool) }, func() any { return new(sql.NullTime) }, func() any { return new(sql.NullFloat64) },
		func() any { return new(store.FactorState) }, func() any { return new(reviewInt) }, func() any { return new(*string) },
		func() any { return new(*int64) }, func() any { return new(sql.Null[int64]) }, func() any { return new(sql.Null[string]) },
	}
	ids := make([]int, 0, len(values)+1)
	for i := range values {
		ids = append(ids, i)
	}
	ids = append(ids, 100)
	var bad []string
	for _, id := range ids {
		col := "x"
		if id == 100 {
			col = "ts"
		}
		q := `SELECT ` + col + ` FROM v WHERE id = $1`
		for _, mk := range dests {
			want, got := mk(), mk()
			werr := conn.QueryRowContext(ctx, q, id).Scan(want)
			var gerr error
			raw(func(r *rawConn) { gerr = r.QueryRow(ctx, q, id).Scan(got) })
			name := fmt.Sprintf("%s of row %d into %T", col, id, want)
			switch {
			case (werr == nil) != (gerr == nil):
				bad = append(bad, fmt.Sprintf("%s: database/sql %v, raw %v", name, werr, gerr))
			case werr == nil && !reflect.DeepEqual(reflect.ValueOf(want).Elem().Interface(), reflect.ValueOf(got).Elem().Interface()):
				bad = append(bad, fmt.Sprintf("%s: database/sql %#v, raw %#v", name, reflect.ValueOf(want).Elem().Interface(), reflect.ValueOf(got).Elem().Interface()))
			}
		}
	}
	for _, b := range bad {
		t.Error(b)
	}
}

// TestRawArgEquivalence: every kind of argument the units pass, written through
// rawConn and through database/sql, reads back the same (typeof and value).
func TestRawArgEquivalence(t *testing.T) {
	ctx := context.Background()
	conn, raw := reviewRaw(t)
	if _, err := conn.ExecContext(ctx, `CREATE TABLE a (k TEXT, i INTEGER, x)`); err != nil {
		t.Fatal(err)
	}
	s := "p"
	var nilp *string
	at := time.UnixMilli(1_700_000_000_123).UTC()
	args := []any{nil, []byte("ab"), []byte{}, []byte(nil), "s", "", 7, int64(-7), int32(3), uint8(4), true, false, 1.5,
		at, store.FactorActive, reviewInt(9), &s, nilp, sql.NullString{}, sql.NullString{String: "n", Valid: true},
		sql.NullInt64{Int64: 3, Valid: true}, reviewJSON([]byte(`{}`))}
	for i, a := range args {
		for _, col := range []string{"k", "i", "x"} {
			q := `INSERT INTO a (` + col + `) VALUES ($1)`
			if _, err := conn.ExecContext(ctx, `DELETE FROM a`); err != nil {
				t.Fatal(err)
			}
			_, werr := conn.ExecContext(ctx, q, a)
			var want, got [2]any
			if werr == nil {
				if err := conn.QueryRowContext(ctx, `SELECT typeof(`+col+`), `+col+` FROM a`).Scan(&want[0], &want[1]); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := conn.ExecContext(ctx, `DELETE FROM a`); err != nil {
				t.Fatal(err)
			}
			var gerr error
			raw(func(r *rawConn) { _, gerr = r.Exec(ctx, q, a) })
			if gerr == nil {
				if err := conn.QueryRowContext(ctx, `SELECT typeof(`+col+`), `+col+` FROM a`).Scan(&got[0], &got[1]); err != nil {
					t.Fatal(err)
				}
			}
			if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(want, got) {
				t.Errorf("argument %d %T %#v into %s: database/sql %v %v, raw %v %v", i, a, a, col, want, werr, got, gerr)
			}
		}
	}
}

type reviewJSON []byte

func (j reviewJSON) Value() (driver.Value, error) { return string(j), nil }
