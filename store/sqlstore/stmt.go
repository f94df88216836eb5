package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
)

// PrepareStatements keeps every statement the store runs prepared, per pool, and runs it
// from there rather than sending its text. SQLite parses and plans the text of every
// statement it is not given prepared, and modernc.org/sqlite keeps no cache of its own: a
// TOTP validation spent a sixth of its CPU in SQLite's parser. database/sql prepares a
// Stmt on each connection once and reuses it, in a transaction too (Tx.StmtContext), so
// the writer's one connection and each reader prepare each statement once. GroupCommit's
// batches run theirs on the writer's driver connection, where they prepare them themselves
// (rawConn); what else writes on the pool (imports, the sync queue) comes here. pgx caches
// prepared statements by itself, so PostgreSQL's store leaves this off.
func PrepareStatements() Option {
	return func(s *Store) { s.stmts = &stmtCache{} }
}

// AnonymousParams makes PrepareStatements prepare a statement whose $n parameters each
// appear once with ? for each, for a database that numbers ? parameters from 1 in the
// order they come (SQLite). modernc.org/sqlite reads each parameter's name into a Go
// string on every run to find its argument (conn.bind), one allocation a parameter and
// run; a ? has no name. Parameters out of order ($2, $1) or repeated ($1 … $1) are given
// their arguments in the order of the ?s: in a transaction, in a buffer the transaction's
// querier keeps; on a pool, in a slice of each run's own. A repeated parameter's argument
// is bound again each time: free for a number, a copy for a text (the C copy SQLite
// takes of it), which costs less than the Go string of its name.
func AnonymousParams() Option {
	return func(s *Store) { s.anonParams = true }
}

// stmtCache holds the prepared statements of a store, by pool and text.
type stmtCache struct {
	m    sync.Map // stmtKey -> *cached
	anon bool     // AnonymousParams

	mu      sync.Mutex
	pending map[string]bool // missed in a transaction of the writer: prepare after it
}

type stmtKey struct {
	db *sql.DB
	q  string
}

// cached is a statement prepared, and which argument each of its parameters takes.
type cached struct {
	st *sql.Stmt
	// order: the argument (from 1) of each parameter in turn; nil: the arguments in the
	// order given (AnonymousParams).
	order []int
}

// get returns the statement q prepared on db, preparing it the first time. Two callers
// racing to prepare it keep one and close the other.
func (c *stmtCache) get(ctx context.Context, db *sql.DB, q string) (*cached, error) {
	k := stmtKey{db, q}
	if st, ok := c.m.Load(k); ok {
		return st.(*cached), nil
	}
	text, order := q, []int(nil)
	if c.anon {
		text, order = anonymous(q)
	}
	st, err := db.PrepareContext(ctx, text)
	if err != nil {
		return nil, err
	}
	cs := &cached{st, order}
	if prev, loaded := c.m.LoadOrStore(k, cs); loaded {
		st.Close()
		return prev.(*cached), nil
	}
	return cs, nil
}

// prepareMissed prepares on db the statements that transactions ran as text, once db's
// connection is free again: preparing on a pool takes a connection of its own, and the
// writer's one is the transaction's until it ends. It runs after a commit (the group's
// batch, inTx's transaction), whose callers are to be told they committed: a statement
// whose preparing panics in the driver is left to run as text, as one that fails to
// prepare is, rather than the panic telling its caller that the write it made failed.
func (c *stmtCache) prepareMissed(ctx context.Context, db *sql.DB) {
	c.mu.Lock()
	missed := c.pending
	c.pending = nil
	c.mu.Unlock()
	for q := range missed {
		// A statement that fails to prepare runs as text, and fails there if it must.
		c.prepareOne(ctx, db, q)
	}
}

// prepareOne prepares q on db for prepareMissed, a panic of the driver's taken for a
// failure.
func (c *stmtCache) prepareOne(ctx context.Context, db *sql.DB, q string) {
	defer func() { _ = recover() }()
	_, _ = c.get(ctx, db, q)
}

// close closes every statement, so that the connections close clean.
func (c *stmtCache) close() {
	c.m.Range(func(k, st any) bool {
		st.(*cached).st.Close()
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
	// the group's writer, when it ran here, ran the same few statements once a unit (each
	// unit's SAVEPOINT, RELEASE and audit row, the same compare-and-set of many
	// decisions): bound once, not once a run, which allocated a Stmt and its driverStmt, grew the transaction's
	// list of them and registered each with the pool under its lock, for Commit to close
	// and unregister every one (issue 16). buf holds the first few without an allocation
	// of their own: a prepared is boxed in an interface, and so on the heap, anyway.
	bound []boundStmt
	buf   [8]boundStmt
	// args are the arguments of a run in a transaction in the order of its statement's
	// parameters, when they are not the order given (ordered): made at the first such run
	// and reused by the next, as the transaction runs one statement at a time and
	// database/sql copies them (driver.NamedValue) before the run. Not an array here: a
	// prepared is made for every write, most of which reorder nothing.
	args []any
}

// boundStmt is a statement bound to a transaction, its text and its parameters' order.
type boundStmt struct {
	q     string
	st    *sql.Stmt
	order []int
}

// stmt is q prepared on p's pool, bound to p's transaction if any, and args in the order
// of its parameters; a nil statement when q is to run as text (with args as they are). A
// transaction's copy reuses the statement already prepared on its connection and is
// closed with it. A statement the cache misses in a transaction is prepared on it
// (prepareInTx), and on the pool after (prepareMissed).
func (p *prepared) stmt(ctx context.Context, q string, args []any) (*sql.Stmt, []any) {
	if p.tx == nil {
		cs, err := p.c.get(ctx, p.db, q)
		if err != nil {
			return nil, args // the text fails the same way, and says so where it can
		}
		return ordered(cs.st, cs.order, args, nil)
	}
	for _, b := range p.bound {
		if b.q == q {
			return ordered(b.st, b.order, args, &p.args)
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
		return p.prepareInTx(ctx, q, args)
	}
	cs := st.(*cached)
	bound := p.tx.StmtContext(ctx, cs.st)
	p.bound = append(p.bound, boundStmt{q, bound, cs.order})
	return ordered(bound, cs.order, args, &p.args)
}

// prepareInTx prepares q, which the cache missed, on p's transaction and binds it there
// for the transaction's later runs of it: run as text at each, the first transaction of
// a process to run a statement many times (a SCIM group write's 50,000 members) had
// SQLite parse it each time, past the request's deadline. The pool's own is prepared
// after the transaction (prepareMissed); this one closes with the transaction. A
// statement that fails to prepare runs as text, and fails there if it must.
func (p *prepared) prepareInTx(ctx context.Context, q string, args []any) (*sql.Stmt, []any) {
	text, order := q, []int(nil)
	if p.c.anon {
		text, order = anonymous(q)
	}
	st, err := p.tx.PrepareContext(ctx, text)
	if err != nil {
		return nil, args
	}
	p.bound = append(p.bound, boundStmt{q, st, order})
	return ordered(st, order, args, &p.args)
}

// ordered is st with args in the order of its parameters, in *buf when buf is not nil
// (made, or made larger, when they do not fit); a nil statement, to run the text, when args has too few for them, so that the
// driver says what is missing.
func ordered(st *sql.Stmt, order []int, args []any, buf *[]any) (*sql.Stmt, []any) {
	if order == nil {
		return st, args
	}
	var out []any
	switch {
	case buf == nil:
		out = make([]any, len(order))
	case cap(*buf) < len(order):
		*buf = make([]any, len(order))
		out = *buf
	default:
		out = (*buf)[:len(order)]
	}
	for i, k := range order {
		if k > len(args) {
			return nil, args
		}
		out[i] = args[k-1]
	}
	return st, out
}

// q is what runs text: p's transaction or pool.
func (p *prepared) q() querier {
	if p.tx != nil {
		return p.tx
	}
	return p.db
}

func (p *prepared) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st, in := p.stmt(ctx, q, args); st != nil {
		return st.ExecContext(ctx, in...)
	}
	return p.q().ExecContext(ctx, q, args...)
}

func (p *prepared) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st, in := p.stmt(ctx, q, args); st != nil {
		return st.QueryContext(ctx, in...)
	}
	return p.q().QueryContext(ctx, q, args...)
}

func (p *prepared) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st, in := p.stmt(ctx, q, args); st != nil {
		return st.QueryRowContext(ctx, in...)
	}
	return p.q().QueryRowContext(ctx, q, args...)
}

// anonymous is q with ? for each of its $n parameters when no ? is in it already, and the
// argument (from 1) each ? takes, nil when they are 1, 2, 3 ...;
// q itself and nil otherwise. String literals, quoted names and comments are left as they
// are.
func anonymous(q string) (string, []int) {
	var b strings.Builder
	var order []int
	from := 0 // q[from:] is still to be copied
	for i := 0; i < len(q); {
		switch c := q[i]; {
		case c == '\'' || c == '"':
			end := strings.IndexByte(q[i+1:], c)
			if end < 0 {
				return q, nil
			}
			i += end + 2 // a doubled quote reads as two quoted parts, side by side
		case c == '-' && strings.HasPrefix(q[i:], "--"):
			end := strings.IndexByte(q[i:], '\n')
			if end < 0 {
				return q, nil
			}
			i += end + 1
		case c == '/' && strings.HasPrefix(q[i:], "/*"):
			end := strings.Index(q[i+2:], "*/")
			if end < 0 {
				return q, nil
			}
			i += end + 4
		case c == '?':
			return q, nil
		case c == '$':
			if i > 0 && (q[i-1] == '_' || q[i-1] >= '0' && q[i-1] <= '9' || (q[i-1]|0x20) >= 'a' && (q[i-1]|0x20) <= 'z') {
				return q, nil // a $ inside a name
			}
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			if j == i+1 {
				return q, nil // a $ that is not a numbered parameter: leave q alone
			}
			n, err := strconv.Atoi(q[i+1 : j])
			if err != nil || n < 1 {
				return q, nil
			}
			order = append(order, n)
			b.WriteString(q[from:i])
			b.WriteByte('?')
			from, i = j, j
		default:
			i++
		}
	}
	if order == nil {
		return q, nil
	}
	b.WriteString(q[from:])
	for i, n := range order {
		if n != i+1 {
			return b.String(), order
		}
	}
	return b.String(), nil
}
