package postgres_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/store/postgres"
)

// stuckServer accepts connections and never answers, as a database behind a partition or
// a failover that hangs does; it returns its address.
func stuckServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never read nor written
			mu.Unlock()
		}
	}()
	return ln.Addr().String()
}

// TestOpenStuckDatabase: a database that accepts connections and never answers fails
// Open, by the default connect timeout when the DSN sets none, with an error that says
// what it waited for; emfa serve does not hang at start without a word.
func TestOpenStuckDatabase(t *testing.T) {
	t.Parallel()
	addr := stuckServer(t)
	// Far beyond the default connect timeout: only a test that would hang ends by it.
	ctx, cancel := context.WithTimeout(t.Context(), 6*postgres.DefaultConnectTimeout)
	defer cancel()
	start := time.Now()
	_, err := postgres.Open(ctx, "postgres://emfa:secret-pw@"+addr+"/emfa?sslmode=disable")
	if ctx.Err() != nil {
		t.Fatalf("Open waited until its caller gave up (%v): %v", time.Since(start), err)
	}
	if err == nil || !strings.Contains(err.Error(), "did not answer") || !strings.Contains(err.Error(), "connect_timeout") ||
		strings.Contains(err.Error(), "secret-pw") {
		t.Errorf("Open: %v, want it to say the database did not answer within connect_timeout, without the password", err)
	}
}
