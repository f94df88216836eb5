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
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. Backends wrap them with context; test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
	// ErrReplay: AdvanceCounter found the counter already at or beyond the value offered,
	// or UseNonce found the nonce already used and not yet expired.
	ErrReplay = errors.New("replay")
	// ErrLocked: AdvanceCounter found the factor locked out.
	ErrLocked = errors.New("locked")
	// ErrConflict: a compare-and-set found its record no longer pending (a transaction
	// completed, a factor already activated).
	ErrConflict = errors.New("no longer pending")
	// ErrStale: a change conditional on a revision (UserChange.IfRevision) found another
	// change made since.
	ErrStale = errors.New("changed since it was read")
	// ErrRateLimited: ReserveSend found a limit reached (a *RateLimitError says until when).
	ErrRateLimited = errors.New("rate limited")
	// ErrTooMany: CreateFactorWithin found the user with its most factors already.
	ErrTooMany = errors.New("too many")
	// ErrAlike: CreateFactorWithin found the user with a factor alike (Alike).
	ErrAlike = errors.New("the user has a factor alike")
	// ErrInactive: CompleteTransactionIfActive found the factor no longer active (deleted,
	// disabled) or its user disabled or deleted; AdvanceCounter or ClearFailuresUnlocked
	// found the factor or its user disabled.
	ErrInactive = errors.New("factor or user no longer active")
)

// RateLimitError is ReserveSend's ErrRateLimited, with when the same reservation would
// first be allowed: when enough of the sends that fill the limits reached have left their
// windows. RetryAt is zero when it never would be (a limit of Max 0).
type RateLimitError struct {
	Key     string
	Limit   SendLimit
	RetryAt time.Time
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("key %s: %d sends within %v: %v", e.Key, e.Limit.Max, e.Limit.Window, ErrRateLimited)
}

func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// WritesFailing is Ping's error while the store's writes fail for a storage reason (a
// full disk, an I/O error, a read-only database): the database answers, but no decision
// that must write can be made, so a replica should not be sent traffic (/readyz). Since
// is when the first of them failed; Err is the last failure.
type WritesFailing struct {
	Since time.Time
	Err   error
}

func (e *WritesFailing) Error() string {
	return fmt.Sprintf("writes have failed since %s: %v", e.Since.UTC().Format(time.RFC3339), e.Err)
}

func (e *WritesFailing) Unwrap() error { return e.Err }

// User is a person Verify asks about, keyed by the value Verify sends as username.
type User struct {
	ID        string
	Name      string // as it was created; matched by FoldName
	Disabled  bool
	CreatedAt time.Time
}

// FoldName is the key a user's name is matched by: ASCII letters in lower case, every
// other byte as it is. SCIM's userName is case-insensitive (RFC 7643 §4.1.1), and Verify
// and the directories treat "Dana@Example.com" and "dana@example.com" as one person, so
// the store does too: one of them exists, and either finds it. Only ASCII folds, so that
// Unicode look-alikes (the Kelvin sign and K) stay apart. It is what both schemas' unique
// index, lower(name), computes: SQLite's built-in lower and PostgreSQL's under COLLATE "C"
// fold ASCII only.
func FoldName(name string) string {
	i := strings.IndexFunc(name, func(r rune) bool { return 'A' <= r && r <= 'Z' })
	if i < 0 {
		return name
	}
	b := []byte(name)
	for ; i < len(b); i++ {
		if 'A' <= b[i] && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}

// FoldText is text as the indexes on users' e-mail addresses and display names key it:
// ASCII letters in lower case, the Kelvin sign as "k" and the long s as "s" (the two
// other letters whose case folds to ASCII), every other byte as it is. Two texts equal
// regardless of case (strings.EqualFold) fold to the same text when they are ASCII but
// for those two; of others, the caller folds each case variant (SCIM's filters).
func FoldText(s string) string { return FoldName(foldToASCII.Replace(s)) }

var foldToASCII = strings.NewReplacer("\u212a", "k", "\u017f", "s")

// SameName reports whether a and b name the same user (FoldName).
func SameName(a, b string) bool { return len(a) == len(b) && FoldName(a) == FoldName(b) }

// FactorState is the lifecycle state of a factor. Only an active factor is offered or
// verified; the store itself accepts any state and moves a factor out of FactorPending
// only through ActivateFactor.
type FactorState string

const (
	FactorActive   FactorState = "active"
	FactorDisabled FactorState = "disabled"
	// FactorPending: created but not yet usable (a push device waiting for its
	// registration); ActivateFactor makes it active, once.
	FactorPending FactorState = "pending"
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
	// WebhookID is Verify's X-Webhook-ID of the call that decided, when it sent one.
	WebhookID string
	// Actor is who made an admin change (an admin API token's name, or "cli"); empty for
	// Verify's calls.
	Actor string
}

// IdempotencyKey names one contract request as Verify may send it again: the provider
// (credentialPrefix), Verify's X-Webhook-ID and a fingerprint of the request (resource and
// a hash of its canonical body). A same ID with another fingerprint is another request.
type IdempotencyKey struct {
	Provider    string
	WebhookID   string
	Fingerprint string
}

// IdempotencyRecord is the first execution of a request: running (Done false) under the
// claim of Owner until LeaseUntil, then its answer (Status and Body) until ExpiresAt.
type IdempotencyRecord struct {
	Key        IdempotencyKey
	Owner      string
	Done       bool
	Status     int
	Body       []byte
	LeaseUntil time.Time
	ExpiresAt  time.Time
	CreatedAt  time.Time
}

// IdempotencyClaim is what ClaimIdempotency found.
type IdempotencyClaim struct {
	// Claimed: the caller now holds the record (new, expired and replaced, or abandoned by
	// an owner whose lease passed) and must execute the request, then Complete or Release.
	// Otherwise Record is the other execution: done (its answer) or still running.
	Claimed bool
	Record  IdempotencyRecord
	// OtherFingerprint: on a claim, the same provider and ID are recorded with another
	// fingerprint (the same X-Webhook-ID sent with a different request).
	OtherFingerprint bool
}

// SendLimit allows at most Max sends per Window (see Store.ReserveSend).
type SendLimit struct {
	Window time.Duration // > 0
	Max    int           // >= 0; 0 allows none
}

// AuditFilter selects audit events, newest first.
type AuditFilter struct {
	Username string // empty: all users; matched by FoldName, each event keeps it as given
	Limit    int    // <= 0: a backend default (100)
}

// Alike says which of a user's factors are the same as a new one, for
// CreateFactorWithin: with Type, those of its type, and with Param too, only those whose
// Params[Param] is the new one's, ASCII letter case aside. The zero Alike finds none.
type Alike struct {
	Type  bool
	Param string
}

// Writer is what one unit of writes may do (see Store.Update): the writes a decision
// makes, and the reads that explain their results. Each method behaves as the Store
// method of the same name, except that nothing it does is committed before the unit is.
// A Store is a Writer whose every call is a unit of its own.
type Writer interface {
	// CreateFactor stores a new factor: ErrExists on a duplicate id, after which a unit
	// goes on; ErrNotFound for a missing user. In a unit, an enrollment's other writes and
	// its audit record go with it.
	CreateFactor(ctx context.Context, f Factor) error
	// CreateFactorWithin is CreateFactor on the condition that the user has fewer than
	// most factors, and none alike f (Alike): ErrTooMany, or ErrAlike, and nothing
	// created, when it has. Of two side by side (PostgreSQL, several replicas) for one
	// user, the later sees the earlier's factor: a list read before the unit would let
	// both in.
	CreateFactorWithin(ctx context.Context, f Factor, most int, alike Alike) error
	CreateTransaction(ctx context.Context, t Transaction) error
	GetTransaction(ctx context.Context, id string) (Transaction, error)
	CompleteTransaction(ctx context.Context, id, status string, now time.Time) error
	// CompleteTransactionIfActive is CompleteTransaction on the condition, tested in the
	// same statement, that factor factorID is FactorActive and its user not disabled (nor
	// either deleted): ErrInactive, and nothing changed, when not. A device's approval
	// then cannot commit after its factor's delete or disable, or its user's disable,
	// committed: a read before the unit leaves that window open.
	CompleteTransactionIfActive(ctx context.Context, id, status, factorID string, now time.Time) error
	AddAttempt(ctx context.Context, id string, now time.Time) (int, error)
	// AddAttemptAfter is AddAttempt for a caller that read the transaction with read
	// attempts counted. A unit that speculates (PostgreSQL's) assumes none was counted
	// since and goes on with read+1 without waiting for the count; when one was (a
	// concurrent attempt), nothing of the unit commits and it runs again, and
	// AddAttemptAfter returns the count as AddAttempt does.
	AddAttemptAfter(ctx context.Context, id string, read int, now time.Time) (int, error)
	CancelPending(ctx context.Context, factorID, keepID, status string, now time.Time) (int, error)
	// CancelOlder sets to status every PENDING transaction of the factor created in the
	// store before keepID (in the order the store took them, whatever their CreatedAt: a
	// replica's clock may be behind another's) that has not expired (ExpiresAt > now: an
	// expired one is answered TIMEOUT, and swept), and returns how many it changed: for a
	// challenge that withdraws the others in a later unit than the one that started it
	// (a code, once sent), when a newer challenge may have started and withdrawn it
	// meanwhile. CancelPending there would withdraw the newer one too.
	CancelOlder(ctx context.Context, factorID, keepID, status string, now time.Time) (int, error)
	// LockFactor holds the factor's challenges until the unit commits: a unit that starts
	// a challenge and withdraws the factor's others (CancelPending) takes it first, so
	// that where units run side by side (PostgreSQL, several replicas) two such units of
	// one factor run one after the other and the later one sees, and withdraws, the
	// earlier one's challenge. Nothing to do where units run one at a time (SQLite's one
	// writer), nor outside a unit.
	LockFactor(ctx context.Context, id string) error
	// LockUser holds user id's row as a second write of one of its factors in the unit
	// would (PostgreSQL checks factors.user_id's foreign key again there, FOR KEY SHARE),
	// taken first: a unit that writes a factor twice (an activation: the code's check,
	// then the activation) takes it before its factor, in the order a change of users
	// takes them (the user, then its factors). Taken by the second write, after the
	// factor's row, it waited for a delete of the user that held the user's row and
	// waited for the factor's (ON DELETE CASCADE): 40P01. Nothing to do where units run
	// one at a time (SQLite's one writer), nor outside a unit.
	LockUser(ctx context.Context, id string) error
	AdvanceCounter(ctx context.Context, id string, next int64, now time.Time) error
	RecordFailure(ctx context.Context, id string, now time.Time, max int, lockFor time.Duration) (Factor, error)
	ResetFailures(ctx context.Context, id string, now time.Time) error
	// ClearFailuresUnlocked clears the factor's failures and a lockout past, for a
	// success, if and only if no lockout holds (LockedUntil zero or <= now), in one
	// statement; ErrLocked when one does (concurrent failures locked it since it was
	// read). It is AdvanceCounter's check for the factors that keep no counter (a code's
	// challenge, a question): a burst gets no more guesses than the lockout allows. As
	// AdvanceCounter, it changes nothing, ErrInactive, when the factor or its user is
	// disabled.
	ClearFailuresUnlocked(ctx context.Context, id string, now time.Time) error
	ActivateFactor(ctx context.Context, id string, params map[string]string, now time.Time) error
	// ExpireFactor deletes factor id if it is still FactorPending and was created before
	// createdBefore: ErrNotFound otherwise (gone, or activated since it was listed).
	ExpireFactor(ctx context.Context, id string, createdBefore time.Time) error
	UpdateFactorParams(ctx context.Context, id string, label *string, params map[string]string, now time.Time) error
	ReserveSend(ctx context.Context, keys []string, limits []SendLimit, now time.Time) error
	// DeleteSends forgets every send recorded under key, however recent, and returns how
	// many it deleted: a limit counted under it starts again from none (an admin's unlock
	// lifts the self-service page's sign-in limit of the user's name).
	DeleteSends(ctx context.Context, key string) (int, error)
	UseNonce(ctx context.Context, scope, nonce string, expires, now time.Time) error
	// SpendLink marks an unspent self-service link spent (SelfService's, in the unit): the
	// first code of the factor it enrolls, that factor's activation and the link spent
	// are then one commit.
	SpendLink(ctx context.Context, hash string, now time.Time) error
	AppendAudit(ctx context.Context, e AuditEvent) error
	// CompleteIdempotency records owner's answer to key (as Store's does) in the unit:
	// the decision and the record of the answer it makes are then one commit.
	CompleteIdempotency(ctx context.Context, key IdempotencyKey, owner string, status int, body []byte, now time.Time) error
	// ClaimIdempotency claims key for owner (as Store's does) in the unit, and
	// RecordIdempotency claims it with its answer, done: a call whose only writes are its
	// deciding unit claims, decides and records in one commit.
	RecordIdempotency(ctx context.Context, key IdempotencyKey, owner string, status int, body []byte, leaseUntil, expiresAt, now time.Time) (IdempotencyClaim, error)
	ClaimIdempotency(ctx context.Context, key IdempotencyKey, owner string, leaseUntil, expiresAt, now time.Time) (IdempotencyClaim, error)
}

// Store is the persistence every engine and command uses.
type Store interface {
	// Directory: users as an organisation manages them (admin.go).
	Directory
	Writer

	// Update runs fn as one unit: every write fn makes through w is committed in one
	// commit, or, when fn returns an error, none is. A decision's state change and its
	// audit row are such a unit, so there is never one without the other, and they cost
	// one durable commit instead of two. Update returns only once the unit is durable (or
	// failed), with fn's error when fn failed.
	//
	// fn may run on the store's one writer, inside a commit shared with other units (as
	// SQLite's does), so it must compute and call w, nothing else: no network I/O, no
	// waiting, no call to the Store itself (which would wait for the writer fn holds).
	//
	// fn is called once, or more: a store may run it speculatively first (PostgreSQL's
	// sends a unit's statements with its COMMIT in one round trip, assuming that a
	// compare-and-set changes its row and that a claim claims; SQLite's group writer
	// holds a compare-and-set to the unit's next statement). When an assumption does not
	// hold, nothing of that run commits, whatever fn made of what it was told, and fn
	// runs again, told the truth; a commit shared with other units may run it again with
	// them when one of them fails (SQLite's: three runs, a speculative one, its careful
	// one, and the batch's). So fn must leave nothing of a run behind but what the next
	// run overwrites, and act on what it learns only once Update has returned.
	//
	// A canceled ctx stops a unit that has not started; one that has may run to its end
	// (SQLite's batch does not let one caller's cancellation abort it) or fail as a whole,
	// never in part.
	Update(ctx context.Context, fn func(w Writer) error) error

	// Users. Names are unique regardless of ASCII letter case, and a name finds its user
	// in any case (FoldName); deleting a user deletes its factors.
	CreateUser(ctx context.Context, u User) error // ErrExists
	GetUser(ctx context.Context, name string) (User, error)
	// UserDisabled tells whether emfa knows a user named name and has disabled them:
	// false, nil for a user it does not know. A remote provider asks it on every call, so
	// it reads one column and makes no error of a name it does not find.
	UserDisabled(ctx context.Context, name string) (bool, error)
	GetUserByID(ctx context.Context, id string) (User, error) // the owner of a factor (Factor.UserID)
	SetUserDisabled(ctx context.Context, name string, disabled bool) error
	DeleteUser(ctx context.Context, name string) error

	// Factors (CreateFactor is a Writer's).
	GetFactor(ctx context.Context, id string) (Factor, error)
	// GetFactorAndUser reads factor id and the user named name together, in one read (a
	// contract call needs both): ErrNotFound when there is no such factor, a User with an
	// empty ID when there is no such user. The user need not be the factor's.
	GetFactorAndUser(ctx context.Context, id, name string) (Factor, User, error)
	// GetFactorUserAndTransaction is GetFactorAndUser and the transaction with id txID,
	// in the same one read (a code's validate needs all three): a Transaction with an
	// empty ID when there is no such transaction. The transaction need not be the
	// factor's.
	GetFactorUserAndTransaction(ctx context.Context, id, name, txID string) (Factor, User, Transaction, error)
	ListFactors(ctx context.Context, userID string) ([]Factor, error) // ordered by creation time, then id
	// ListEnabledFactors lists, in one read, the factors of the user named name (in any
	// case, FoldName), ordered as ListFactors orders them: none, and no error, when there
	// is no such user or emfa has disabled them. It is the contract's enrollments call.
	ListEnabledFactors(ctx context.Context, name string) ([]Factor, error)
	// SetFactorState to a state other than FactorActive, and DeleteFactor, end the
	// self-service sessions signed in with the factor in the same commit (as a
	// UserChange does).
	SetFactorState(ctx context.Context, id string, s FactorState, now time.Time) error
	DeleteFactor(ctx context.Context, id string) error
	// AdvanceCounter sets the factor's counter to next if and only if the stored counter
	// is lower and the factor is not locked (LockedUntil zero or <= now), and clears its
	// failures and lockout, in one atomic step; otherwise ErrReplay, or ErrLocked when the
	// counter is lower but a lockout holds (concurrent failures locked it since it was
	// read). Exactly one of many concurrent calls with the same next succeeds. It changes
	// nothing, ErrInactive, when the factor is FactorDisabled or its user disabled: a
	// disable committed since the caller read them does not let a code through.
	AdvanceCounter(ctx context.Context, id string, next int64, now time.Time) error
	// RecordFailure counts a failed verification atomically. An expired lockout
	// (LockedUntil <= now) is cleared first, restarting the count. When the count reaches
	// max (max > 0), LockedUntil becomes now+lockFor. It returns the updated factor.
	RecordFailure(ctx context.Context, id string, now time.Time, max int, lockFor time.Duration) (Factor, error)
	// ResetFailures clears the failure count and any lockout (an admin unlock).
	ResetFailures(ctx context.Context, id string, now time.Time) error
	// UpdateFactorSecret replaces the sealed secret and key id (key rotation, re-seeding).
	UpdateFactorSecret(ctx context.Context, id string, secret []byte, keyID string, now time.Time) error
	// FactorKeyIDs lists the distinct key ids that factors' secrets are sealed with
	// (factors without a secret have none), sorted by bytes. It reads an index, one probe
	// per id, not the factors: start-up asks it to refuse a keyring that lacks one.
	FactorKeyIDs(ctx context.Context) ([]string, error)
	// ActivateFactor moves a FactorPending factor to FactorActive and replaces its params,
	// in one atomic step: ErrConflict when it is not pending, so an activation is used
	// once (exactly one of concurrent calls succeeds); ErrNotFound when it does not exist.
	ActivateFactor(ctx context.Context, id string, params map[string]string, now time.Time) error
	// UpdateFactorParams replaces a factor's params (its non-secret settings), and its
	// label when label is not nil, whatever its state. A caller that changes the params
	// alone passes nil: a label written back as it was read would undo a rename made
	// meanwhile.
	UpdateFactorParams(ctx context.Context, id string, label *string, params map[string]string, now time.Time) error

	// Transactions.
	CreateTransaction(ctx context.Context, t Transaction) error // ErrExists
	GetTransaction(ctx context.Context, id string) (Transaction, error)
	// CompleteTransaction moves a PENDING transaction to status atomically; ErrConflict
	// when it is no longer PENDING (so exactly one of concurrent completions wins).
	CompleteTransaction(ctx context.Context, id, status string, now time.Time) error
	// AddAttempt counts one attempt on a PENDING transaction and returns the new count;
	// ErrConflict when it is no longer PENDING.
	AddAttempt(ctx context.Context, id string, now time.Time) (int, error)
	// CancelPending sets every PENDING transaction of the factor except keepID that has not
	// expired (ExpiresAt > now, as CancelOlder) to status (CANCELED when a newer challenge
	// replaces it) and returns how many it changed.
	CancelPending(ctx context.Context, factorID, keepID, status string, now time.Time) (int, error)
	// DeleteExpiredTransactions deletes at most limit transactions that expired before
	// before, and returns how many it deleted (call again until it returns < limit).
	DeleteExpiredTransactions(ctx context.Context, before time.Time, limit int) (int, error)
	// ListPendingTransactions lists the factor's PENDING transactions that have not
	// expired (ExpiresAt > now), oldest first (CreatedAt, then id in byte order).
	ListPendingTransactions(ctx context.Context, factorID string, now time.Time) ([]Transaction, error)

	// Send limits.

	// ReserveSend records one send at now under every key (e.g. "user:alice",
	// "to:+15550100"; a key given twice counts once) if, for every key and every limit,
	// the sends already recorded under that key within the limit's window
	// (at > now-Window) are fewer than Max. Otherwise it records nothing and returns
	// ErrRateLimited. Check and record are one atomic step, across processes too:
	// concurrent reservations can never together exceed a limit. With no keys it records
	// nothing; with no limits it records under every key. A limit with Window <= 0 or
	// Max < 0 is an error. A refusal is a *RateLimitError.
	ReserveSend(ctx context.Context, keys []string, limits []SendLimit, now time.Time) error
	// DeleteSendsBefore deletes at most limit sends recorded before before and returns how
	// many (call again until it returns < limit). Keep at least the longest window
	// ReserveSend is given, or limits stop holding. limit <= 0 is an error.
	DeleteSendsBefore(ctx context.Context, before time.Time, limit int) (int, error)

	// Nonces.

	// UseNonce records nonce within scope (e.g. a device's factor id) as used until
	// expires. It returns ErrReplay when the same scope and nonce are recorded and not yet
	// expired (expires > now); an expired record is replaced. Of concurrent calls with one
	// nonce exactly one succeeds.
	UseNonce(ctx context.Context, scope, nonce string, expires, now time.Time) error
	// DeleteExpiredNonces deletes at most limit nonces that expired at or before before and
	// returns how many (call again until it returns < limit). limit <= 0 is an error.
	DeleteExpiredNonces(ctx context.Context, before time.Time, limit int) (int, error)

	// Idempotency records (Verify's retries by X-Webhook-ID).

	// ClaimIdempotency records key as running under owner until leaseUntil, kept until
	// expiresAt (or leaseUntil, if later: a running record outlives its lease), when no record of it exists, or the one that does has expired
	// (ExpiresAt <= now) or is running with a lease that has passed (LeaseUntil <= now).
	// Otherwise it claims nothing and returns the record. Of concurrent claims on one key,
	// across processes too, exactly one succeeds.
	ClaimIdempotency(ctx context.Context, key IdempotencyKey, owner string, leaseUntil, expiresAt, now time.Time) (IdempotencyClaim, error)
	// GetIdempotency returns the record of key; ErrNotFound when there is none.
	GetIdempotency(ctx context.Context, key IdempotencyKey) (IdempotencyRecord, error)
	// CompleteIdempotency stores the answer of the running record that owner holds;
	// ErrConflict when owner no longer holds it (another took over, or it is done).
	CompleteIdempotency(ctx context.Context, key IdempotencyKey, owner string, status int, body []byte, now time.Time) error
	// ReleaseIdempotency deletes the running record that owner holds, so that the next
	// attempt executes afresh; nothing when owner does not hold it.
	ReleaseIdempotency(ctx context.Context, key IdempotencyKey, owner string) error
	// RenewIdempotency moves the lease of the running record that owner holds to
	// leaseUntil (an attempt still running keeps it), and its expiry with it when that
	// came sooner; false, and nothing changed, when
	// owner does not hold it running (another took over, it is done or gone).
	RenewIdempotency(ctx context.Context, key IdempotencyKey, owner string, leaseUntil time.Time) (bool, error)
	// DeleteExpiredIdempotency deletes at most limit records that expired at or before
	// before and returns how many (call again until it returns < limit). limit <= 0 is an
	// error.
	DeleteExpiredIdempotency(ctx context.Context, before time.Time, limit int) (int, error)

	// Audit.
	AppendAudit(ctx context.Context, e AuditEvent) error
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	// DeleteAuditBefore deletes at most limit audit events older than before (retention),
	// oldest first, and returns how many (limit <= 0 is an error).
	DeleteAuditBefore(ctx context.Context, before time.Time, limit int) (int, error)

	// Ping reports whether the backend is reachable and takes writes (readiness): while
	// writes fail for a storage reason it returns a *WritesFailing.
	Ping(ctx context.Context) error
	Close() error
}

// deferKey is the context key of DeferSync.
type deferKey struct{}

// DeferSync returns a context whose writes need not reach the disk before they return:
// its caller promises to make a durable write of its own afterwards, before it answers
// anyone, and that write makes these durable too (a commit is durable with every commit
// before it: SQLite's WAL and PostgreSQL's WAL are both flushed in order). A crash before
// that write loses them, as it would have lost the request they belong to; none of them
// has been answered. Visibility is unchanged: a deferred write is seen by every reader
// and replica once it returns.
//
// This is how an idempotent contract call costs one flush, not three: its claim and the
// writes before its decision are deferred; the unit that decides, and records the answer
// with it, is not (provider.Idempotency).
func DeferSync(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferKey{}, true)
}

// SyncNow undoes DeferSync for the writes made with the context it returns: they are
// durable when they return. A unit that records an idempotent call's answer is.
func SyncNow(ctx context.Context) context.Context {
	return context.WithValue(ctx, deferKey{}, false)
}

// SyncDeferred reports whether ctx's writes are deferred (DeferSync). A backend without
// a cheaper commit for them may ignore it.
func SyncDeferred(ctx context.Context) bool {
	d, _ := ctx.Value(deferKey{}).(bool)
	return d
}
