package lifecycle_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// heldMailer holds its first Send until released, and counts every Send; fail makes the
// first one fail once released.
type heldMailer struct {
	mu       sync.Mutex
	n        int
	fail     bool
	entered  chan struct{}
	released chan struct{}
}

func newHeldMailer() *heldMailer {
	return &heldMailer{entered: make(chan struct{}), released: make(chan struct{})}
}

func (h *heldMailer) Send(ctx context.Context, m delivery.Message) error {
	h.mu.Lock()
	h.n++
	first := h.n == 1
	h.mu.Unlock()
	if !first {
		return nil
	}
	close(h.entered)
	<-h.released
	if h.fail {
		return errors.New("smtp: 451 try again later")
	}
	return nil
}

func (h *heldMailer) sent() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

func (*heldMailer) Kind() string                   { return "smtp" }
func (*heldMailer) Serves(c delivery.Channel) bool { return c == delivery.Email }

func mailedSelfService(t *testing.T, m *lifecycle.Manager, mailer delivery.Sender) *lifecycle.SelfService {
	t.Helper()
	ss, err := m.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp"}, LinkLifetime: time.Hour,
		SessionIdle: time.Hour, PublicURL: "https://mfa.example.com", Mailer: mailer})
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// One link per user per minute holds for links asked for at once: a second request made
// while the first one's mail is being sent is refused, not mailed too (each mail would
// have replaced the other's link, and a script could flood a mailbox by asking in
// parallel). A link that could not be sent leaves the minute free; a reset, which revokes
// the link, frees it too.
func TestOneLinkAMinuteWhileOneIsSent(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		email := "alice@example.com"
		if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "alice", Email: &email}); err != nil {
			t.Fatal(err)
		}
		mailer := newHeldMailer()
		ss := mailedSelfService(t, m, mailer)

		first := make(chan error, 1)
		go func() {
			_, err := ss.IssueLink(ctx, "test", "alice", true)
			first <- err
		}()
		testwait.Recv(t, "the first IssueLink to reach the mailer", mailer.entered)
		_, err := ss.IssueLink(ctx, "test", "alice", true)
		var le *lifecycle.Error
		if !errors.As(err, &le) || le.Code != "too_many_links" || le.RetryAfter <= 0 || le.RetryAfter > time.Minute {
			t.Errorf("a second link while the first is sent: %v, want too_many_links with the time left", err)
		}
		if _, err := ss.IssueLink(ctx, "test", "alice", false); !errors.As(err, &le) || le.Code != "too_many_links" {
			t.Errorf("a link returned to the caller while one is sent: %v, want too_many_links", err)
		}
		close(mailer.released)
		if err := testwait.Recv(t, "the first IssueLink to end once the mailer answered", first); err != nil {
			t.Fatalf("the first link: %v", err)
		}
		if n := mailer.sent(); n != 1 {
			t.Errorf("mails sent: %d, want 1", n)
		}

		// A reset revokes the link, and with it the minute's limit.
		if _, err := m.ResetUser(ctx, "test", "alice", lifecycle.ResetDelete); err != nil {
			t.Fatal(err)
		}
		if _, err := ss.IssueLink(ctx, "test", "alice", false); err != nil {
			t.Fatalf("a link after a reset: %v, want one", err)
		}
		clk.Advance(time.Minute)

		// A send that fails leaves the minute free for the next try.
		failing := newHeldMailer()
		failing.fail = true
		close(failing.released)
		ss = mailedSelfService(t, m, failing)
		if _, err := ss.IssueLink(ctx, "test", "alice", true); !errors.As(err, &le) || le.Code != "link_not_sent" {
			t.Fatalf("a link whose mail fails: %v, want link_not_sent", err)
		}
		if _, err := ss.IssueLink(ctx, "test", "alice", true); err != nil {
			t.Fatalf("the next try after a failed send: %v, want it sent", err)
		}
	})
}
