package lifecycle_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// latin1Relay is a mail relay that refuses every message with a reply in Latin-1, as
// some relays answer in their locale.
type latin1Relay struct{}

func (latin1Relay) Kind() string                 { return "smtp" }
func (latin1Relay) Serves(delivery.Channel) bool { return true }
func (latin1Relay) Send(context.Context, delivery.Message) error {
	return errors.New("smtp: send to a***@example.com: 552 5.2.2 bo\xeete aux lettres pleine")
}

// TestAuditReasonIsText: an administrative action's record is written whatever
// text its reason quotes from outside (a mail relay's reply): a byte that is not UTF-8
// is written escaped, as the contract calls' records write it. Before, PostgreSQL
// refused the row, and the record of the link that was not sent was lost.
func TestAuditReasonIsText(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "alice", Email: ptr("alice@example.com")}); err != nil {
			t.Fatal(err)
		}
		ss, err := m.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp"}, LinkLifetime: time.Hour,
			SessionIdle: time.Hour, PublicURL: "https://mfa.example.com", Mailer: latin1Relay{}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ss.IssueLink(ctx, "test", "alice", true); err == nil {
			t.Fatal("a link the relay refused was issued")
		}
		page := auditOf(t, m, lifecycle.AdminResource(lifecycle.ActionSelfServiceLink))
		if len(page.Events) != 1 || page.Events[0].Outcome != "FAILED" || !utf8.ValidString(page.Events[0].Reason) ||
			!strings.Contains(page.Events[0].Reason, "aux lettres pleine") {
			t.Errorf("records %+v, want the one of the link not sent, its reason UTF-8", page.Events)
		}
	})
}

func ptr(s string) *string { return &s }
