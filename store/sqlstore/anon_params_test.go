package sqlstore

import (
	"slices"
	"testing"
)

// TestAnonymousParams: what AnonymousParams prepares with ? (and which argument each
// ? takes), and what it leaves as it is.
func TestAnonymousParams(t *testing.T) {
	for _, c := range []struct {
		in, want string
		order    []int
	}{
		{`SELECT a FROM t WHERE x = $1 AND y = $2`, `SELECT a FROM t WHERE x = ? AND y = ?`, nil},
		{`UPDATE t SET a = $1, b = $2 WHERE c = $3 AND d = $4 AND e = $5 AND f = $6 AND g = $7 AND h = $8 AND i = $9 AND j = $10 AND k = $11`,
			`UPDATE t SET a = ?, b = ? WHERE c = ? AND d = ? AND e = ? AND f = ? AND g = ? AND h = ? AND i = ? AND j = ? AND k = ?`, nil},
		{`UPDATE t SET s = $2, u = $3 WHERE id = $1 AND s = $4`, `UPDATE t SET s = ?, u = ? WHERE id = ? AND s = ?`, []int{2, 3, 1, 4}},
		{`INSERT INTO t (a, b) VALUES ($1, $3)`, `INSERT INTO t (a, b) VALUES (?, ?)`, []int{1, 3}},
		{`SELECT json_extract(a, '$."x"'), 'it''s $2' FROM t WHERE x = $1`, `SELECT json_extract(a, '$."x"'), 'it''s $2' FROM t WHERE x = ?`, nil},
		{"SELECT \"$3\" FROM t -- $2\n WHERE /* $9 */ x = $1", "SELECT \"$3\" FROM t -- $2\n WHERE /* $9 */ x = ?", nil},
		{`SELECT 1`, `SELECT 1`, nil},
		// A repeated parameter takes its argument again.
		{`SELECT a FROM t WHERE x = $1 OR y = $1`, `SELECT a FROM t WHERE x = ? OR y = ?`, []int{1, 1}},
		{`UPDATE t SET c = $2, u = $3 WHERE id = $1 AND c < $2 AND l <= $3`, `UPDATE t SET c = ?, u = ? WHERE id = ? AND c < ? AND l <= ?`, []int{2, 3, 1, 2, 3}},
		// Left as they are: a ? already there, a $ that is not a parameter, text that does
		// not end a literal.
		{`SELECT a FROM t WHERE x = ? AND y = $2`, `SELECT a FROM t WHERE x = ? AND y = $2`, nil},
		{`SELECT a FROM t WHERE x = $a AND y = $1`, `SELECT a FROM t WHERE x = $a AND y = $1`, nil},
		{`SELECT a$1 FROM t WHERE y = $1`, `SELECT a$1 FROM t WHERE y = $1`, nil},
		{`SELECT a FROM t WHERE y = $0`, `SELECT a FROM t WHERE y = $0`, nil},
		{`SELECT 'a FROM t WHERE y = $1`, `SELECT 'a FROM t WHERE y = $1`, nil},
	} {
		if got, order := anonymous(c.in); got != c.want || !slices.Equal(order, c.order) {
			t.Errorf("anonymous(%q) = %q, %v, want %q, %v", c.in, got, order, c.want, c.order)
		}
	}
}
