package postgres_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/emfa/emfa/internal/testdb"
)

// A validation's statements go out as PostgreSQL's extended protocol at its least: the
// read of the factor and user one Bind, one Execute and a Sync; the decision one Bind
// and one Execute (the compare-and-set with its audit row and the claim of the answer's
// record) and a Sync. No Parse (every statement prepared on the connection) and no
// Describe: pgx knows each result's columns from its statement cache. A Describe would
// have the server build and send a RowDescription for every run (the read's 17 columns,
// each a catalog lookup of its type), and the client parse it; pgx's describe_exec
// mode sends one with every statement.
func TestValidationMessages(t *testing.T) {
	t.Parallel()
	s, w, _ := wiredStore(t)
	ctx := t.Context()
	runs := warm(t, s, w)
	for range 3 {
		if _, _, err := s.GetFactorAndUser(ctx, "f1", "alice"); err != nil {
			t.Fatal(err)
		}
	}
	w.take()
	if _, _, err := s.GetFactorAndUser(ctx, "f1", "alice"); err != nil {
		t.Fatal(err)
	}
	read := w.take()
	if _, _, err := decide(ctx, s, 4, key("w4", "a"), &runs); err != nil {
		t.Fatal(err)
	}
	decision := w.take()
	for _, c := range []struct {
		name string
		got  map[byte]int
		want map[byte]int
	}{
		{"the read", read, map[byte]int{'B': 1, 'E': 1, 'S': 1}},
		{"the decision", decision, map[byte]int{'B': 1, 'E': 1, 'S': 1}},
	} {
		for _, typ := range []byte{'P', 'D', 'B', 'E', 'S', 'Q', 'C'} {
			if c.got[typ] != c.want[typ] {
				t.Errorf("%s sent %d %q messages, want %d (all: %v)", c.name, c.got[typ], typ, c.want[typ], named(c.got))
			}
		}
	}
}

// named is a message count with its types as letters.
func named(n map[byte]int) map[string]int {
	m := map[string]int{}
	for k, v := range n {
		m[string(rune(k))] = v
	}
	return m
}

// A validation's UPDATE of its factor sets no column that an index of factors names (as
// a key column, in an expression or in a predicate), so PostgreSQL writes the new row
// version as a heap-only tuple (HOT) beside the old one, on the same page, with no entry
// in any of factors' four indexes. An index that named one (last_used_at for a report
// of unused factors, updated_at for a sync) would cost every validation an index entry
// in each of them, a heap page of its own, and the WAL of it: measured on the dev
// machine, 1,190 bytes of WAL a validation with every update HOT, where the 3% of
// updates that found no room on their page (not HOT) each wrote an UPDATE, a LOCK and
// four index inserts more.
func TestValidationUpdateIsHOT(t *testing.T) {
	t.Parallel()
	s, tr, sv, schema := tracedAlice(t)
	ctx := t.Context()
	runs := 0
	tr.take()
	if out, _, err := decide(ctx, s, 1, key("w1", "a"), &runs); err != nil || out != "SUCCESS" {
		t.Fatalf("decided %s, %v; want SUCCESS", out, err)
	}
	var set []string
	for _, q := range tr.take() {
		set = append(set, setColumns(q, "factors")...)
	}
	// The compare-and-set's own columns: the test reads the statement, not a copy of it.
	for _, c := range []string{"counter", "updated_at", "last_used_at"} {
		if !slices.Contains(set, c) {
			t.Fatalf("the decision's UPDATE of factors sets %q, want %s among them", set, c)
		}
	}
	if got := indexedAmong(t, sv, schema, set); len(got) > 0 {
		t.Errorf("an index of factors names %q, which a validation's UPDATE sets: no update of a factor is HOT", got)
	}
	// And the check sees such an index.
	if _, err := sv.Admin.Exec(ctx, `CREATE INDEX review_unused ON `+pgx.Identifier{schema, "factors"}.Sanitize()+
		` (user_id) WHERE last_used_at = 0`); err != nil {
		t.Fatal(err)
	}
	if got := indexedAmong(t, sv, schema, set); !slices.Equal(got, []string{"last_used_at"}) {
		t.Errorf("with an index whose predicate names last_used_at, the check found %q", got)
	}
}

// setColumns lists the columns q's UPDATE of table sets, between SET and WHERE.
func setColumns(q, table string) []string {
	_, rest, ok := strings.Cut(q, "UPDATE "+table+" SET ")
	if !ok {
		return nil
	}
	rest, _, _ = strings.Cut(rest, " WHERE ")
	var cols []string
	for _, m := range regexp.MustCompile(`(?:^|,)\s*(\w+)\s*=`).FindAllStringSubmatch(rest, -1) {
		cols = append(cols, m[1])
	}
	return cols
}

// indexedAmong lists, sorted, the columns of cols that an index of schema's factors
// names: PostgreSQL's test of whether an UPDATE may be HOT (its HOT-blocking columns).
func indexedAmong(t *testing.T, sv *testdb.Server, schema string, cols []string) []string {
	t.Helper()
	rows, err := sv.Admin.Query(t.Context(), `SELECT DISTINCT a.attname::text FROM pg_index i
		JOIN pg_class c ON c.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE n.nspname = $1 AND c.relname = 'factors' AND a.attname = ANY ($2::text[])
		AND (a.attnum = ANY (i.indkey::int2[])
		     OR coalesce(pg_get_expr(i.indexprs, i.indrelid), '') ~ ('\m' || a.attname || '\M')
		     OR coalesce(pg_get_expr(i.indpred, i.indrelid), '') ~ ('\m' || a.attname || '\M'))
		ORDER BY 1`, schema, cols)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return got
}
