package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"sync"
)

// keyedReads runs rd's reads, for DetachedKeyedReads, on the driver connection of a reader
// taken from the read pool (sql.Conn.Raw), each statement prepared on that connection
// once, as the group writer runs its batches (rawConn). Taking the reader is the one step
// that may wait, for the reads ahead of it (listings): database/sql waits for a
// connection under the caller's context, on a channel beside ctx.Done(), without a
// goroutine, so a request waits no longer than its deadline. Once it holds the reader the
// read runs without the context's cancellation, the goroutines database/sql and
// modernc.org/sqlite start for it spared: what it may still wait for is a lock another
// process holds, no longer than busy_timeout. The driver connection also spares
// database/sql's own costs of a query (its Rows and Row, the arguments converted anew,
// the statement's connection looked up under locks).
//
// The statements live as long as their connection: the reader connections must tell
// when they close (ClosingConn), so that they are finalized before it, or SQLite keeps a
// closed connection open, its files with it, for as long as they are. A connection that
// cannot tell runs each read as text through database/sql, still without the context's
// cancellation once it holds the reader.
type keyedReads struct {
	anon bool // AnonymousParams
	mu   sync.Mutex
	// conns are the reader connections' statements, by driver connection, each dropped
	// when its connection closes.
	conns map[any]*keyedConn
}

// keyedConn is what a reader connection keeps for the keyed reads: its statements, and
// the values of the row being read. One read uses it at a time: the one that holds the
// reader, inside Raw.
type keyedConn struct {
	raw  *rawConn
	vals []driver.Value
	row  rawRow
}

// errNotClosing: a reader's driver connection cannot say when it closes (ClosingConn).
var errNotClosing = errors.New("the reader's driver connection does not report when it closes")

// on is dc's keyedConn, made the first time.
func (k *keyedReads) on(dc any) (*keyedConn, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if kc, ok := k.conns[dc]; ok {
		return kc, nil
	}
	cc, ok := dc.(ClosingConn)
	if !ok {
		return nil, errNotClosing
	}
	if k.conns == nil {
		k.conns = map[any]*keyedConn{}
	}
	kc := &keyedConn{raw: &rawConn{c: dc, stmts: map[string]*rawStmt{}, anon: k.anon}}
	k.conns[dc] = kc
	// database/sql closes a connection only while no read holds it.
	cc.OnClose(func() {
		k.mu.Lock()
		delete(k.conns, dc)
		k.mu.Unlock()
		kc.raw.close()
	})
	return kc, nil
}

// keyed runs fn on a reader connection taken from the read pool under ctx (keyedReads),
// with the context fn must run its statements under; c is the reader, for a connection
// that is not a ClosingConn (kc nil then). A reader found broken is dropped, and the
// read tried again on another.
func (s *Store) keyed(ctx context.Context, fn func(ctx context.Context, c *sql.Conn, kc *keyedConn) error) (err error) {
	// A context that cannot end has nothing to detach.
	run := ctx
	if ctx.Done() != nil {
		// The driver reads nothing from a context but its end.
		run = context.Background()
	}
	for range badConnTries {
		if s.takingReader != nil {
			s.takingReader()
		}
		var c *sql.Conn
		if c, err = s.r.Conn(ctx); err != nil {
			return err // ctx's error when it ended first, as the read's
		}
		err = c.Raw(func(dc any) error {
			kc, err := s.keyedReads.on(dc)
			if err != nil {
				return err
			}
			err = fn(run, c, kc)
			if kc.raw.bad {
				// Its statements first, then database/sql closes the connection.
				kc.raw.close()
				return driver.ErrBadConn
			}
			return err
		})
		if errors.Is(err, errNotClosing) {
			err = fn(run, c, nil)
		}
		_ = c.Close() // back to the pool; ErrConnDone when Raw dropped it already
		if !errors.Is(err, driver.ErrBadConn) {
			return err
		}
	}
	return err
}

// keyedRow is one of rd's reads of one row, run by its Scan (keyed).
type keyedRow struct {
	s    *Store
	ctx  context.Context
	q    string
	args []any
}

func (r *keyedRow) Scan(dest ...any) error {
	return r.s.keyed(r.ctx, func(ctx context.Context, c *sql.Conn, kc *keyedConn) error {
		if kc == nil {
			return c.QueryRowContext(ctx, r.q, r.args...).Scan(dest...)
		}
		err := kc.read(ctx, r.q, r.args, true, func(row *rawRow) error { return row.Scan(dest...) })
		if errors.Is(err, io.EOF) {
			return sql.ErrNoRows
		}
		return err
	})
}

// keyedQuery is query's for one of rd's reads of several rows (keyed).
func keyedQuery[T any](ctx context.Context, s *Store, scan func(scanner) (T, error), q string, args ...any) (out []T, err error) {
	err = s.keyed(ctx, func(ctx context.Context, c *sql.Conn, kc *keyedConn) error {
		if kc == nil {
			out, err = query(ctx, c, scan, q, args...)
			return err
		}
		out = []T{}
		err := kc.read(ctx, q, args, false, func(row *rawRow) error {
			v, err := scan(row)
			if err == nil {
				out = append(out, v)
			}
			return err
		})
		if errors.Is(err, io.EOF) {
			err = nil
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// read runs q on kc's connection and hands each row to fn, the first only when one is
// set, until fn fails; io.EOF when there is no row past those fn took. The arguments and
// the values of the last row are cleared after: a factor's secret is among them.
func (kc *keyedConn) read(ctx context.Context, q string, args []any, one bool, fn func(row *rawRow) error) (err error) {
	r := kc.raw
	st, err := r.stmt(ctx, q)
	if err != nil {
		return err
	}
	nv, err := r.named(st, args)
	if err != nil {
		return err
	}
	qy, ok := st.st.(driver.StmtQueryContext)
	if !ok {
		return errors.New("the driver's statement queries with no context")
	}
	rows, err := qy.QueryContext(ctx, nv)
	clear(r.nv)
	clear(r.args)
	if err != nil {
		return r.check(err)
	}
	// Closed, so that the statement is reset and the connection goes back to the pool
	// free, whatever fn does.
	defer func() {
		if cerr := rows.Close(); err == nil || err == io.EOF && cerr != nil {
			err = r.check(cerr)
		}
	}()
	row := &kc.row
	row.cols = rows.Columns()
	if cap(kc.vals) < len(row.cols) {
		kc.vals = make([]driver.Value, len(row.cols))
	}
	row.vals = kc.vals[:len(row.cols)]
	defer func() {
		clear(row.vals)
		row.cols, row.vals = nil, nil
	}()
	for {
		if err := rows.Next(row.vals); err != nil {
			if err != io.EOF {
				err = r.check(err)
			}
			return err
		}
		if err := fn(row); err != nil || one {
			return err
		}
	}
}
