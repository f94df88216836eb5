// Package store is emfa's persistence port: one Store interface, the records it keeps, and
// the sentinel errors callers branch on. Backends live in sub-packages (store/sqlite, the
// default, and store/postgres); every backend passes the same conformance suite in
// store/storetest.
//
// Times are passed in by the caller (engines own the clock, so tests use fake clocks) and
// kept with millisecond precision. Secrets arrive already sealed: the store never sees a
// seed, code or answer in clear.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap them with context; test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrReplay: AdvanceCounter found the counter already at or beyond the value offered.
	ErrReplay = errors.New("counter not advanced (replay)")
	// ErrConflict: a compare-and-set on a transaction found it no longer pending.
	ErrConflict = errors.New("transaction no longer pending")
)

// User is a person Verify asks about, keyed by the value Verify sends as username.
type User struct {
	ID        string
	Name      string
	Disabled  bool
	CreatedAt time.Time
}

// FactorState is the lifecycle state of a factor.
type FactorState string

const (
	FactorActive   FactorState = "active"
	FactorDisabled FactorState = "disabled"
)

// Factor is one authenticator of a user: a TOTP seed, a phone, a device...
type Factor struct {
	ID       string
	UserID   string
	Type     string // the capability it serves: totp, hotp, smsotp, ...
	Label    string // shown to the user as deviceName
	State    FactorState
	Secret   []byte            // sealed by the engine (AES-GCM); opaque here
	KeyID    string            // which encryption key sealed Secret
	Params   map[string]string // type-specific, non-secret: algorithm, digits, period, phone...
	Counter  int64             // last accepted TOTP step / HOTP counter; -1 when none yet
	Failures int               // consecutive failed verifications
	// LockedUntil is the end of a lockout; the zero time means not locked.
	LockedUntil time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Transaction is a challenge in flight (an SMS code sent, a push waiting, a vendor txid).
type Transaction struct {
	ID         string
	Provider   string // credentialPrefix of the provider that started it
	Username   string
	Capability string
	FactorID   string
	Status     string // PENDING until a terminal status is set
	Secret     []byte // e.g. the keyed hash of a code; opaque here
	Attempts   int
	Data       []byte // engine-specific JSON (vendor txid, question index...)
	ExpiresAt  time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// AuditEvent records one decision. It never holds a code, answer or secret.
type AuditEvent struct {
	Time       time.Time
	RequestID  string
	Provider   string
	Username   string
	Capability string
	FactorID   string
	Resource   string // enrollments, initiate, validate, result, or an admin action
	Outcome    string // SUCCESS, FAILED, ...
	Reason     string
}

// AuditFilter selects audit events, newest first.
type AuditFilter struct {
	Username string // empty: all users
	Limit    int    // <= 0: a backend default (100)
}

// Store is the persistence every engine and command uses.
type Store interface {
	// Users. Names are unique; deleting a user deletes its factors.
	CreateUser(ctx context.Context, u User) error // ErrExists
	GetUser(ctx context.Context, name string) (User, error)
	ListUsers(ctx context.Context) ([]User, error) // ordered by name
	SetUserDisabled(ctx context.Context, name string, disabled bool) error
	DeleteUser(ctx context.Context, name string) error

	// Factors.
	CreateFactor(ctx context.Context, f Factor) error // ErrExists on duplicate id; ErrNotFound for a missing user
	GetFactor(ctx context.Context, id string) (Factor, error)
	ListFactors(ctx context.Context, userID string) ([]Factor, error) // ordered by creation time, then id
	SetFactorState(ctx context.Context, id string, s FactorState, now time.Time) error
	DeleteFactor(ctx context.Context, id string) error
	// AdvanceCounter sets the factor's counter to next if and only if the stored counter
	// is lower, and clears its failures and lockout, in one atomic step; otherwise
	// ErrReplay. Exactly one of many concurrent calls with the same next succeeds.
	AdvanceCounter(ctx context.Context, id string, next int64, now time.Time) error
	// RecordFailure counts a failed verification atomically. An expired lockout
	// (LockedUntil <= now) is cleared first, restarting the count. When the count reaches
	// max (max > 0), LockedUntil becomes now+lockFor. It returns the updated factor.
	RecordFailure(ctx context.Context, id string, now time.Time, max int, lockFor time.Duration) (Factor, error)
	// ResetFailures clears the failure count and any lockout (an admin unlock).
	ResetFailures(ctx context.Context, id string, now time.Time) error
	// UpdateFactorSecret replaces the sealed secret and key id (key rotation, re-seeding).
	UpdateFactorSecret(ctx context.Context, id string, secret []byte, keyID string, now time.Time) error

	// Transactions.
	CreateTransaction(ctx context.Context, t Transaction) error // ErrExists
	GetTransaction(ctx context.Context, id string) (Transaction, error)
	// CompleteTransaction moves a PENDING transaction to status atomically; ErrConflict
	// when it is no longer PENDING (so exactly one of concurrent completions wins).
	CompleteTransaction(ctx context.Context, id, status string, now time.Time) error
	// AddAttempt counts one attempt on a PENDING transaction and returns the new count;
	// ErrConflict when it is no longer PENDING.
	AddAttempt(ctx context.Context, id string, now time.Time) (int, error)
	// CancelPending sets every PENDING transaction of the factor except keepID to status
	// (CANCELED when a newer challenge replaces it) and returns how many it changed.
	CancelPending(ctx context.Context, factorID, keepID, status string, now time.Time) (int, error)
	// DeleteExpiredTransactions deletes at most limit transactions that expired before
	// before, and returns how many it deleted (call again until it returns < limit).
	DeleteExpiredTransactions(ctx context.Context, before time.Time, limit int) (int, error)

	// Audit.
	AppendAudit(ctx context.Context, e AuditEvent) error
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)

	// Ping reports whether the backend is reachable (readiness).
	Ping(ctx context.Context) error
	Close() error
}
