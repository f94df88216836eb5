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
}

// rawStmt is a statement prepared on a rawConn's connection, and which argument each of
// its parameters takes (stmtCache's order).
type rawStmt struct {
	st    driver.Stmt
	order []int
}

var _ Execer = (*rawConn)(nil)

// on returns r for the driver connection c, its statements dropped when c is another
// (the pool closed the one they were prepared on, and they with it).
func (r *rawConn) on(c any, anon bool) *rawConn {
	if r == nil || r.c != c {
		return &rawConn{c: c, stmts: map[string]*rawStmt{}, anon: anon}
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
// destinations the store's units scan into without reflection, any other through sql.Null.
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
	case *bool:
		if v != nil {
			b, err := driver.Bool.ConvertValue(v)
			if err != nil {
				return fmt.Errorf("converting driver.Value type %T (%q) to a bool: %w", v, v, err)
			}
			*d = b.(bool)
			return nil
		}
	case sql.Scanner:
		return d.Scan(v)
	}
	// The rest, as database/sql converts them (named types, NULL into a pointer).
	rv := reflect.ValueOf(dest)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("destination not a pointer")
	}
	return convertTo(rv.Elem(), v)
}

// convertTo stores v in e as database/sql's convertAssign does for the kinds a column of
// the store reads into.
func convertTo(e reflect.Value, v driver.Value) error {
	if v == nil {
		if e.Kind() == reflect.Pointer || e.Kind() == reflect.Interface || e.Kind() == reflect.Slice || e.Kind() == reflect.Map {
			e.SetZero()
			return nil
		}
		return fmt.Errorf("converting NULL to %s is unsupported", e.Kind())
	}
	switch e.Kind() {
	case reflect.Pointer:
		p := reflect.New(e.Type().Elem())
		if err := convertTo(p.Elem(), v); err != nil {
			return err
		}
		e.Set(p)
		return nil
	case reflect.String:
		switch v := v.(type) {
		case string:
			e.SetString(v)
			return nil
		case []byte:
			e.SetString(string(v))
			return nil
		case int64:
			e.SetString(fmt.Sprint(v))
			return nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n, ok := v.(int64); ok && !e.OverflowInt(n) {
			e.SetInt(n)
			return nil
		}
	case reflect.Float32, reflect.Float64:
		switch v := v.(type) {
		case float64:
			e.SetFloat(v)
			return nil
		case int64:
			e.SetFloat(float64(v))
			return nil
		}
	case reflect.Bool:
		b, err := driver.Bool.ConvertValue(v)
		if err == nil {
			e.SetBool(b.(bool))
			return nil
		}
	case reflect.Slice:
		if e.Type().Elem().Kind() == reflect.Uint8 {
			switch v := v.(type) {
			case []byte:
				e.SetBytes(bytes.Clone(v))
				return nil
			case string:
				e.SetBytes([]byte(v))
				return nil
			}
		}
	case reflect.Interface:
		if b, ok := v.([]byte); ok {
			v = bytes.Clone(b)
		}
		e.Set(reflect.ValueOf(v))
		return nil
	}
	return fmt.Errorf("unsupported Scan, storing driver.Value type %T into type %s", v, e.Type())
}
