package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emfa/emfa/store"
)

// Transactions keeps the challenges an engine starts, with the contract's rules whatever
// the engine: a transaction is bound to its user, capability and factor; it has a
// deadline, past which it is TIMEOUT; once terminal it stays so and is answered from the
// store; it completes once (verify-contract.md §5-7).
type Transactions struct {
	Store TransactionStore
	// Prefix keeps one engine's ids apart from another's ("r:duo:" for a vendor's txids).
	Prefix string
	Now    func() time.Time
}

// TransactionStore is where Transactions keeps challenges: a store.Store, or the
// store.Writer of a unit (see In).
type TransactionStore interface {
	CreateTransaction(ctx context.Context, t store.Transaction) error
	GetTransaction(ctx context.Context, id string) (store.Transaction, error)
	CompleteTransaction(ctx context.Context, id, status string, now time.Time) error
}

// In returns t working through w, a unit of Decide: what it writes commits with the unit.
func (t Transactions) In(w store.Writer) Transactions {
	t.Store = w
	return t
}

// Key is the store id of a transaction id as Verify sees it.
func (t Transactions) Key(transactionID string) string { return t.Prefix + transactionID }

func (t Transactions) now() time.Time {
	if t.Now == nil {
		return time.Now()
	}
	return t.Now()
}

// Start records a PENDING transaction for req's user, capability and factor. tx.ID is the
// id Verify will send back (Key is applied here); tx.ExpiresAt must be set. ErrExists
// (wrapped) when the id is taken.
func (t Transactions) Start(ctx context.Context, req Request, tx store.Transaction) error {
	now := t.now()
	tx.ID = t.Key(tx.ID)
	tx.Username, tx.Capability, tx.FactorID = req.Username, req.Capability, req.ID
	tx.Status = string(StatusPending)
	tx.CreatedAt, tx.UpdatedAt = now, now
	if tx.ExpiresAt.IsZero() {
		return errors.New("transaction without a deadline")
	}
	return t.Store.CreateTransaction(ctx, tx)
}

// Load finds the transaction req names and checks it belongs to req's user, capability
// and factor. A refusal is the Outcome to answer (FAILED) without going further. A
// PENDING transaction past its deadline is completed as TIMEOUT here, so the caller sees
// its final state.
func (t Transactions) Load(ctx context.Context, req Request) (tx store.Transaction, refusal *Outcome, err error) {
	tx, err = t.Store.GetTransaction(ctx, t.Key(req.TransactionID))
	return t.bound(ctx, req, tx, err)
}

// Current is the transaction with store id as it stands: a PENDING one past its deadline
// is completed as TIMEOUT first. For the other side of a challenge (a device answering
// it), which has no Request to bind it to.
func (t Transactions) Current(ctx context.Context, id string) (store.Transaction, error) {
	tx, err := t.Store.GetTransaction(ctx, id)
	if err != nil {
		return tx, err
	}
	return t.expire(ctx, tx)
}

// expire completes a PENDING transaction past its deadline as TIMEOUT.
func (t Transactions) expire(ctx context.Context, tx store.Transaction) (store.Transaction, error) {
	if tx.Status == string(StatusPending) && !t.now().Before(tx.ExpiresAt) {
		return t.Finish(ctx, tx.ID, StatusTimeout)
	}
	return tx, nil
}

func (t Transactions) bound(ctx context.Context, req Request, tx store.Transaction, err error) (store.Transaction, *Outcome, error) {
	if errors.Is(err, store.ErrNotFound) {
		return tx, ptr(Failed("unknown transaction")), nil
	}
	if err != nil {
		return tx, nil, err
	}
	if why := foreign(req, tx); why != "" {
		return tx, ptr(Failed(why)), nil
	}
	tx, err = t.expire(ctx, tx)
	return tx, nil, err
}

// foreign says why tx is not req's ("" when it is): another user's, capability's or factor's.
func foreign(req Request, tx store.Transaction) string {
	switch {
	case !store.SameName(tx.Username, req.Username):
		return "transaction of another user"
	case !strings.EqualFold(tx.Capability, req.Capability):
		return "transaction of another capability"
	case tx.FactorID != req.ID:
		return "transaction of another factor"
	}
	return ""
}

// Ended answers a result on req's transaction as it ended, when it has (ok); it writes
// nothing. For a result that is otherwise refused: contract §7 has every poll after the
// end answer the same.
func (t Transactions) Ended(ctx context.Context, req Request) (answer Outcome, ok bool, err error) {
	tx, err := t.Store.GetTransaction(ctx, t.Key(req.TransactionID))
	if errors.Is(err, store.ErrNotFound) {
		return Outcome{}, false, nil
	}
	if err != nil || foreign(req, tx) != "" || tx.Status == string(StatusPending) {
		return Outcome{}, false, err
	}
	return Remembered(tx), true, nil
}

// Finish moves a PENDING transaction (by store id) to status. If another request
// finished it first, the transaction is returned as that one left it; the caller answers
// tx.Status either way.
func (t Transactions) Finish(ctx context.Context, id string, status Status) (store.Transaction, error) {
	err := t.Store.CompleteTransaction(ctx, id, string(status), t.now())
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return store.Transaction{}, fmt.Errorf("finish transaction: %w", err)
	}
	tx, err := t.Store.GetTransaction(ctx, id)
	if err != nil {
		return store.Transaction{}, fmt.Errorf("finish transaction: %w", err)
	}
	return tx, nil
}

// ForValidate loads the transaction a validate names and answers it unless it is still
// PENDING and in time (done false): a refusal, TIMEOUT past its deadline, or FAILED for
// any other terminal status — a SUCCESS included: a transaction validates successfully
// once, and a replay of it is refused.
func (t Transactions) ForValidate(ctx context.Context, req Request) (tx store.Transaction, answer Outcome, done bool, err error) {
	tx, err = t.Store.GetTransaction(ctx, t.Key(req.TransactionID))
	return t.forValidate(ctx, req, tx, err)
}

// ForValidateRead is ForValidate on the transaction req names as the caller read it (by
// Key) with what else it needed, in one read: tx has an empty ID when there was none.
func (t Transactions) ForValidateRead(ctx context.Context, req Request, tx store.Transaction) (store.Transaction, Outcome, bool, error) {
	var err error
	if tx.ID == "" {
		err = store.ErrNotFound
	}
	return t.forValidate(ctx, req, tx, err)
}

func (t Transactions) forValidate(ctx context.Context, req Request, tx store.Transaction, err error) (store.Transaction, Outcome, bool, error) {
	tx, refusal, err := t.bound(ctx, req, tx, err)
	if err != nil || refusal != nil {
		return tx, deref(refusal), true, err
	}
	answer, done := validateAnswer(tx)
	return tx, answer, done, nil
}

// ForResult loads the transaction a result names and answers it unless it is still
// PENDING and in time (done false): a refusal, or its remembered terminal status (TIMEOUT
// past its deadline).
func (t Transactions) ForResult(ctx context.Context, req Request) (tx store.Transaction, answer Outcome, done bool, err error) {
	tx, refusal, err := t.Load(ctx, req)
	if err != nil || refusal != nil {
		return tx, deref(refusal), true, err
	}
	if tx.Status != string(StatusPending) {
		return tx, Remembered(tx), true, nil
	}
	return tx, Outcome{}, false, nil
}

// Succeed completes a PENDING transaction as SUCCESS, once: of concurrent
// requests exactly one gets ok; the others get the answer validate gives a completed
// transaction. (Not Finish: it cannot tell this request's success from another's.)
//
// tx is the transaction as it was loaded. Past its deadline, which may have come while the
// answer was being checked (a vendor's call, a hash), it is completed as TIMEOUT instead and
// answered as a validate after the deadline is.
func (t Transactions) Succeed(ctx context.Context, tx store.Transaction) (answer Outcome, ok bool, err error) {
	id := tx.ID
	if answer, late, err := t.Late(ctx, tx); err != nil || late {
		return answer, false, err
	}
	err = t.Store.CompleteTransaction(ctx, id, string(StatusSuccess), t.now())
	if err == nil {
		return Outcome{Status: StatusSuccess}, true, nil
	}
	if !errors.Is(err, store.ErrConflict) {
		return Outcome{}, false, err
	}
	answer, err = t.Reread(ctx, id)
	return answer, false, err
}

// Late answers a validate on tx, loaded PENDING and in time, whose deadline has come
// since (late), while its answer was being checked: tx is completed as TIMEOUT and
// answered as a validate after the deadline is, whether the answer was right or wrong.
func (t Transactions) Late(ctx context.Context, tx store.Transaction) (answer Outcome, late bool, err error) {
	if t.now().Before(tx.ExpiresAt) {
		return Outcome{}, false, nil
	}
	done, err := t.Finish(ctx, tx.ID, StatusTimeout)
	if err != nil {
		return Outcome{}, true, err
	}
	answer, _ = validateAnswer(done)
	return answer, true, nil
}

// Refuse answers refusal, a FAILED the Provider or the engine gives a result, and ends
// req's challenge, still pending, FAILED (t on the Writer of the unit that records the
// answer): a poll answered FAILED is terminal to Verify, and every later one must answer
// it, whatever would be said by then (contract §7). A challenge ended already is answered
// as it ended (its deadline passed: TIMEOUT; another request first: its status); a
// transaction that is not req's, or none, is refused and left alone.
func (t Transactions) Refuse(ctx context.Context, req Request, refusal Outcome) (Outcome, error) {
	tx, foreign, err := t.Load(ctx, req)
	switch {
	case err != nil:
		return Outcome{}, err
	case foreign != nil:
		return refusal, nil
	case tx.Status != string(StatusPending):
		return Remembered(tx), nil
	}
	done, err := t.Finish(ctx, tx.ID, StatusFailed)
	if err != nil {
		return Outcome{}, err
	}
	if done.Status != string(StatusFailed) {
		return Remembered(done), nil
	}
	return refusal, nil
}

// Reread answers validate for a transaction found completed since it was loaded (an
// attempt or a success lost a race): what ForValidate would answer now.
func (t Transactions) Reread(ctx context.Context, id string) (Outcome, error) {
	tx, err := t.Store.GetTransaction(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	answer, _ := validateAnswer(tx)
	return answer, nil
}

// validateAnswer is validate's answer on a transaction that is no longer PENDING: TIMEOUT
// when it expired (emfa's rule), otherwise FAILED.
func validateAnswer(tx store.Transaction) (Outcome, bool) {
	switch Status(tx.Status) {
	case StatusPending:
		return Outcome{}, false
	case StatusTimeout:
		return Remembered(tx), true
	}
	return Failed("transaction already " + tx.Status), true
}

// Remembered answers a transaction that is no longer PENDING with its terminal status.
func Remembered(tx store.Transaction) Outcome {
	return Outcome{Status: Status(tx.Status), Reason: "transaction already " + tx.Status}
}

func ptr[T any](v T) *T { return &v }

func deref(o *Outcome) Outcome {
	if o == nil {
		return Outcome{}
	}
	return *o
}
