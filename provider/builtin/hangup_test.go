package builtin_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// patientSender holds a Send until release is closed, and gives up, as a real gateway
// client does, when its context ends first.
type patientSender struct{ entered, release chan struct{} }

func (p *patientSender) Kind() string                   { return "patient" }
func (p *patientSender) Serves(c delivery.Channel) bool { return c == delivery.SMS }
func (p *patientSender) Send(ctx context.Context, _ delivery.Message) error {
	close(p.entered)
	select {
	case <-p.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestSendOutlivesVerifyHangingUp: Verify hung up (its own timeout, a broken connection)
// while the gateway was taking the code. The send was cut short and the initiate answered
// FAILED, the answer Verify's retry then got from the record, while the code may well
// have been on its way. The send now runs to its end (bounded by the request's
// deadline): the initiate is PENDING with its transaction, and the code works.
func TestSendOutlivesVerifyHangingUp(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		gw := &patientSender{entered: make(chan struct{}), release: make(chan struct{})}
		f := newEngineFixture(t, st, func(c *engineConfig) { c.senders["sms"] = gw })
		id := f.enrollSMS(t, "alice", "+15551230123")
		ctx, hangUp := context.WithCancel(context.Background())
		var out provider.Outcome
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			out, err = f.engine.Initiate(ctx, provider.Request{Capability: "smsotp", ID: id, Username: "alice",
				Attributes: map[string]any{"username": "alice"}})
		}()
		testwait.Recv(t, "the initiate to reach the SMS gateway", gw.entered)
		hangUp()
		close(gw.release)
		testwait.Recv(t, "the initiate to end once the gateway answered", done)
		if err != nil || out.Status != provider.StatusPending || out.TransactionID == "" {
			t.Fatalf("initiate when Verify hung up during the send: %+v, %v; want PENDING with a transaction", out, err)
		}
	})
}
