package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"time"
)

// rawConn runs the statements of GroupCommit's batches on the writer's driver connection
// (sql.Conn.Raw), each prepared on it once, rather than through database/sql, which adds
// to every statement a lookup of the statement's connection under locks, a slice of
// driver.NamedValue converted anew, a Result or a Rows around the driver's, and in a
// transaction a Rows whose context a goroutine watches (issue 16). A rawConn is the
// writer's: one goroutine uses it, and only inside Raw.
type rawConn struct {
	c     any // the driver.Conn the statements are prepared on
	stmts map[string]*rawStmt
	anon  bool // AnonymousParams
	// nv and args are the arguments of the statement running, reused by the next: the
	// driver has bound them before the statement returns.
	nv   []driver.NamedValue
	args []any
	// bad: a statement found the connection broken (driver.ErrBadConn): Raw is told so,
	// and database/sql closes it, as it does a transaction's connection that failed so.
	bad bool
	// unsure: a ROLLBACK failed, other than for finding no transaction open, and the
	// transaction may still be open on the connection (group.rollback, group.rolledBack);
	// never left set when the batch gives the connection back (group.leaveNoTx).
	unsure bool
}

// rawStmt is a statement prepared on a rawConn's connection, and which argument each of
// its parameters takes (stmtCache's order).
type rawStmt struct {
	st    driver.Stmt
	order []int
}

var _ Execer = (*rawConn)(nil)

// ClosingConn is a driver connection that runs fn before it closes (OnClose). The group
// writer's statements prepared on one are closed then, as database/sql closes those it
// prepared: SQLite keeps a connection closed with statements unfinalized open, a zombie
// with its files, for as long as they are, and the pool may close the writer's connection
// between two batches (database/sql drops one the driver reports invalid, as
// modernc.org/sqlite does a file's after one of its statements was interrupted).
type ClosingConn interface {
	OnClose(fn func())
}

// on returns r for the driver connection c, its statements dropped when c is another
// (the pool closed the one they were prepared on: with it, when c is a ClosingConn).
func (r *rawConn) on(c any, anon bool) *rawConn {
	if r == nil || r.c != c {
		r = &rawConn{c: c, stmts: map[string]*rawStmt{}, anon: anon}
		if cc, ok := c.(ClosingConn); ok {
			cc.OnClose(r.close)
		}
	}
	return r
}

// close closes r's statements.
func (r *rawConn) close() {
	for q, st := range r.stmts {
		_ = st.st.Close()
		delete(r.stmts, q)
	}
}

// stmt is q prepared on r's connection, preparing it the first time.
func (r *rawConn) stmt(ctx context.Context, q string) (*rawStmt, error) {
	if st, ok := r.stmts[q]; ok {
		return st, nil
	}
	text, order := q, []int(nil)
	if r.anon {
		text, order = anonymous(q)
	}
	p, ok := r.c.(driver.ConnPrepareContext)
	if !ok {
		return nil, errors.New("the driver's connection prepares no statement with a context")
	}
	st, err := p.PrepareContext(ctx, text)
	if err != nil {
		return nil, r.check(err)
	}
	rs := &rawStmt{st: st, order: order}
	r.stmts[q] = rs
	return rs, nil
}

// named is args in the order of st's parameters as driver values, converted as
// database/sql converts them for a driver that checks none itself.
func (r *rawConn) named(st *rawStmt, args []any) ([]driver.NamedValue, error) {
	if st.order != nil {
		r.args = r.args[:0]
		for _, k := range st.order {
			if k > len(args) {
				return nil, fmt.Errorf("sql: expected %d arguments, got %d", len(st.order), len(args))
			}
			r.args = append(r.args, args[k-1])
		}
		args = r.args
	}
	if n := st.st.NumInput(); n >= 0 && n != len(args) {
		return nil, fmt.Errorf("sql: expected %d arguments, got %d", n, len(args))
	}
	r.nv = r.nv[:0]
	for i, a := range args {
		if !driver.IsValue(a) {
			v, err := driver.DefaultParameterConverter.ConvertValue(a)
			if err != nil {
				return nil, fmt.Errorf("sql: converting argument $%d type: %w", i+1, err)
			}
			a = v
		}
		r.nv = append(r.nv, driver.NamedValue{Ordinal: i + 1, Value: a})
	}
	return r.nv, nil
}

// opened notes the outcome of what begins a batch on r's connection: when it fails after
// a ROLLBACK or a COMMIT did (unsure), the transaction they left open is why, and the
// connection is discarded as broken; when it works, none is open.
func (r *rawConn) opened(err error) {
	if err != nil && r.unsure {
		r.bad = true
	}
	r.unsure = r.unsure && err != nil
}

// check notes a broken connection, and returns err.
func (r *rawConn) check(err error) error {
	if errors.Is(err, driver.ErrBadConn) {
		r.bad = true
	}
	return err
}

func (r *rawConn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	st, err := r.stmt(ctx, q)
	if err != nil {
		return 0, err
	}
	nv, err := r.named(st, args)
	if err != nil {
		return 0, err
	}
	ex, ok := st.st.(driver.StmtExecContext)
	if !ok {
		return 0, errors.New("the driver's statement runs with no context")
	}
	res, err := ex.ExecContext(ctx, nv)
	if err != nil {
		return 0, r.check(err)
	}
	return res.RowsAffected()
}

func (r *rawConn) Later(ctx context.Context, q string, args ...any) error {
	_, err := r.Exec(ctx, q, args...)
	return err
}

func (r *rawConn) QueryRow(ctx context.Context, q string, args ...any) Row {
	st, err := r.stmt(ctx, q)
	if err != nil {
		return errRow{err}
	}
	nv, err := r.named(st, args)
	if err != nil {
		return errRow{err}
	}
	qy, ok := st.st.(driver.StmtQueryContext)
	if !ok {
		return errRow{errors.New("the driver's statement queries with no context")}
	}
	rows, err := qy.QueryContext(ctx, nv)
	if err != nil {
		return errRow{r.check(err)}
	}
	// The row is read now, and the statement reset, so that the unit's next statement
	// finds the connection free whether or not Scan is called.
	row := &rawRow{cols: rows.Columns()}
	row.vals = make([]driver.Value, len(row.cols))
	err = rows.Next(row.vals)
	if cerr := rows.Close(); err == nil || err == io.EOF && cerr != nil {
		err = cerr
	}
	switch {
	case err == io.EOF:
		row.err = sql.ErrNoRows
	case err != nil:
		row.err = r.check(err)
	}
	return row
}

// rawRow is the one row of a rawConn's QueryRow, read.
type rawRow struct {
	cols []string
	vals []driver.Value
	err  error
}

// Scan stores the row's values in dest as database/sql's Row.Scan does.
func (r *rawRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	if len(dest) != len(r.vals) {
		return fmt.Errorf("sql: expected %d destination arguments in Scan, not %d", len(r.vals), len(dest))
	}
	for i, v := range r.vals {
		if err := assign(dest[i], v); err != nil {
			return fmt.Errorf("sql: Scan error on column index %d, name %q: %w", i, r.cols[i], err)
		}
	}
	return nil
}

// assign stores v, a value the driver read, in dest as database/sql's Scan would: the
// destinations the store's units scan into most at once, any other as database/sql's
// convertAssign does (convertAssign).
func assign(dest any, v driver.Value) error {
	switch d := dest.(type) {
	case *string:
		switch v := v.(type) {
		case string:
			*d = v
			return nil
		case []byte:
			*d = string(v)
			return nil
		}
	case *[]byte:
		switch v := v.(type) {
		case nil:
			*d = nil
			return nil
		case []byte:
			*d = bytes.Clone(v)
			return nil
		case string:
			*d = []byte(v)
			return nil
		}
	case *int64:
		if n, ok := v.(int64); ok {
			*d = n
			return nil
		}
	case *int:
		if n, ok := v.(int64); ok && int64(int(n)) == n {
			*d = int(n)
			return nil
		}
	case *time.Time:
		if tv, ok := v.(time.Time); ok {
			*d = tv
			return nil
		}
	}
	return convertAssign(dest, v)
}

// convertAssign is database/sql's convertAssignRows for a driver.Value read from a row
// (no RawBytes, cursor or decimal): what Scan stores in dest, and what it refuses.
func convertAssign(dest any, src driver.Value) error {
	switch s := src.(type) {
	case string:
		switch d := dest.(type) {
		case *string:
			*d = s
			return nil
		case *[]byte:
			*d = []byte(s)
			return nil
		}
	case []byte:
		switch d := dest.(type) {
		case *string:
			*d = string(s)
			return nil
		case *any:
			*d = bytes.Clone(s)
			return nil
		case *[]byte:
			*d = bytes.Clone(s)
			return nil
		}
	case time.Time:
		switch d := dest.(type) {
		case *time.Time:
			*d = s
			return nil
		case *string:
			*d = s.Format(time.RFC3339Nano)
			return nil
		case *[]byte:
			*d = s.AppendFormat(make([]byte, 0, len(time.RFC3339Nano)), time.RFC3339Nano)
			return nil
		}
	case nil:
		switch d := dest.(type) {
		case *any:
			*d = nil
			return nil
		case *[]byte:
			*d = nil
			return nil
		}
	}
	var sv reflect.Value
	switch d := dest.(type) {
	case *string:
		sv = reflect.ValueOf(src)
		switch sv.Kind() {
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
			reflect.Float32, reflect.Float64:
			*d = asString(src)
			return nil
		}
	case *[]byte:
		sv = reflect.ValueOf(src)
		if b, ok := asBytes(sv); ok {
			*d = b
			return nil
		}
	case *bool:
		b, err := driver.Bool.ConvertValue(src)
		if err == nil {
			*d = b.(bool)
		}
		return err
	case *any:
		*d = src
		return nil
	}
	if sc, ok := dest.(sql.Scanner); ok {
		return sc.Scan(src)
	}
	dpv := reflect.ValueOf(dest)
	if dpv.Kind() != reflect.Pointer {
		return errors.New("destination not a pointer")
	}
	if dpv.IsNil() {
		return errors.New("destination pointer is nil")
	}
	if !sv.IsValid() {
		sv = reflect.ValueOf(src)
	}
	dv := dpv.Elem()
	if sv.IsValid() && sv.Type().AssignableTo(dv.Type()) {
		if b, ok := src.([]byte); ok {
			dv.Set(reflect.ValueOf(bytes.Clone(b)))
		} else {
			dv.Set(sv)
		}
		return nil
	}
	if dv.Kind() == sv.Kind() && sv.Type().ConvertibleTo(dv.Type()) {
		if b, ok := src.([]byte); ok {
			sv = reflect.ValueOf(bytes.Clone(b))
		}
		dv.Set(sv.Convert(dv.Type()))
		return nil
	}
	parse := func(parse func(s string) error) error {
		if src == nil {
			return fmt.Errorf("converting NULL to %s is unsupported", dv.Kind())
		}
		s := asString(src)
		if err := parse(s); err != nil {
			var ne *strconv.NumError
			if errors.As(err, &ne) {
				err = ne.Err
			}
			return fmt.Errorf("converting driver.Value type %T (%q) to a %s: %v", src, s, dv.Kind(), err)
		}
		return nil
	}
	switch dv.Kind() {
	case reflect.Pointer:
		if src == nil {
			dv.SetZero()
			return nil
		}
		dv.Set(reflect.New(dv.Type().Elem()))
		return convertAssign(dv.Interface(), src)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return parse(func(s string) error {
			n, err := strconv.ParseInt(s, 10, dv.Type().Bits())
			if err == nil {
				dv.SetInt(n)
			}
			return err
		})
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return parse(func(s string) error {
			n, err := strconv.ParseUint(s, 10, dv.Type().Bits())
			if err == nil {
				dv.SetUint(n)
			}
			return err
		})
	case reflect.Float32, reflect.Float64:
		return parse(func(s string) error {
			f, err := strconv.ParseFloat(s, dv.Type().Bits())
			if err == nil {
				dv.SetFloat(f)
			}
			return err
		})
	case reflect.String:
		if src == nil {
			return fmt.Errorf("converting NULL to %s is unsupported", dv.Kind())
		}
		switch v := src.(type) {
		case string:
			dv.SetString(v)
			return nil
		case []byte:
			dv.SetString(string(v))
			return nil
		}
	}
	return fmt.Errorf("unsupported Scan, storing driver.Value type %T into type %T", src, dest)
}

// asString is database/sql's: src as text.
func asString(src any) string {
	switch v := src.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	rv := reflect.ValueOf(src)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(rv.Uint(), 10)
	case reflect.Float64:
		return strconv.FormatFloat(rv.Float(), 'g', -1, 64)
	case reflect.Float32:
		return strconv.FormatFloat(rv.Float(), 'g', -1, 32)
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool())
	}
	return fmt.Sprintf("%v", src)
}

// asBytes is database/sql's: rv as the bytes of its text, for the kinds it has one.
func asBytes(rv reflect.Value) ([]byte, bool) {
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(nil, rv.Int(), 10), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.AppendUint(nil, rv.Uint(), 10), true
	case reflect.Float32:
		return strconv.AppendFloat(nil, rv.Float(), 'g', -1, 32), true
	case reflect.Float64:
		return strconv.AppendFloat(nil, rv.Float(), 'g', -1, 64), true
	case reflect.Bool:
		return strconv.AppendBool(nil, rv.Bool()), true
	case reflect.String:
		return []byte(rv.String()), true
	}
	return nil, false
}
