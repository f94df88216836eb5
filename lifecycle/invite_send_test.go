package lifecycle_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// slowRelay takes a message once release is closed, and gives up, as a real SMTP client
// does, when its context ends first; or refuses it, quoting the body's last line as a
// content filter does.
type slowRelay struct {
	entered, release chan struct{}
	text             string
	quote            bool
}

func (*slowRelay) Kind() string                 { return "relay" }
func (*slowRelay) Serves(delivery.Channel) bool { return true }
func (r *slowRelay) Send(ctx context.Context, m delivery.Message) error {
	r.text = m.Text
	if r.quote {
		return errors.New("554 5.7.1 Message content rejected: " + strings.TrimSpace(m.Text))
	}
	close(r.entered)
	select {
	case <-r.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestInviteMailRunsToItsEnd: the caller hanging up while the relay took the invite (a
// script's HTTP timeout) cut the SMTP exchange short: the link was refused "not sent"
// though a relay that had the message may deliver it, a link that opens nothing. The
// send now runs to its end, and the link is stored. And a relay's refusal that quotes
// the body does not put the link's token into the audit trail.
func TestInviteMailRunsToItsEnd(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		m, clk := newManager(t, st)
		email := "alice@example.com"
		if _, err := m.CreateUser(context.Background(), "test", lifecycle.UserInput{Name: "alice", Email: &email}); err != nil {
			t.Fatal(err)
		}
		relay := &slowRelay{entered: make(chan struct{}), release: make(chan struct{})}
		ss, err := m.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp"}, LinkLifetime: time.Hour,
			SessionIdle: time.Hour, PublicURL: "https://mfa.example.com", Mailer: relay, Subject: "Set up", Text: "{{.Link}}"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, hangUp := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { _, err := ss.IssueLink(ctx, "test", "alice", true); done <- err }()
		testwait.Recv(t, "IssueLink to reach the mail relay", relay.entered)
		hangUp()
		close(relay.release)
		if err := testwait.Recv(t, "IssueLink to end once the relay answered", done); err != nil {
			t.Errorf("IssueLink when the caller hung up during the send: %v", err)
		}
		token := relay.text[strings.LastIndex(relay.text, "/")+1:]
		if _, err := ss.OpenLink(context.Background(), token); err != nil {
			t.Errorf("the mailed link opens nothing: %v", err)
		}

		relay.quote = true
		clk.Advance(time.Minute) // one link a minute
		_, err = ss.IssueLink(context.Background(), "test", "alice", true)
		var le *lifecycle.Error
		if !errors.As(err, &le) || le.Code != "link_not_sent" {
			t.Fatalf("a refused mail: %v", err)
		}
		token = relay.text[strings.LastIndex(relay.text, "/")+1:]
		page, err := m.QueryAudit(context.Background(), lifecycle.AuditQuery{User: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Events {
			if strings.Contains(ev.Reason, token) {
				t.Errorf("the audit trail holds the link's token: %q", ev.Reason)
			}
		}
	})
}
