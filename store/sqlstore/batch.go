package sqlstore

import "strings"

// batchMax bounds the rows (or values) one set-based statement carries: 512 rows of an
// event's 13 parameters stay well under either database's limit on parameters
// (SQLite's 32,766, PostgreSQL's 65,535).
const batchMax = 512

// inBatches calls fn with vals in batches, each of a power of two values, at most
// batchMax: a statement sized by its batch then has one of ten texts, not one for every
// count a call brings, so the statement caches (pgx's, of 512 statements a connection;
// PrepareStatements') keep each text prepared instead of filling with one-off counts,
// each parsed and planned again. A batch is a round trip: a call of n values sends
// n/batchMax of them and one for each bit of the rest, up to nine.
//
// inChunks, for the reads of a request's ids, chunks them by a count instead: one
// statement for any count up to inChunk, where a power of two of them would be two or
// three for most.
//
// Run them on Store.on's querier: SQLite looks each named parameter ($n) up in a list,
// by name when it parses a statement and by number when modernc.org/sqlite binds it, so
// a statement of thousands of them took a second; with AnonymousParams, as SQLite's store
// runs them, they are ?s, which it numbers as it goes.
func inBatches[T any](vals []T, fn func([]T) error) error {
	for len(vals) > 0 {
		n := batchMax
		for n > len(vals) {
			n /= 2
		}
		if err := fn(vals[:n]); err != nil {
			return err
		}
		vals = vals[n:]
	}
	return nil
}

// valueRows returns n rows of row, a term of the parameters $1 to $width (each once or
// more, in any order), joined by commas: the k-th row's parameters numbered from
// after+k*width+1, as the arguments of n rows in turn are after after others.
func valueRows(row string, width, n, after int) string {
	var b strings.Builder
	for k := range n {
		if k > 0 {
			b.WriteString(", ")
		}
		b.WriteString(shiftParams(row, after+k*width))
	}
	return b.String()
}
