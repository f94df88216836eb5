package sqlstore

import (
	"context"
	"database/sql"
	"testing"

	_ "modernc.org/sqlite"
)

// txMissDB is a SQLite database in memory with one table, on one connection.
func txMissDB(tb testing.TB) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	tb.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b TEXT)`); err != nil {
		tb.Fatal(err)
	}
	return db
}

// TestTxMissPreparedInTx: a statement the cache has not prepared yet, run many times in
// one transaction (a SCIM group's 50,000 members on a fresh process), is prepared on the
// transaction at its first run and bound there for the rest, not parsed again as text at
// every run: SQLite parsed the first group write of 50,000 members' statements 50,000
// times each, past the 10 s SCIM deadline (503), while the directory's retry, prepared by
// then, took 1.2 s. It is still prepared on the pool after the transaction
// (prepareMissed). Its arguments keep their order (AnonymousParams: $2 before $1).
func TestTxMissPreparedInTx(t *testing.T) {
	ctx := context.Background()
	db := txMissDB(t)
	c := &stmtCache{anon: true}
	defer c.close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &prepared{c: c, db: db, tx: tx}
	p.bound = p.buf[:0]
	const q = `INSERT INTO t (id, b, a) VALUES ($1, $3, $2)`
	for i := range 3 {
		if _, err := p.ExecContext(ctx, q, i, "a", "b"); err != nil {
			t.Fatal(err)
		}
	}
	if len(p.bound) != 1 || p.bound[0].q != q {
		t.Errorf("after three runs of a statement the cache missed, the transaction has %d bound, want it bound once", len(p.bound))
	}
	var n int
	if err := p.QueryRowContext(ctx, `SELECT count(*) FROM t WHERE a = $1 AND b = $2`, "a", "b").Scan(&n); err != nil || n != 3 {
		t.Errorf("rows written with their arguments in order: %d (%v), want 3", n, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	c.prepareMissed(ctx, db)
	if _, ok := c.m.Load(stmtKey{db, q}); !ok {
		t.Error("the statement missed in the transaction is not prepared on the pool after it")
	}
}

// BenchmarkTxMissFirstWrite: the first transaction of a process that runs one statement
// 5,000 times (a large group's members), the cache empty.
func BenchmarkTxMissFirstWrite(b *testing.B) {
	ctx := context.Background()
	db := txMissDB(b)
	const q = `INSERT OR REPLACE INTO t (id, a, b) VALUES ($1, $2, $3)`
	for range b.N {
		c := &stmtCache{anon: true}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		p := &prepared{c: c, db: db, tx: tx}
		p.bound = p.buf[:0]
		for i := range 5000 {
			if _, err := p.ExecContext(ctx, q, i, "some user", "some group"); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		c.close()
	}
}
