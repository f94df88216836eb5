package adapter

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// heldLinks is a store whose GetLink tells arrived of each lookup, then waits for
// release: links opened at once are all being looked up at the same moment.
type heldLinks struct {
	store.Store
	store.SelfService
	arrived chan<- struct{}
	release <-chan struct{}
}

func (s heldLinks) SpendLink(ctx context.Context, hash string, now time.Time) error {
	return s.SelfService.SpendLink(ctx, hash, now)
}

func (s heldLinks) GetLink(ctx context.Context, hash string) (store.SelfServiceLink, error) {
	s.arrived <- struct{}{}
	<-s.release
	return s.SelfService.GetLink(ctx, hash)
}

// TestUnknownLinksAtOnceKeepTheBudgets: links that do not exist opened from one
// address all at once (a script's parallel guesses) pass no more than the address's
// budget of the page, as sign-in steps sent at once do, and are recorded no more than
// its first few: the rest are answered 429 and logged, lest a flood fill the audit
// trail. Each used to pass the checks before any had failed.
func TestUnknownLinksAtOnceKeepTheBudgets(t *testing.T) {
	const n = 3 * throttleBurst
	st := testdb.SQLite(t)
	arrived, release := make(chan struct{}, n), make(chan struct{})
	h := newAdminHarnessOn(t, heldLinks{Store: st, SelfService: st.(store.SelfService), arrived: arrived, release: release})
	ss, err := h.manager.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp"}, LinkLifetime: time.Hour,
		SessionIdle: 10 * time.Minute, PublicURL: "https://mfa.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	h.harness = newHarness(t, func(o *Options) { o.Admin = h.manager; o.SelfService = ss; o.MaxBodyBytes = 64 << 10 })
	answers := make(chan int, n)
	for i := range n {
		go func() {
			p := &pageClient{t: t, h: h, addr: "198.51.100.7"}
			answers <- p.get(fmt.Sprintf("/self-service/link/%s%03d", strings.Repeat("x", 40), i)).status
		}()
	}
	// Each guess either reaches the store's lookup or is answered without it; once all
	// have done one or the other, the lookups go on.
	var statuses []int
	for range n {
		select {
		case <-arrived:
		case s := <-answers:
			statuses = append(statuses, s)
		}
	}
	close(release)
	for len(statuses) < n {
		statuses = append(statuses, <-answers)
	}
	var notFound, throttled int
	for _, s := range statuses {
		switch s {
		case http.StatusNotFound:
			notFound++
		case http.StatusTooManyRequests:
			throttled++
		default:
			t.Errorf("a guess answered %d", s)
		}
	}
	if notFound > throttleBurst {
		t.Errorf("%d guesses at once: %d looked up and answered 404, %d throttled; want at most %d looked up", n, notFound, throttled, throttleBurst)
	}
	evs, err := st.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	recorded := 0
	for _, ev := range evs {
		if ev.Resource == "admin.selfservice.open" && ev.Outcome == "FAILED" {
			recorded++
		}
	}
	if recorded > linkAuditBurst {
		t.Errorf("%d guesses at once: %d recorded in the audit trail, want at most %d", n, recorded, linkAuditBurst)
	}
}
