package sqlite_test

import (
	"testing"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/storetest"
)

// BenchmarkEnqueueEvents is a directory delivery queued (storetest.BenchEnqueueEvents).
func BenchmarkEnqueueEvents(b *testing.B) {
	storetest.BenchEnqueueEvents(b, func(b *testing.B) store.Store { return open(b, fileDSN(b)) })
}
