package postgres_test

import (
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/storetest"
)

// BenchmarkEnqueueEvents is a directory delivery queued (storetest.BenchEnqueueEvents):
// on PostgreSQL a statement is a round trip.
func BenchmarkEnqueueEvents(b *testing.B) {
	sv := testdb.Connect(b)
	storetest.BenchEnqueueEvents(b, func(b *testing.B) store.Store { return sv.Open(b) })
}
