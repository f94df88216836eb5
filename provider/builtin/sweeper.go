package builtin

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/emfa/emfa/store"
)

// Sweeper purges what challenges leave behind: transactions long expired, send records
// older than any send limit looks at, expired nonces and expired idempotency records. It deletes in bounded batches,
// so a backlog never holds a long write lock (SQLite has one writer) or a huge PostgreSQL
// transaction. Several replicas may each run one: the deletes are idempotent.
type Sweeper struct {
	Store store.Store
	// Now is the clock; default time.Now.
	Now func() time.Time
	// TransactionGrace keeps a transaction this long after its deadline, so a late
	// result poll still gets its remembered terminal status rather than "unknown";
	// default 1 hour.
	TransactionGrace time.Duration
	// SendRetention keeps send records at least this long: the longest window of any
	// send limit, or limits stop holding. Default 24 hours.
	SendRetention time.Duration
	// AuditRetention deletes audit events older than this; 0 keeps them forever.
	AuditRetention time.Duration
	// SessionIdle ends self-service sessions unused this long (the store's SelfService,
	// when it has one); default 10 minutes, selfService.sessionIdle's default.
	SessionIdle time.Duration
	// Settings, when set, gives SendRetention and SessionIdle before every sweep, for a
	// process whose configuration is reloaded (a send-limit window lengthened must hold).
	Settings func() (sendRetention, sessionIdle time.Duration)
	// Batch is the most rows one delete removes; default 500.
	Batch int
	Log   *slog.Logger // optional
	// OnSweep, when set, is told the outcome of every sweep Run makes (tests, metrics).
	OnSweep func(Swept, error)
}

// Swept counts what one Sweep deleted.
type Swept struct {
	Transactions, Sends, Nonces, Audit, Idempotency int
	// Self-service sessions ended or idle, and activation links expired or spent.
	Sessions, Links int
}

// linkSpentGrace keeps a spent or expired activation link a day, so a second click on it
// says "used already", and a late one "expired: ask for a new one", rather than "not
// valid".
const linkSpentGrace = 24 * time.Hour

func (s *Sweeper) defaults() (now func() time.Time, grace, retention time.Duration, batch int) {
	now, grace, retention, batch = s.Now, s.TransactionGrace, s.SendRetention, s.Batch
	if s.Settings != nil {
		retention, _ = s.Settings()
	}
	if now == nil {
		now = time.Now
	}
	if grace <= 0 {
		grace = time.Hour
	}
	if retention <= 0 {
		retention = 24 * time.Hour
	}
	if batch <= 0 {
		batch = 500
	}
	return
}

// Sweep makes one pass: each kind of record is deleted batch by batch until a batch
// comes back short. An error stops that kind (the others are still swept) and is
// returned with what was deleted.
func (s *Sweeper) Sweep(ctx context.Context) (Swept, error) {
	nowFn, grace, retention, batch := s.defaults()
	now := nowFn()
	var out Swept
	var errs []error
	drain := func(n *int, del func(context.Context, time.Time, int) (int, error), before time.Time) {
		for ctx.Err() == nil {
			k, err := del(ctx, before, batch)
			*n += k
			if err != nil {
				errs = append(errs, err)
				return
			}
			if k < batch {
				return
			}
		}
		errs = append(errs, ctx.Err())
	}
	drain(&out.Transactions, s.Store.DeleteExpiredTransactions, now.Add(-grace))
	drain(&out.Sends, s.Store.DeleteSendsBefore, now.Add(-retention))
	drain(&out.Nonces, s.Store.DeleteExpiredNonces, now)
	drain(&out.Idempotency, s.Store.DeleteExpiredIdempotency, now)
	if s.AuditRetention > 0 {
		drain(&out.Audit, s.Store.DeleteAuditBefore, now.Add(-s.AuditRetention))
	}
	// Sessions and links are few (one link per user, sessions of the last minutes): one
	// delete each, no batches.
	if ss, ok := s.Store.(store.SelfService); ok && ctx.Err() == nil {
		idle := s.SessionIdle
		if s.Settings != nil {
			_, idle = s.Settings()
		}
		if idle <= 0 {
			idle = 10 * time.Minute
		}
		var err error
		if out.Sessions, err = ss.DeleteExpiredSessions(ctx, now.Add(-idle), now); err != nil {
			errs = append(errs, err)
		}
		if out.Links, err = ss.DeleteExpiredLinks(ctx, now.Add(-linkSpentGrace), now.Add(-linkSpentGrace)); err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// Run sweeps once at once and then at every tick, until ctx ends. Ticks come from the
// caller (a time.Ticker's channel in production, a test's own channel otherwise).
func (s *Sweeper) Run(ctx context.Context, ticks <-chan time.Time) {
	for {
		swept, err := s.Sweep(ctx)
		if s.Log != nil {
			switch {
			case err != nil && ctx.Err() == nil:
				s.Log.Warn("sweep", "transactions", swept.Transactions, "sends", swept.Sends, "nonces", swept.Nonces, "idempotency", swept.Idempotency,
					"audit", swept.Audit, "sessions", swept.Sessions, "links", swept.Links, "err", err)
			case swept != Swept{}:
				s.Log.Info("sweep", "transactions", swept.Transactions, "sends", swept.Sends, "nonces", swept.Nonces, "idempotency", swept.Idempotency,
					"audit", swept.Audit, "sessions", swept.Sessions, "links", swept.Links)
			}
		}
		if s.OnSweep != nil {
			s.OnSweep(swept, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
	}
}
