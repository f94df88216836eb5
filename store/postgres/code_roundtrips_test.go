package postgres_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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

// smsEngine is the built-in engine on s offering smsotp alone, on the clock *now, with no
// send limits; its texts go to the lastSMS it returns.
func smsEngine(t *testing.T, s store.Store, now *time.Time) (*builtin.Engine, *lastSMS) {
	t.Helper()
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sms := &lastSMS{}
	e, err := builtin.New(builtin.Options{Store: s, Keyring: keys, Now: func() time.Time { return *now },
		Capabilities: []string{"smsotp"},
		Config: map[string]any{"smsotp": map[string]any{"sender": "sms"},
			"sendLimits": map[string]any{"perUser": []any{}, "perDestination": []any{}}},
		Senders: func(string) (delivery.Sender, error) { return sms, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return e, sms
}

// An SMS code's validate, when nothing raced, is two round trips on PostgreSQL, as a
// TOTP validate is: one read of the factor, its user and the transaction the request
// names, and the deciding unit with its COMMIT. Before, the transaction was read apart
// from the factor (ForValidate), after the factor and user: three.
func TestCodeValidateIsTwoRoundTrips(t *testing.T) {
	t.Parallel()
	s, rt := speculating(t)
	ctx := t.Context()
	now := t0
	e, sms := smsEngine(t, s, &now)
	err := s.CreateFactor(ctx, store.Factor{ID: "f2", UserID: "u1", Type: "smsotp", State: store.FactorActive,
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

// factorWrites counts the statements a store sends that write factors' rows, and all of
// them.
type factorWrites struct {
	roundTrips
	writes atomic.Int64
}

func (f *factorWrites) TraceQueryStart(ctx context.Context, c *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	f.count(d.SQL)
	return f.roundTrips.TraceQueryStart(ctx, c, d)
}

func (f *factorWrites) TraceBatchQuery(ctx context.Context, c *pgx.Conn, d pgx.TraceBatchQueryData) {
	f.count(d.SQL)
	f.roundTrips.TraceBatchQuery(ctx, c, d)
}

func (f *factorWrites) count(q string) { f.writes.Add(int64(strings.Count(q, "UPDATE factors"))) }

// A right texted code's validate, through the Provider (audited), writes its factor's row
// once on PostgreSQL: its failures cleared and its last use, in one UPDATE, with its
// round trips and statements unchanged (TestCodeValidateIsTwoRoundTrips). Before, its
// audit row wrote the last use by an UPDATE of its own, and PostgreSQL checked
// factors.user_id's foreign key again there, a lock on the user's row taken after the
// factor's (the order a delete of the user takes the other way round: 40P01), and a
// second UPDATE the server ran on every such sign-in.
func TestCodeSignInWritesItsFactorOnce(t *testing.T) {
	t.Parallel()
	fw := &factorWrites{}
	s := withAlice(t, openTraced(t, "", 1, fw), time.UnixMilli(0))
	ctx := t.Context()
	now := t0
	e, sms := smsEngine(t, s, &now)
	p := &provider.Provider{CredentialPrefix: "emfa", Enabled: true, Capabilities: []string{"smsotp"}, Engine: e,
		Audit: s, Now: func() time.Time { return now }}
	err := s.CreateFactor(ctx, store.Factor{ID: "f2", UserID: "u1", Type: "smsotp", State: store.FactorActive,
		Params: map[string]string{"phone": "+15551230123"}, Counter: -1, CreatedAt: t0, UpdatedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // the first prepares the statements
		now = now.Add(time.Minute)
		req := provider.Request{Capability: "smsotp", ID: "f2", Username: "alice"}
		out, err := p.Initiate(ctx, req)
		if err != nil || out.Status != provider.StatusPending {
			t.Fatalf("initiate: %+v, %v", out, err)
		}
		req.TransactionID, req.Passvalue = out.TransactionID, sms.last()
		writes, trips, statements := fw.writes.Load(), fw.n.Load(), fw.statements.Load()
		if out, err = p.Validate(ctx, req); err != nil || out.Status != provider.StatusSuccess {
			t.Fatalf("validate: %+v, %v", out, err)
		}
		if i == 0 {
			continue
		}
		if got := fw.writes.Load() - writes; got != 1 {
			t.Errorf("a right code's validate wrote its factor %d times, want once", got)
		}
		if got := fw.n.Load() - trips; got != 2 {
			t.Errorf("a right code's validate took %d round trips, want 2", got)
		}
		if got := fw.statements.Load() - statements; got != 5 {
			t.Errorf("a right code's validate sent %d statements, want 5: the read, the attempt, the cleared failures with the use, the transaction's end, the audit row", got)
		}
		if used, err := s.LastUsed(ctx, []string{"f2"}); err != nil || !used["f2"].Equal(now) {
			t.Errorf("the factor's last use: %v, %v; want %v", used, err, now)
		}
	}
}
