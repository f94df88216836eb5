package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// PrepareStatements keeps every statement the store runs prepared, per pool, and runs it
// from there rather than sending its text. SQLite parses and plans the text of every
// statement it is not given prepared, and modernc.org/sqlite keeps no cache of its own: a
// TOTP validation spent a sixth of its CPU in SQLite's parser. database/sql prepares a
// Stmt on each connection once and reuses it, in a transaction too (Tx.StmtContext), so
// the writer's one connection and each reader prepare each statement once. pgx caches
// prepared statements by itself, so PostgreSQL's store leaves this off.
func PrepareStatements() Option {
	return func(s *Store) { s.stmts = &stmtCache{} }
}

// stmtCache holds the prepared statements of a store, by pool and text.
type stmtCache struct {
	m sync.Map // stmtKey -> *sql.Stmt

	mu      sync.Mutex
	pending map[string]bool // missed in a transaction of the writer: prepare after it
}

type stmtKey struct {
	db *sql.DB
	q  string
}

// get returns the statement q prepared on db, preparing it the first time. Two callers
// racing to prepare it keep one and close the other.
func (c *stmtCache) get(ctx context.Context, db *sql.DB, q string) (*sql.Stmt, error) {
	k := stmtKey{db, q}
	if st, ok := c.m.Load(k); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.m.LoadOrStore(k, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// prepareMissed prepares on db the statements that transactions ran as text, once db's
// connection is free again: preparing on a pool takes a connection of its own, and the
// writer's one is the transaction's until it ends.
func (c *stmtCache) prepareMissed(ctx context.Context, db *sql.DB) {
	c.mu.Lock()
	missed := c.pending
	c.pending = nil
	c.mu.Unlock()
	for q := range missed {
		// A statement that fails to prepare runs as text, and fails there if it must.
		_, _ = c.get(ctx, db, q)
	}
}

// close closes every statement, so that the connections close clean.
func (c *stmtCache) close() {
	c.m.Range(func(k, st any) bool {
		st.(*sql.Stmt).Close()
		c.m.Delete(k)
		return true
	})
}

// on returns what runs statements on db, in tx when it is not nil: tx or db themselves, or
// their prepared statements.
func (s *Store) on(db *sql.DB, tx *sql.Tx) querier {
	if s.stmts == nil {
		if tx != nil {
			return tx
		}
		return db
	}
	p := &prepared{c: s.stmts, db: db, tx: tx}
	p.bound = p.buf[:0]
	return p
}

// prepared is a querier that runs each statement prepared, from the cache. One of a
// transaction also keeps the statements it has bound to it (bound), for the transaction's
// life, and so is used by one goroutine at a time, as the transaction is.
type prepared struct {
	c  *stmtCache
	db *sql.DB
	tx *sql.Tx
	// bound are the statements already bound to tx (Tx.StmtContext), by text. A batch of
	// the group's writer runs the same few statements once a unit (each unit's SAVEPOINT,
	// RELEASE and audit row, the same compare-and-set of many decisions): bound once,
	// not once a run, which allocated a Stmt and its driverStmt, grew the transaction's
	// list of them and registered each with the pool under its lock, for Commit to close
	// and unregister every one (issue 16). buf holds the first few without an allocation
	// of their own: a prepared is boxed in an interface, and so on the heap, anyway.
	bound []boundStmt
	buf   [8]boundStmt
}

// boundStmt is a statement bound to a transaction, and its text.
type boundStmt struct {
	q  string
	st *sql.Stmt
}

// stmt is q prepared on p's pool, bound to p's transaction if any; nil when q is to run
// as text. A transaction's copy reuses the statement already prepared on its connection
// and is closed with it. A statement the cache misses in a transaction runs as text, and
// is prepared after (prepareMissed).
func (p *prepared) stmt(ctx context.Context, q string) *sql.Stmt {
	if p.tx == nil {
		st, err := p.c.get(ctx, p.db, q)
		if err != nil {
			return nil // the text fails the same way, and says so where it can
		}
		return st
	}
	for _, b := range p.bound {
		if b.q == q {
			return b.st
		}
	}
	st, ok := p.c.m.Load(stmtKey{p.db, q})
	if !ok {
		p.c.mu.Lock()
		if p.c.pending == nil {
			p.c.pending = map[string]bool{}
		}
		p.c.pending[q] = true
		p.c.mu.Unlock()
		return nil
	}
	bound := p.tx.StmtContext(ctx, st.(*sql.Stmt))
	p.bound = append(p.bound, boundStmt{q, bound})
	return bound
}

// q is what runs text: p's transaction or pool.
func (p *prepared) q() querier {
	if p.tx != nil {
		return p.tx
	}
	return p.db
}

func (p *prepared) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := p.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return p.q().ExecContext(ctx, q, args...)
}

func (p *prepared) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := p.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.q().QueryContext(ctx, q, args...)
}

func (p *prepared) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := p.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.q().QueryRowContext(ctx, q, args...)
}
