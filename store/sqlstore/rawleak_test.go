package sqlstore_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testfs"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlstore"
)

// TestRawStatementsOutliveConnection: when the writer pool drops its connection
// (database/sql does so after a statement on it was interrupted: the driver reports it
// invalid), the statements the group writer prepared on it must not keep the database
// open: a connection closed with statements unfinalized stays open as a zombie, its file
// descriptors with it, one more each time.
func TestRawStatementsOutliveConnection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emfa.db")
	s := openSQLite(t, path)
	ctx := context.Background()
	at := time.UnixMilli(1_700_000_000_000)
	write := func(i int) {
		t.Helper()
		if err := s.CreateUser(ctx, store.User{ID: "u" + strings.Repeat("x", i), Name: "n" + strings.Repeat("x", i), CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	// A write of the pool's own, interrupted: its context ends while it runs.
	interrupted := func() {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		err := sqlstore.ExecWriter(c, s, `WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM r) SELECT count(*) FROM r`)
		if err == nil {
			t.Fatal("an endless statement ended")
		}
	}
	write(1)
	interrupted()
	write(2) // the other pools (the checkpointer's) have opened theirs by now, or nearly
	before := testfs.OpenFiles(t, path)
	const rounds = 5
	for i := range rounds {
		interrupted()
		write(i + 3)
	}
	after := testfs.OpenFiles(t, path)
	t.Logf("descriptors on the database file: %d before, %d after %d interrupted writes on the writer pool", before, after, rounds)
	// One more each round when the writer's old connections stay open; a pool opening
	// its connection late is at most one or two.
	if after-before >= rounds-2 {
		t.Errorf("descriptors on the database file grew from %d to %d in %d rounds", before, after, rounds)
	}
}
