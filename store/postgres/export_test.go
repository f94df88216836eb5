package postgres

import (
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Traced has the store's connections report their statements and batches to t.
func Traced(t pgx.QueryTracer) Option { return func(o *options) { o.tracer = t } }

// MigrationLockWait sets when a wait for the migration lock is first logged and how often
// after (migrationLockWarnAfter, migrationLockWarnEvery).
func MigrationLockWait(first, every time.Duration) Option {
	return func(o *options) { o.lockWarnAfter, o.lockWarnEvery = first, every }
}

// Dialed has the store's connections dialed by dial.
func Dialed(dial pgconn.DialFunc) Option { return func(o *options) { o.dial = dial } }

// FoldedOf is the dialect's expression of a folded profile column (user_profiles_*_folded).
func FoldedOf(col string) string { return dialect{}.FoldedOf(col) }

// Clock has Open compare the database's clock with now rather than time.Now.
func Clock(now func() time.Time) Option { return func(o *options) { o.now = now } }
