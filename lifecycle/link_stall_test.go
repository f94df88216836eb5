package lifecycle_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/tcpproxy"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store/postgres"
)

// stallingMailer partitions the database away as it fails to send.
type stallingMailer struct{ p *tcpproxy.Proxy }

func (m stallingMailer) Send(context.Context, delivery.Message) error {
	m.p.Stall()
	return errors.New("smtp: 451 try again later")
}
func (stallingMailer) Kind() string                   { return "smtp" }
func (stallingMailer) Serves(c delivery.Channel) bool { return c == delivery.Email }

// TestIssueLinkStalledStoreBounded: a link whose mail failed gives its minute back
// on a detached context; with the database partitioned away at that moment, the admin
// call must still end near its deadline, not wait on the store for good.
func TestIssueLinkStalledStoreBounded(t *testing.T) {
	sv := testdb.Connect(t)
	dsn := sv.SchemaDSN(t, sv.NewSchema(t))
	pdsn, p := tcpproxy.ForDSN(t, dsn)
	st, err := postgres.Open(t.Context(), pdsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m, _ := newManager(t, st)
	email := "alice@example.com"
	if _, err := m.CreateUser(t.Context(), "test", lifecycle.UserInput{Name: "alice", Email: &email}); err != nil {
		t.Fatal(err)
	}
	ss := mailedSelfService(t, m, stallingMailer{p})
	// Open a few connections, idle in the pool when the partition comes.
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = st.GetUserRecord(t.Context(), "alice")
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := ss.IssueLink(ctx, lifecycle.Actor("test"), "alice", true)
		done <- err
	}()
	select {
	case err := <-done:
		if d := time.Since(start); d > 6*time.Second { // its deadline, WriteGrace and some
			t.Errorf("IssueLink took %v (%v) with a 1s deadline", d, err)
		}
	case <-time.After(15 * time.Second):
		p.Resume()
		err := <-done
		t.Fatalf("IssueLink with a 1s deadline still waited on the stalled store after 15s (then: %v)", err)
	}
}
