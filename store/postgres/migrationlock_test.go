package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/emfa/emfa/internal/tcpproxy"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store/postgres"
)

// syncBuffer is a log sink safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMigrationLockWaitIsLogged: a replica that took the migration lock and then
// vanished behind a partition (its socket never closes, so the server keeps its session
// and the lock until TCP keepalive, two hours) must not leave every other replica's start
// waiting without a word: the wait is logged, naming the holder's pid, repeatedly, and
// ends with the caller's context, whose error Open returns.
func TestMigrationLockWaitIsLogged(t *testing.T) {
	sv := testdb.Connect(t)
	dsn := sv.SchemaDSN(t, sv.NewSchema(t)) // fresh: its migrations are pending
	pdsn, p := tcpproxy.ForDSN(t, sv.DSN)
	holder, err := pgx.Connect(t.Context(), pdsn)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	const lockID = 0x656d66616d696772 // postgres.migrationLockID
	var pid int
	if err := holder.QueryRow(t.Context(), `SELECT pg_advisory_lock($1), pg_backend_pid()`, int64(lockID)).Scan(nil, &pid); err != nil {
		t.Fatal(err)
	}
	p.Stall() // the holder is gone, its socket open
	defer p.CutAll()

	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	s, err := postgres.Open(ctx, dsn, postgres.Log(log), postgres.MigrationLockWait(200*time.Millisecond, 500*time.Millisecond))
	if err == nil {
		s.Close()
		t.Fatal("Open migrated while another held the migration lock")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Open took %v to give up, want about its context's 2s", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "migration lock") {
		t.Errorf("Open: %v, want the context's error, saying it waited for the migration lock", err)
	}
	out := logs.String()
	t.Log(out)
	if n := strings.Count(out, "waiting for the migration lock"); n < 2 {
		t.Errorf("the wait was logged %d times, want a warning after 200ms and again every 500ms:\n%s", n, out)
	}
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, fmt.Sprintf("pid=%d", pid)) {
		t.Errorf("the warning does not name the holder (pid %d):\n%s", pid, out)
	}
}
