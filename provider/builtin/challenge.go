package builtin

import (
	"context"
	"errors"
	"fmt"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// challenges are the transactions of the engine's init_then_validate factors (codes,
// questions). Their ids are random, so one prefix serves them all; the binding to user,
// capability and factor keeps one factor's transaction from answering for another.
func (e *Engine) challenges() provider.Transactions {
	return provider.Transactions{Store: e.store, Prefix: "b:", Now: e.now}
}

// cancelOthers withdraws the factor's pending challenges but the one with id (CANCELED):
// only the newest works. It is for a unit that starts challenge id too, so that of two
// such units the later one's challenge is the one that stays.
func (e *Engine) cancelOthers(ctx context.Context, w store.Writer, factorID, id string) (int, error) {
	return w.CancelPending(ctx, factorID, e.challenges().Key(id), string(provider.StatusCanceled), e.now())
}

// cancelOlder withdraws the factor's pending challenges started before the one with id
// (CANCELED), for a unit later than the one that started it: a code's, once sent. A
// newer challenge started meanwhile (a resend while the gateway was slow) stays, and has
// withdrawn this one. Before, the older code's late unit withdrew the newer one too, and
// neither code worked.
func (e *Engine) cancelOlder(ctx context.Context, w store.Writer, factorID, id string) (int, error) {
	return w.CancelOlder(ctx, factorID, e.challenges().Key(id), string(provider.StatusCanceled), e.now())
}

// answerChallenge is validate for an init_then_validate factor: the transaction must be
// the request's, pending and in time; each answer consumes one of maxAttempts before it
// is checked, so parallel guesses cannot exceed the bound, and the transaction completes
// once. read is the transaction as read with f (Engine.validate), nil to read it here.
// what names the answer in reasons ("code", "answer"); check says whether the request's
// passvalue is right, without leaking it.
func (e *Engine) answerChallenge(ctx context.Context, f *store.Factor, req provider.Request, read *store.Transaction,
	maxAttempts int, what string, check func(tx store.Transaction) (bool, error)) (provider.Outcome, error) {
	if req.TransactionID == "" {
		return provider.Failed(fmt.Sprintf("%s needs the transactionId of its initiate (flow init_then_validate)", f.Type)), nil
	}
	txs := e.challenges()
	var tx store.Transaction
	var answer provider.Outcome
	var done bool
	var err error
	if read != nil {
		tx, answer, done, err = txs.ForValidateRead(ctx, req, *read)
	} else {
		tx, answer, done, err = txs.ForValidate(ctx, req)
	}
	if err != nil || done {
		return answer, err
	}
	// The answer is checked before the unit, which must not hold the store's writer for
	// a hash (a question's is Argon2), and counts only if this request's attempt, taken
	// in the unit, is within the bound. A transaction loaded with its attempts used up is
	// not checked at all.
	var right bool
	if tx.Attempts < maxAttempts {
		if right, err = check(tx); err != nil {
			return provider.Outcome{}, err
		}
	}
	// The attempt, what it decides (the transaction's end, a failure, or a success and
	// cleared failures) and the audit row are one unit.
	var locked bool
	out, err := provider.Decide(ctx, e.store, func(w store.Writer) (out provider.Outcome, err error) {
		locked = false // of a run that did not hold (store.Store.Update)
		txs := txs.In(w)
		// The deadline again, in the unit: it may have come while the answer was checked
		// (a hash), and a challenge past it is TIMEOUT, its answer right or wrong, and
		// counts as no failure.
		if answer, late, err := txs.Late(ctx, tx); err != nil || late {
			return answer, err
		}
		n, err := w.AddAttemptAfter(ctx, tx.ID, tx.Attempts, e.now())
		if errors.Is(err, store.ErrConflict) { // completed since it was loaded
			return txs.Reread(ctx, tx.ID)
		}
		if err != nil {
			return provider.Outcome{}, err
		}
		if n > maxAttempts {
			// Not counted, and not completed here: the request holding the last allowed
			// attempt decides the transaction, so a burst of duplicates of the right
			// answer cannot fail it under the user.
			return provider.Failed(fmt.Sprintf("attempt %d beyond the %d allowed; %s not checked", n, maxAttempts, what)), nil
		}
		if !right {
			reason := fmt.Sprintf("wrong %s (attempt %d of %d)", what, n, maxAttempts)
			if n == maxAttempts {
				if _, err := txs.Finish(ctx, tx.ID, provider.StatusFailed); err != nil {
					return provider.Outcome{}, err
				}
				reason += "; transaction failed"
			}
			out, locked, err = e.failIn(ctx, w, f, reason)
			return out, err
		}
		// The lockout again, in the unit, before the transaction completes: wrong answers
		// sent alongside this one may have locked the factor since it was read, and a
		// right answer decided after them is FAILED like them, as AdvanceCounter has it
		// for TOTP/HOTP (a burst gets no more guesses than lockout.maxFailures). Not
		// counted: it was right. Failures count consecutive ones, so a success clears
		// them here too, whatever the factor read before the unit said.
		if err := w.ClearFailuresUnlocked(ctx, f.ID, e.now()); err != nil {
			if errors.Is(err, store.ErrLocked) {
				reason := fmt.Sprintf("right %s (attempt %d of %d), but the factor was locked meanwhile", what, n, maxAttempts)
				if n == maxAttempts {
					// No attempt is left: the challenge is over, as the last wrong answer
					// ends it, rather than PENDING until its deadline with nothing able
					// to complete it.
					if _, err := txs.Finish(ctx, tx.ID, provider.StatusFailed); err != nil {
						return provider.Outcome{}, err
					}
					reason += "; transaction failed"
				}
				return provider.Failed(reason), nil
			}
			if errors.Is(err, store.ErrInactive) || errors.Is(err, store.ErrNotFound) {
				// Disabled (the factor, or its user), or deleted, since factorFor read
				// them: the challenge ends, as a push approved meanwhile does.
				if _, err := txs.Finish(ctx, tx.ID, provider.StatusFailed); err != nil {
					return provider.Outcome{}, err
				}
				gone := "the factor or its user was disabled meanwhile"
				if errors.Is(err, store.ErrNotFound) {
					gone = "the factor was deleted meanwhile"
				}
				return provider.Failed(fmt.Sprintf("right %s (attempt %d of %d), but %s", what, n, maxAttempts, gone)), nil
			}
			return provider.Outcome{}, err
		}
		if answer, ok, err := txs.Succeed(ctx, tx); err != nil || !ok {
			return answer, err
		}
		return provider.Outcome{Status: provider.StatusSuccess, Reason: fmt.Sprintf("right %s (attempt %d of %d)", what, n, maxAttempts)}, nil
	})
	e.lockedOut(f, locked, err)
	return out, err
}

// challengeResult is result for an init_then_validate factor: PENDING until validated,
// then the remembered terminal status. It changes nothing but an expiry.
func (e *Engine) challengeResult(ctx context.Context, req provider.Request) (provider.Outcome, error) {
	_, answer, done, err := e.challenges().ForResult(ctx, req)
	if err != nil || done {
		return answer, err
	}
	return provider.Outcome{Status: provider.StatusPending, Reason: "waiting for validate"}, nil
}
