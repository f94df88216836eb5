package postgres_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// lastSMS keeps the last code an engine sent.
type lastSMS struct {
	mu   sync.Mutex
	code string
}

func (s *lastSMS) Send(_ context.Context, m delivery.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.code = m.Code
	return nil
}
func (*lastSMS) Kind() string                   { return "test" }
func (*lastSMS) Serves(c delivery.Channel) bool { return c == delivery.SMS }
func (s *lastSMS) last() string                 { s.mu.Lock(); defer s.mu.Unlock(); return s.code }

// An SMS code's validate, when nothing raced, is two round trips on PostgreSQL, as a
// TOTP validate is: one read of the factor, its user and the transaction the request
// names, and the deciding unit with its COMMIT. Before, the transaction was read apart
// from the factor (ForValidate), after the factor and user: three.
func TestCodeValidateIsTwoRoundTrips(t *testing.T) {
	t.Parallel()
	s, rt := speculating(t)
	ctx := t.Context()
	now := t0
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sms := &lastSMS{}
	e, err := builtin.New(builtin.Options{Store: s, Keyring: keys, Now: func() time.Time { return now },
		Capabilities: []string{"smsotp"},
		Config: map[string]any{"smsotp": map[string]any{"sender": "sms"},
			"sendLimits": map[string]any{"perUser": []any{}, "perDestination": []any{}}},
		Senders: func(string) (delivery.Sender, error) { return sms, nil }})
	if err != nil {
		t.Fatal(err)
	}
	err = s.CreateFactor(ctx, store.Factor{ID: "f2", UserID: "u1", Type: "smsotp", State: store.FactorActive,
		Params: map[string]string{"phone": "+15551230123"}, Counter: -1, CreatedAt: t0, UpdatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	validate := func(wantRoundTrips int64) {
		t.Helper()
		req := provider.Request{Capability: "smsotp", ID: "f2", Username: "alice"}
		out, err := e.Initiate(ctx, req)
		if err != nil || out.Status != provider.StatusPending {
			t.Fatalf("initiate: %+v, %v", out, err)
		}
		req.TransactionID, req.Passvalue = out.TransactionID, sms.last()
		before := rt.n.Load()
		out, err = e.Validate(ctx, req)
		if err != nil || out.Status != provider.StatusSuccess {
			t.Fatalf("validate: %+v, %v", out, err)
		}
		if got := rt.n.Load() - before; wantRoundTrips > 0 && got != wantRoundTrips {
			t.Errorf("a right code's validate took %d round trips, want %d", got, wantRoundTrips)
		}
	}
	validate(0) // prepares the statements
	validate(2)
}
