package provider

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	gosync "sync"
	"time"

	"github.com/emfa/emfa/store"
)

// IdempotencyStore keeps idempotency records; store.Store satisfies it.
type IdempotencyStore interface {
	ClaimIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, leaseUntil, expiresAt, now time.Time) (store.IdempotencyClaim, error)
	RecordIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, status int, body []byte, leaseUntil, expiresAt, now time.Time) (store.IdempotencyClaim, error)
	GetIdempotency(ctx context.Context, key store.IdempotencyKey) (store.IdempotencyRecord, error)
	CompleteIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, status int, body []byte, now time.Time) error
	ReleaseIdempotency(ctx context.Context, key store.IdempotencyKey, owner string) error
	RenewIdempotency(ctx context.Context, key store.IdempotencyKey, owner string, leaseUntil time.Time) (bool, error)
}

// Answer is a contract call's answer as it was sent: HTTP status and body.
type Answer struct {
	Status int
	Body   []byte
}

// How a call keyed by X-Webhook-ID was served.
type Served int

const (
	// Executed: this attempt ran the request (the first, or a take-over of one whose
	// process died).
	Executed Served = iota
	// Replayed: the answer is the recorded one of an earlier attempt; nothing ran.
	Replayed
)

// WriteGrace is how long past its request's deadline a store write that outlives the
// request may take. An answer decided is recorded even when Verify hung up meanwhile, but
// a store that stopped answering (a partition, a failover that hangs) must not hold the
// request, nor a shutdown waiting for it, forever: the request answers 503 instead. It is
// the margin of Idempotency.Lease over the request deadline, so that a live attempt's
// writes end inside its lease.
const WriteGrace = 2 * time.Second

// RenewedLease and RenewInterval are the lease of an attempt's claim and how often a
// running attempt renews it (Idempotency.Lease and Renew): a renewal is at most two
// intervals apart (an attempt is first renewed once it has run one), which leaves two
// seconds for the renewal's write and the replicas' clocks to differ.
const (
	RenewedLease  = 4 * time.Second
	RenewInterval = time.Second
)

// Detach is ctx without its cancelation, for a write that must outlive its request, yet
// bounded: by ctx's deadline and WriteGrace, or WriteGrace from now when ctx has no
// deadline (it was detached already).
func Detach(ctx context.Context) (context.Context, context.CancelFunc) {
	limit, ok := ctx.Deadline()
	if !ok {
		limit = time.Now()
	}
	return context.WithDeadline(context.WithoutCancel(ctx), limit.Add(WriteGrace))
}

// RunToEnd is ctx without its cancelation, its deadline kept: for a side effect that
// runs to its end once begun (a code sent, a vendor called, a push notified), whether its
// caller still waits or not. Verify hanging up (its own timeout, a broken connection) then
// no longer cuts the send short and records FAILED for its retry while the code may be on
// its way: what was done is recorded, and the retry gets it (contract §12).
//
// Without a deadline there is nothing left to bound, and the context is only detached:
// a WithCancel there ended nothing its callers' own timers do not (each side effect sets
// one and stops it on return), yet cost a context, and its map of children once a timer
// was set under it, on every call; and its Done channel made a CEL transform with a
// comprehension check for an interruption that could not come.
func RunToEnd(ctx context.Context) (context.Context, context.CancelFunc) {
	if limit, ok := ctx.Deadline(); ok {
		return context.WithDeadline(context.WithoutCancel(ctx), limit)
	}
	return context.WithoutCancel(ctx), func() {}
}

// ErrInFlight: the first attempt of a request is still running and this attempt's
// deadline (or Wait) came first. The adapter answers it with a 503, so Verify retries
// once more; the admin API with a 409, as the Idempotency-Key draft asks.
var ErrInFlight = errors.New("the first attempt of this request is still running")

// Idempotency executes each contract call that carries Verify's X-Webhook-ID at most once
// per provider, ID and request fingerprint (verify-contract.md §12). Records live in the
// store, so a retry that reaches another replica is recognised too.
//
// A call costs one durable commit, not three: the claim and everything the call writes
// are deferred (store.DeferSync), and the record of its answer is written durably, which
// makes them durable too before the answer is sent. A crash before that loses the claim
// and the call's writes with it, as if the call had never come; nothing was answered.
//
// And two passes through the store's writer, not three, when the caller says how an
// outcome is answered (RenderAnswers): the unit that decides (Decide) then records the
// answer in the same commit, made durable, so the decision and its record come together
// or not at all, and no commit follows it.
//
// And one pass, when the engine writes nothing before its deciding unit (DoLate): that
// unit claims the record too.
type Idempotency struct {
	Store IdempotencyStore
	// TTL is how long an answer is kept for retries (server.idempotency.ttl).
	TTL time.Duration
	// Lease is how long a first attempt's claim lives without renewal before a retry takes
	// it over as dead. Without Renew it must cover the request deadline and a margin, so
	// that a live attempt always finishes inside it.
	Lease time.Duration
	// Renew, when set, is how often an attempt still running renews its claim for another
	// Lease (store.Store.RenewIdempotency), so that Lease need only outlast a renewal and
	// the clocks' difference between replicas: a retry of an attempt whose process died
	// takes over within about one Lease, inside its own deadline. An attempt that ends
	// within Renew writes nothing for it; none is renewed past its deadline and
	// WriteGrace. Lease must exceed twice Renew, and a margin.
	Renew time.Duration
	// Now is the clock for the records; default time.Now. Waiting uses real time.
	Now func() time.Time
	// Poll is the first interval at which a retry looks for a running attempt's answer;
	// it doubles up to 8 times that. Default 20 ms.
	Poll time.Duration
	// Wait, when positive, bounds how long an attempt waits for another one of the same
	// call that is still running before it gives up with ErrInFlight (the admin API
	// answers it 409 at once, where Verify's calls wait as long as their deadline allows).
	Wait time.Duration
	// Key keys the fingerprints of the requests (FingerprintKey).
	Key FingerprintKey

	beat heartbeat
}

// FingerprintKey is the key of the fingerprints that tell one request from another under
// the same id: HMAC-SHA256 under it. A contract call's body carries its passvalue (a
// one-time code, a security question's answer) and everything else in it is in the
// store too, so an unkeyed hash of it would let a copy of the store confirm a guessed
// answer offline, one hash a guess. Every replica must hold the same key
// (builtin.Keyring.FingerprintKey derives it from storage.encryptionKey); a request in
// flight across a change of key is taken for a new one. A nil key is for tests.
type FingerprintKey []byte

// Fingerprint identifies a request by its resource and canonical body: the same JSON with
// its keys in another order or other white space is the same request. Numbers keep the
// digits they were sent with (12345678901234567 and …568 are two requests, as the
// adapter reads them). A body that is not JSON is hashed as sent; so must be, by
// FingerprintAsSent, one whose canonical form would lose something (a duplicate key).
func (k FingerprintKey) Fingerprint(resource string, body []byte) string {
	if fp, ok := k.fingerprintFast(resource, body); ok {
		return fp // a contract call's body, without decoding it into maps
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return k.FingerprintAsSent(resource, body)
	}
	canon, err := json.Marshal(v) // map keys sorted; numbers as sent
	if err != nil {
		return k.FingerprintAsSent(resource, body)
	}
	return k.fingerprint(resource, "", canon)
}

// FingerprintAsSent identifies a request by its resource and its body's bytes.
func (k FingerprintKey) FingerprintAsSent(resource string, body []byte) string {
	return k.fingerprint(resource, "raw", body)
}

func (k FingerprintKey) fingerprint(resource, kind string, b []byte) string {
	h := hmac.New(sha256.New, k)
	h.Write([]byte(resource))
	h.Write([]byte{0})
	if kind != "" {
		h.Write([]byte(kind))
		h.Write([]byte{0})
	}
	h.Write(b)
	return resource + ":" + hex.EncodeToString(h.Sum(nil))
}

func (i *Idempotency) now() time.Time {
	if i.Now == nil {
		return time.Now()
	}
	return i.Now()
}

// Do runs fn unless key has run before: then it returns the recorded answer (Replayed),
// waiting for it while the first attempt still runs. other reports that the same provider
// and ID are recorded with another fingerprint. An answer with a status of 500 or more is
// not kept: the next attempt executes afresh (the store or a backend failed; Verify
// retries elsewhere). A store error is returned as is; fn's error is returned as is, after
// the claim is released.
func (i *Idempotency) Do(ctx context.Context, key store.IdempotencyKey, fn func(context.Context) (Answer, error)) (ans Answer, served Served, other bool, err error) {
	owner := newOwner()
	poll := i.poll()
	for {
		now := i.now()
		// A claim lost in a crash is a claim whose lease passed: deferred.
		claim, err := i.Store.ClaimIdempotency(store.DeferSync(ctx), key, owner, now.Add(i.Lease), now.Add(i.TTL), now)
		if err != nil {
			return Answer{}, Executed, false, err
		}
		if claim.Claimed {
			return i.execute(ctx, key, owner, fn, claim.OtherFingerprint)
		}
		if ans, done, err := i.replay(ctx, key, claim.Record, poll); done || err != nil {
			return ans, Replayed, false, err
		}
		// The first attempt's lease passed, or its record is gone: claim it again.
	}
}

// replay waits for the attempt holding rec and returns its answer (done), or done false
// once its lease passed or its record is gone, for the caller to run the call again.
func (i *Idempotency) replay(ctx context.Context, key store.IdempotencyKey, rec store.IdempotencyRecord, poll time.Duration) (Answer, bool, error) {
	if i.Wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, i.Wait)
		defer cancel()
	}
	rec, err := i.wait(ctx, key, rec, poll)
	if err != nil || !rec.Done {
		return Answer{}, false, err
	}
	return Answer{Status: rec.Status, Body: rec.Body}, true, nil
}

func (i *Idempotency) execute(ctx context.Context, key store.IdempotencyKey, owner string, fn func(context.Context) (Answer, error), other bool) (Answer, Served, bool, error) {
	pa := &pendingAnswer{store: i.Store, key: key, owner: owner, now: i.now, claimed: true}
	i.track(ctx, pa)
	defer i.untrack(pa)
	ans, err := i.run(ctx, pa, fn)
	return i.finish(ctx, pa, ans, err, other)
}

// DoLate is Do for a call whose engine writes nothing, and reaches nothing outside emfa,
// before the unit of writes that decides it (UnitDecider): the claim is made by that unit
// (Decide), not by a pass of its own through the store's writer before the call runs,
// and the answer is recorded in the same unit. The call costs one pass, not two.
//
// A retry that comes while its first attempt runs is not held back: both run up to their
// deciding units, and the store's writer orders those. The first records its decision;
// the other's claim finds that record, so its unit rolls back whole (nothing it decided
// is written) and it answers the recorded answer (Replayed). A record of an attempt
// still running under Do's lease is waited for, as Do does. A call that decides without
// any unit (a refusal with no audit trail) claims and records once it has its answer.
func (i *Idempotency) DoLate(ctx context.Context, key store.IdempotencyKey, fn func(context.Context) (Answer, error)) (ans Answer, served Served, other bool, err error) {
	owner := newOwner()
	for {
		pa := &pendingAnswer{store: i.Store, key: key, owner: owner, now: i.now, late: true, lease: i.Lease, ttl: i.TTL}
		// Renewed once claimed by a unit; before that, a renewal changes nothing.
		i.track(ctx, pa)
		ans, err := i.run(ctx, pa, fn)
		if pa.claimed {
			ans, served, other, err := i.finish(ctx, pa, ans, err, pa.other)
			i.untrack(pa)
			return ans, served, other, err
		}
		i.untrack(pa)
		lost := pa.lost
		if lost == nil {
			if err != nil || ans.Status >= 500 {
				return ans, Executed, false, err // nothing was written: nothing to record
			}
			// Decided without a unit: claimed and recorded now, in one durable write.
			now := i.now()
			wctx, cancel := Detach(ctx)
			claim, err := i.Store.RecordIdempotency(wctx, key, owner, ans.Status, ans.Body, now.Add(i.Lease), now.Add(i.TTL), now)
			cancel()
			if err != nil {
				return Answer{}, Executed, false, &RecordError{Err: err}
			}
			if claim.Claimed {
				return ans, Executed, claim.OtherFingerprint, nil
			}
			lost = &claim.Record
		}
		if ans, done, err := i.replay(ctx, key, *lost, i.poll()); done || err != nil {
			return ans, Replayed, false, err
		}
		// The other attempt's lease passed, or its record is gone: run again.
	}
}

// run runs fn with pa for its units (Decide). A panic releases the record if it is claimed
// and still running; a recorded answer stays (ReleaseIdempotency leaves a done record).
func (i *Idempotency) run(ctx context.Context, pa *pendingAnswer, fn func(context.Context) (Answer, error)) (Answer, error) {
	defer func() {
		if r := recover(); r != nil {
			if pa.claimed {
				wctx, cancel := Detach(ctx)
				_ = i.Store.ReleaseIdempotency(wctx, pa.key, pa.owner)
				cancel()
			}
			panic(r)
		}
	}()
	return fn(context.WithValue(store.DeferSync(ctx), pendingKey{}, pa))
}

func (i *Idempotency) poll() time.Duration {
	if i.Poll <= 0 {
		return 20 * time.Millisecond
	}
	return i.Poll
}

// finish completes a claimed call: its answer is the one its deciding unit recorded, or
// is recorded now (durably, which makes the call's deferred writes durable too), or the
// claim is released when the call failed.
func (i *Idempotency) finish(ctx context.Context, pa *pendingAnswer, ans Answer, err error, other bool) (Answer, Served, bool, error) {
	key, owner := pa.key, pa.owner
	if rec := pa.recorded; rec != nil {
		if err == nil && ans.Status == rec.Status && bytes.Equal(ans.Body, rec.Body) {
			return ans, Executed, other, nil // recorded, durably, with the decision
		}
		// The decision and its answer are recorded and durable, but this attempt ended
		// otherwise: a step after the decision failed, or changed what it answers. The
		// record stands; this answer is not sent, and Verify's retry gets the recorded one.
		if err == nil {
			err = fmt.Errorf("answered %d, not the %d its decision recorded", ans.Status, rec.Status)
		}
		return Answer{}, Executed, other, fmt.Errorf("%w: %w", ErrAnswerRecorded, err)
	}
	// The answer is decided: record it even if this request's context ends now.
	wctx, cancel := Detach(ctx)
	defer cancel()
	if err != nil || ans.Status >= 500 {
		if rerr := i.Store.ReleaseIdempotency(wctx, key, owner); rerr != nil {
			// The release is the durable write that makes the call's deferred ones
			// durable: without it they are not known to be, and what the call answers
			// (an admin answer that could not be recorded, say) cannot be sent.
			return Answer{}, Executed, other, &RecordError{Err: errors.Join(err, fmt.Errorf("release idempotency record: %w", rerr))}
		}
		return ans, Executed, other, err
	}
	if err := i.Store.CompleteIdempotency(wctx, key, owner, ans.Status, ans.Body, i.now()); err != nil {
		// The call's deferred writes are not known to be durable without this commit, so
		// its answer cannot be sent: the caller answers 503 and Verify retries. The retry
		// finds the record running and takes it over once the lease has passed.
		return Answer{}, Executed, other, &RecordError{Err: err}
	}
	return ans, Executed, other, nil
}

// ErrAnswerRecorded: the call's decision recorded its answer, but the call went on to end
// otherwise. The caller must not send what it has: it answers 503, and the retry gets the
// recorded answer.
var ErrAnswerRecorded = errors.New("the decision's answer is recorded; this attempt ended otherwise")

// pendingAnswer lets the unit that decides an idempotent call record the call's answer
// in the same commit (Decide), instead of a commit of its own after it. The adapter says
// how an outcome is answered (RenderAnswers); the record is made only with it.
//
// Under DoLate (late), the call's first unit also claims the record, last in the unit
// (with the answer when it decides), so that a call another attempt recorded rolls the
// whole unit back; when the records are kept in another store, just before the unit.
type pendingAnswer struct {
	store    IdempotencyStore
	key      store.IdempotencyKey
	owner    string
	now      func() time.Time
	render   func(Outcome) (Answer, bool)
	recorded *Answer // what a decision's unit committed
	decided  Outcome // the outcome recorded answers

	late       bool
	lease, ttl time.Duration
	claimed    bool                     // the record is claimed (by Do before the call; under DoLate, by a unit)
	other      bool                     // the claim found the ID recorded with another fingerprint
	lost       *store.IdempotencyRecord // the claim found this attempt's record instead
}

// ErrSuperseded: under DoLate, the unit that was to decide this call found the call
// recorded by another attempt of it, and wrote nothing. The call's answer is that
// attempt's; DoLate returns it. An engine returns the error as it would any store error.
var ErrSuperseded = errors.New("another attempt of this call recorded its decision first")

// claimIn claims pa's record for a late call in w's unit; false when another attempt
// holds it (pa.lost).
func (pa *pendingAnswer) claimIn(ctx context.Context, w store.Writer) (bool, error) {
	now := pa.now()
	return pa.took(w.ClaimIdempotency(ctx, pa.key, pa.owner, now.Add(pa.lease), now.Add(pa.ttl), now))
}

// recordIn is claimIn with the call's answer, recorded done in the same write.
func (pa *pendingAnswer) recordIn(ctx context.Context, w store.Writer, ans Answer) (bool, error) {
	now := pa.now()
	return pa.took(w.RecordIdempotency(ctx, pa.key, pa.owner, ans.Status, ans.Body, now.Add(pa.lease), now.Add(pa.ttl), now))
}

// claimApart claims pa's record for a late call before a unit on a store that does not
// keep the records (a write of its own, deferred); false when another attempt holds it.
func (pa *pendingAnswer) claimApart(ctx context.Context) (bool, error) {
	now := pa.now()
	ok, err := pa.took(pa.store.ClaimIdempotency(store.DeferSync(ctx), pa.key, pa.owner, now.Add(pa.lease), now.Add(pa.ttl), now))
	pa.claimed = ok
	return ok, err
}

// took notes what a claim found: whether the ID is recorded with another fingerprint,
// or, when it did not claim, the record another attempt holds (pa.lost).
func (pa *pendingAnswer) took(c store.IdempotencyClaim, err error) (bool, error) {
	switch {
	case err != nil:
		return false, err
	case !c.Claimed:
		pa.lost = &c.Record
		return false, nil
	}
	pa.other = c.OtherFingerprint
	return true, nil
}

type pendingKey struct{}

// RenderAnswers tells the idempotent call running under ctx, if any, how its outcome is
// answered, byte for byte as the caller will send it (false: it cannot say; the answer
// is then recorded apart): the unit that decides it then records that answer. If the
// call ends up answering anything else, the recorded answer stands and Do returns
// ErrAnswerRecorded.
func RenderAnswers(ctx context.Context, render func(Outcome) (Answer, bool)) {
	if pa, ok := ctx.Value(pendingKey{}).(*pendingAnswer); ok {
		pa.render = render
	}
}

// RecordedAnswer is the answer the idempotent call under ctx recorded with its decision,
// when that decision was out: the caller sends it rather than render out a second time.
// An answer is a function of an outcome's status, transaction and attributes; outcomes
// with attributes are not compared (false), nor is anything when no answer is recorded.
// The answer sent is then the one recorded by construction, which is what Do checks: an
// outcome that changed after its decision renders otherwise, and Do refuses to send it
// (ErrAnswerRecorded). The caller's rendering must be the one it gave RenderAnswers.
func RecordedAnswer(ctx context.Context, out Outcome) (Answer, bool) {
	pa, _ := ctx.Value(pendingKey{}).(*pendingAnswer)
	if pa == nil || pa.recorded == nil {
		return Answer{}, false
	}
	d := pa.decided
	if len(out.Attributes) > 0 || len(d.Attributes) > 0 || out.Status != d.Status || out.TransactionID != d.TransactionID {
		return Answer{}, false
	}
	return *pa.recorded, true
}

// pendingFor is the answer a unit deciding under ctx on st is to record, or nil: none
// is pending, or it is recorded already, or its records are kept elsewhere than st (then
// Idempotency records it apart).
func pendingFor(ctx context.Context, st store.Store) *pendingAnswer {
	pa, _ := ctx.Value(pendingKey{}).(*pendingAnswer)
	if pa == nil || pa.render == nil || pa.recorded != nil || !sameValue(pa.store, st) {
		return nil
	}
	return pa
}

// lateClaim is the late call under ctx whose record the next unit claims, or nil.
func lateClaim(ctx context.Context) *pendingAnswer {
	pa, _ := ctx.Value(pendingKey{}).(*pendingAnswer)
	if pa == nil || !pa.late || pa.claimed {
		return nil
	}
	return pa // lost too: then no unit of the call runs (Decide)
}

// RecordError: the request executed, but its answer could not be recorded, nor what it
// wrote made durable. The caller must not send the answer (Do does not return it).
type RecordError struct{ Err error }

func (e *RecordError) Error() string { return "record idempotent answer: " + e.Err.Error() }
func (e *RecordError) Unwrap() error { return e.Err }

// wait polls the record until it is done, its lease passes, it vanishes, or ctx ends.
func (i *Idempotency) wait(ctx context.Context, key store.IdempotencyKey, rec store.IdempotencyRecord, poll time.Duration) (store.IdempotencyRecord, error) {
	maxPoll := 8 * poll
	t := time.NewTimer(poll)
	defer t.Stop()
	for {
		if rec.Done || !i.now().Before(rec.LeaseUntil) {
			return rec, nil
		}
		select {
		case <-ctx.Done():
			return rec, fmt.Errorf("%w: %w", ErrInFlight, ctx.Err())
		case <-t.C:
		}
		var err error
		rec, err = i.Store.GetIdempotency(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return store.IdempotencyRecord{}, nil // released: claim afresh
		}
		if err != nil {
			if ctx.Err() != nil {
				return rec, fmt.Errorf("%w: %w", ErrInFlight, ctx.Err())
			}
			return rec, err
		}
		poll = min(2*poll, maxPoll)
		t.Reset(poll)
	}
}

// heartbeat renews the claims of an Idempotency's attempts that run longer than Renew:
// one goroutine while any attempt runs, which ends at the first beat that finds none. An
// attempt costs a map entry, no allocation and no write, unless it runs that long.
type heartbeat struct {
	mu      gosync.Mutex
	running map[*pendingAnswer]beating
	on      bool // the goroutine runs
}

type beating struct {
	started time.Time // real time, for the beat
	until   time.Time // its deadline and WriteGrace; zero: none
}

// track renews pa's claim, if Renew is set, until untrack.
func (i *Idempotency) track(ctx context.Context, pa *pendingAnswer) {
	if i.Renew <= 0 {
		return
	}
	b := beating{started: time.Now()}
	if d, ok := ctx.Deadline(); ok {
		b.until = d.Add(WriteGrace)
	}
	h := &i.beat
	h.mu.Lock()
	if h.running == nil {
		h.running = map[*pendingAnswer]beating{}
	}
	h.running[pa] = b
	start := !h.on
	h.on = true
	h.mu.Unlock()
	if start {
		go i.beats()
	}
}

func (i *Idempotency) untrack(pa *pendingAnswer) {
	if i.Renew <= 0 {
		return
	}
	i.beat.mu.Lock()
	delete(i.beat.running, pa)
	i.beat.mu.Unlock()
}

// beats renews, every Renew, the claims of the attempts that have run for Renew, until
// none runs.
func (i *Idempotency) beats() {
	h := &i.beat
	t := time.NewTicker(i.Renew)
	defer t.Stop()
	var due []*pendingAnswer
	for range t.C {
		now := time.Now()
		due = due[:0]
		h.mu.Lock()
		if len(h.running) == 0 {
			h.on = false
			h.mu.Unlock()
			return
		}
		for pa, b := range h.running {
			if now.Sub(b.started) >= i.Renew && (b.until.IsZero() || now.Before(b.until)) {
				due = append(due, pa)
			}
		}
		h.mu.Unlock()
		for _, pa := range due {
			// key and owner never change: read without the attempt's goroutine.
			ctx, cancel := context.WithTimeout(context.Background(), i.Renew)
			_, err := i.Store.RenewIdempotency(ctx, pa.key, pa.owner, i.now().Add(i.Lease))
			cancel()
			_ = err // a renewal that fails is tried again at the next beat; the lease covers one
		}
	}
}

func newOwner() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
