package builtin

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// Signature algorithms a device may register with.
const (
	AlgES256   = "ES256"   // ECDSA P-256 with SHA-256; signature ASN.1 DER
	AlgEd25519 = "Ed25519" // RFC 8032 over the signing string itself
)

// The audit resources of a device's own calls.
const (
	ResourceDeviceRegister = "device register"
	ResourceDeviceAnswer   = "device answer"
)

// ClockSkew is how far a signed request's timestamp may be from emfa's clock, either way.
const ClockSkew = 5 * time.Minute

// nonceMargin keeps a used nonce this long past the last moment its timestamp is
// accepted: any replica's sweeper deletes the nonces its own clock finds expired, and one
// whose clock runs ahead of the replica that accepted a request must not purge that
// request's nonce while the other still accepts its timestamp (the request would replay).
const nonceMargin = time.Minute

// DevicesOptions configure the device service.
type DevicesOptions struct {
	Store store.Store
	Now   func() time.Time // default time.Now
	Log   *slog.Logger     // decisions and refusals; default discard
	// Refusal, when set, says why the provider that started a challenge (by its
	// credential prefix) refuses the user's capability now, or "" (provider.Provider's
	// Refusal): an approval made then ends the challenge FAILED. A challenge that names no
	// provider (started by an emfa before this check, or by an engine built without
	// Options.Provider) is not asked about.
	Refusal func(ctx context.Context, prefix, username, capability string) (string, error)
}

// Devices serves the device side of push approval: registration with an activation
// code, then signed calls to list and answer challenges. One serves every provider: a
// device is a factor, whichever provider started its challenge.
type Devices struct {
	store   store.Store
	now     func() time.Time
	log     *slog.Logger
	refusal func(ctx context.Context, prefix, username, capability string) (string, error)

	// refusedMu guards refusedAt: when each factor's last refused registration was
	// recorded (refuse).
	refusedMu sync.Mutex
	refusedAt map[string]time.Time
}

// A registration refused with a known code is recorded at most once per factor per
// refusalEvery (the others are logged only, by the caller), for at most refusalEntries
// factors at once: a script replaying a copied code cannot fill the audit table.
const (
	refusalEvery   = time.Minute
	refusalEntries = 10000
)

// NewDevices builds the device service.
func NewDevices(o DevicesOptions) (*Devices, error) {
	if o.Store == nil {
		return nil, errors.New("devices: a store is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Devices{store: o.Store, now: o.Now, log: o.Log, refusal: o.Refusal, refusedAt: map[string]time.Time{}}, nil
}

// Register spends an activation code on a device's public key and returns the device
// id (the factor's id). Of concurrent registrations with one code exactly one succeeds.
func (d *Devices) Register(ctx context.Context, r provider.DeviceRegistration) (string, error) {
	// Check the request before the code, so a malformed attempt does not spend it.
	if _, err := parsePublicKey(r.Alg, r.PublicKey); err != nil {
		return "", err
	}
	// The name is the app's, shown as deviceName at sign-in, on the self-service page and
	// to administrators: control characters are refused, as in every name, and so are the
	// bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE and its kin), which reorder
	// what is shown so that one device's name reads as another's. Before, they were kept.
	if len(r.Name) > 100 || !utf8.ValidString(r.Name) || strings.ContainsFunc(r.Name, func(c rune) bool {
		return unicode.IsControl(c) || unicode.Is(unicode.Bidi_Control, c)
	}) {
		return "", fmt.Errorf("%w: name must be at most 100 bytes of text, without control or bidirectional control characters", provider.ErrInvalidDeviceRequest)
	}
	if r.ActivationCode == "" {
		return "", fmt.Errorf("%w: no code", provider.ErrActivation)
	}
	now := d.now()
	id := activationKey(strings.ToLower(strings.TrimSpace(r.ActivationCode)))
	tx, err := d.store.GetTransaction(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", fmt.Errorf("%w: unknown code", provider.ErrActivation)
	case err != nil:
		return "", err
	case tx.Capability != activationCapability:
		return "", fmt.Errorf("%w: not an activation code", provider.ErrActivation)
	case tx.Status == string(provider.StatusSuccess) && d.registeredAgain(ctx, tx, r, now):
		return tx.FactorID, nil
	case tx.Status != string(provider.StatusPending):
		why := "activation code already " + tx.Status
		switch provider.Status(tx.Status) {
		case provider.StatusSuccess:
			why = "activation code already used"
		case provider.StatusTimeout:
			why = "activation code expired"
		}
		return "", d.refuse(ctx, tx, why, fmt.Errorf("%w: code already %s", provider.ErrActivation, tx.Status))
	case !now.Before(tx.ExpiresAt):
		return "", d.codeExpired(ctx, id, tx, now)
	}
	// A user disabled while the device waited does not bind it: the code stays unspent,
	// for the user enabled again within its lifetime. (A user deleted took the factor.)
	u, err := d.store.GetUser(ctx, tx.Username)
	if err == nil && u.Disabled {
		return "", d.refuse(ctx, tx, "user disabled", fmt.Errorf("%w: user %s is disabled", provider.ErrActivation, tx.Username))
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	var data activationData
	if len(tx.Data) > 0 {
		if err := json.Unmarshal(tx.Data, &data); err != nil {
			return "", fmt.Errorf("activation code of factor %s: corrupt data: %w", tx.FactorID, err)
		}
	}
	params := map[string]string{"alg": r.Alg, "publicKey": r.PublicKey, "registeredAt": now.UTC().Format(time.RFC3339)}
	name := strings.TrimSpace(r.Name)
	// From this registration on, the device's key signs the user's sign-ins: the trail
	// shows when, and for which factor.
	ev := store.AuditEvent{Time: now, RequestID: provider.RequestID(ctx), Username: tx.Username, Capability: TypePush, FactorID: tx.FactorID,
		Resource: ResourceDeviceRegister, Outcome: string(provider.StatusSuccess), Reason: r.Alg}
	// The code spent, the factor active with its key and name, the self-service link it
	// was enrolled with spent, and the record: one unit, so a crash between them cannot
	// leave a spent code on a factor still pending, nor a link usable again.
	// A compare-and-set that finds its row gone or changed is a refusal, like a used code,
	// recorded as one (audited: why the trail says).
	var audited string
	refused := func(err error, why, trail string) error {
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			audited = trail
			return fmt.Errorf("%w: %s (%v)", provider.ErrActivation, why, err)
		}
		return err
	}
	err = d.store.Update(ctx, func(w store.Writer) error {
		// The deadline again, by the unit's own clock: the code may have expired while
		// the unit waited for the store's writer. Before, a code checked in time was spent
		// in a unit that committed after it expired.
		if now = d.now(); !now.Before(tx.ExpiresAt) {
			return errExpired
		}
		params["registeredAt"], ev.Time = now.UTC().Format(time.RFC3339), now
		// The factor is written twice (activated, then named), and the second write takes
		// its user's row (the foreign key, checked again): taken first, as a delete of the
		// user takes them (the user, then its factors), or each held what the other waited
		// for (40P01; TestDeviceRegistrationBesideUserDeleteDoesNotDeadlock). A user gone
		// took the factor: the activation below finds it so.
		if u.ID != "" {
			if err := w.LockUser(ctx, u.ID); err != nil {
				return err
			}
		}
		// The code is spent first: this compare-and-set decides which of concurrent
		// registrations wins.
		if err := w.CompleteTransaction(ctx, id, string(provider.StatusSuccess), now); err != nil {
			return refused(err, "code used concurrently", "activation code already used")
		}
		if err := w.ActivateFactor(ctx, tx.FactorID, params, now); err != nil {
			return refused(err, "factor "+tx.FactorID+" not pending", "device deleted or no longer pending")
		}
		if name != "" {
			if err := w.UpdateFactorParams(ctx, tx.FactorID, &name, params, now); err != nil {
				return err
			}
		}
		if data.Link != "" {
			if err := w.SpendLink(ctx, data.Link, now); err != nil {
				return refused(err, "the activation link it was enrolled with was used or replaced", "activation link used or replaced")
			}
		}
		return w.AppendAudit(ctx, ev)
	})
	if errors.Is(err, errExpired) {
		return "", d.codeExpired(ctx, id, tx, now)
	}
	if audited != "" && errors.Is(err, provider.ErrActivation) {
		// The same registration sent twice at once (a retry overtaking a slow first
		// attempt): the one that lost finds the other's key, and answers its device id.
		if again, gerr := d.store.GetTransaction(ctx, id); gerr == nil && again.Status == string(provider.StatusSuccess) && d.registeredAgain(ctx, again, r, d.now()) {
			return again.FactorID, nil
		}
		return "", d.refuse(ctx, tx, audited, err)
	}
	if err != nil {
		return "", err
	}
	d.log.Info("push device registered", "device", tx.FactorID, "user", tx.Username, "alg", r.Alg)
	return tx.FactorID, nil
}

// registerAgainWithin is how long after a registration the same registration sent again
// is answered with its device id, as the device API answers a device's answer sent again.
const registerAgainWithin = time.Hour

// registeredAgain reports whether r is the registration that spent code tx, sent again:
// the app's 201 was lost (a phone between networks) and it retries with the same code and
// the same public key, within registerAgainWithin of the registration. Without this the
// app, whose key is now the device's, was refused as a copied code and could not learn its
// device id: the device was active, unusable, and its code spent. The device id is no
// secret (Verify is told it at every sign-in), and one who photographed the code cannot
// sign with the key. Nothing is written: the registration was recorded once. Another key
// is refused as before.
func (d *Devices) registeredAgain(ctx context.Context, tx store.Transaction, r provider.DeviceRegistration, now time.Time) bool {
	f, err := d.store.GetFactor(ctx, tx.FactorID)
	if err != nil || f.State != store.FactorActive || f.Params["alg"] != r.Alg {
		return false
	}
	at, err := time.Parse(time.RFC3339, f.Params["registeredAt"])
	if err != nil || now.Sub(at) >= registerAgainWithin || now.Before(at.Add(-time.Minute)) {
		return false
	}
	registered, err := parsePublicKey(f.Params["alg"], f.Params["publicKey"])
	if err != nil {
		return false
	}
	sent, err := parsePublicKey(r.Alg, r.PublicKey)
	if err != nil {
		return false
	}
	same, ok := sent.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !same.Equal(registered) {
		return false
	}
	d.log.Debug("push device registration sent again: answered with its device id", "device", f.ID, "user", tx.Username)
	return true
}

// errExpired: a unit found its code's or challenge's deadline passed, and wrote nothing.
var errExpired = errors.New("deadline passed")

// codeExpired ends activation code id TIMEOUT and says it expired.
func (d *Devices) codeExpired(ctx context.Context, id string, tx store.Transaction, now time.Time) error {
	d.store.CompleteTransaction(ctx, id, string(provider.StatusTimeout), now) // best effort: it is refused either way
	return d.refuse(ctx, tx, "activation code expired",
		fmt.Errorf("%w: code expired at %s", provider.ErrActivation, tx.ExpiresAt.UTC().Format(time.RFC3339)))
}

// refuse records the refusal err of a registration with tx, a code that exists but
// cannot be used, in the trail of the code's user and factor: FAILED with why, never the
// code. A known code used again is a sign it was copied (the QR code photographed), which
// the user's trail must show. At most one row per factor per refusalEvery; the others
// only reach the log, as the caller logs every refusal. It returns err.
func (d *Devices) refuse(ctx context.Context, tx store.Transaction, why string, err error) error {
	now := d.now()
	d.refusedMu.Lock()
	if len(d.refusedAt) >= refusalEntries {
		for k, at := range d.refusedAt {
			if now.Sub(at) >= refusalEvery {
				delete(d.refusedAt, k)
			}
		}
	}
	last, seen := d.refusedAt[tx.FactorID]
	record := (!seen || now.Sub(last) >= refusalEvery) && (seen || len(d.refusedAt) < refusalEntries)
	if record {
		d.refusedAt[tx.FactorID] = now
	}
	d.refusedMu.Unlock()
	if !record {
		return err
	}
	ev := store.AuditEvent{Time: now, RequestID: provider.RequestID(ctx), Username: tx.Username, Capability: TypePush, FactorID: tx.FactorID,
		Resource: ResourceDeviceRegister, Outcome: string(provider.StatusFailed), Reason: why}
	if aerr := d.store.AppendAudit(ctx, ev); aerr != nil {
		d.log.Warn("device registration refusal not recorded", "device", tx.FactorID, "user", tx.Username, "reason", why, "error", aerr)
	}
	return err
}

var nonceSyntax = regexp.MustCompile(`^[A-Za-z0-9_-]{16,128}$`)

// Authenticate checks a signed request: a known active push device, a timestamp within
// ClockSkew, a valid signature over SigningString, and a nonce not used before. Every
// refusal wraps ErrDeviceAuth.
func (d *Devices) Authenticate(ctx context.Context, r provider.SignedDeviceRequest) error {
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", provider.ErrDeviceAuth, fmt.Sprintf(format, args...))
	}
	if r.DeviceID == "" || r.Timestamp == "" || r.Nonce == "" || r.Signature == "" {
		return refuse("missing signature headers")
	}
	if !nonceSyntax.MatchString(r.Nonce) {
		return refuse("malformed nonce")
	}
	now := d.now()
	ts, err := strconv.ParseInt(r.Timestamp, 10, 64)
	if err != nil {
		return refuse("malformed timestamp")
	}
	at := time.Unix(ts, 0)
	if skew := now.Sub(at); skew > ClockSkew || skew < -ClockSkew {
		return refuse("timestamp %s is %s from emfa's clock", at.UTC().Format(time.RFC3339), skew.Round(time.Second))
	}
	f, err := d.store.GetFactor(ctx, r.DeviceID)
	if errors.Is(err, store.ErrNotFound) {
		return refuse("unknown device")
	}
	if err != nil {
		return err
	}
	if f.Type != TypePush || f.State != store.FactorActive || f.Params["publicKey"] == "" {
		return refuse("factor is a %s %s, not an active registered push device", f.State, f.Type)
	}
	key, err := parsePublicKey(f.Params["alg"], f.Params["publicKey"])
	if err != nil {
		return fmt.Errorf("device %s: stored key: %w", f.ID, err)
	}
	sig, err := decodeBase64(r.Signature)
	if err != nil {
		return refuse("signature is not base64")
	}
	msg := SigningString(r.DeviceID, r.Method, r.Path, r.Timestamp, r.Nonce, r.BodySHA256)
	if !verifySignature(key, []byte(msg), sig) {
		return refuse("bad signature")
	}
	// After the signature, so only the device itself can fill its nonce table. The nonce
	// is kept as long as its timestamp could be accepted, by any replica whose clock is
	// within nonceMargin of this one's (the sweeper purges it after).
	if err := d.store.UseNonce(ctx, "device:"+f.ID, r.Nonce, at.Add(ClockSkew+nonceMargin), now); err != nil {
		if errors.Is(err, store.ErrReplay) {
			return refuse("replayed nonce")
		}
		return err
	}
	return nil
}

// Pending lists the device's challenges still waiting, oldest first.
func (d *Devices) Pending(ctx context.Context, deviceID string) ([]provider.DeviceChallenge, error) {
	txs, err := d.store.ListPendingTransactions(ctx, deviceID, d.now())
	if err != nil {
		return nil, err
	}
	out := []provider.DeviceChallenge{}
	for _, tx := range txs {
		if !strings.HasPrefix(tx.ID, pushPrefix) {
			continue
		}
		var data challengeData
		if err := json.Unmarshal(tx.Data, &data); err != nil {
			return nil, fmt.Errorf("challenge %s: %w", tx.ID, err)
		}
		out = append(out, provider.DeviceChallenge{
			ID: strings.TrimPrefix(tx.ID, pushPrefix), User: tx.Username, Message: data.Message,
			NumberMatching: data.Number != 0, ExpiresAt: tx.ExpiresAt.UTC(),
		})
	}
	return out, nil
}

// Answer records a device's decision on one of its pending challenges and returns the
// status it set: approve is SUCCESS (with number matching, only with the right number;
// a wrong one is a denial), deny FAILED, cancel CANCELED. Of concurrent answers exactly
// one is recorded; the others get ErrChallengeClosed.
func (d *Devices) Answer(ctx context.Context, deviceID, challengeID string, decision provider.Decision, number *int) (provider.Status, error) {
	var status provider.Status
	switch decision {
	case provider.Approve:
		status = provider.StatusSuccess
	case provider.Deny:
		status = provider.StatusFailed
	case provider.Cancel:
		status = provider.StatusCanceled
	default:
		return "", fmt.Errorf("%w: decision must be approve, deny or cancel", provider.ErrInvalidDeviceRequest)
	}
	txs := pushTransactions(d.store, d.now)
	id := txs.Key(challengeID)
	tx, err := txs.Current(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && tx.FactorID != deviceID) {
		return "", provider.ErrNoChallenge
	}
	if err != nil {
		return "", err
	}
	if tx.Status != string(provider.StatusPending) {
		return d.closed(ctx, decision, deviceID, challengeID, tx)
	}
	var data challengeData
	if err := json.Unmarshal(tx.Data, &data); err != nil {
		return "", fmt.Errorf("challenge %s: %w", tx.ID, err)
	}
	reason := map[provider.Status]string{provider.StatusSuccess: "approved", provider.StatusFailed: "denied", provider.StatusCanceled: "canceled"}[status]
	if status == provider.StatusSuccess && data.Number != 0 && (number == nil || *number != data.Number) {
		status, reason = provider.StatusFailed, "wrong number"
		if number == nil {
			reason = "approved without the number"
		}
	}
	// The device's own answer: a denial, or an approval without the number shown at the
	// login, is the fraud signal. An approval refused below (the user disabled, push
	// refused) is the user saying "that was me", and is logged as such.
	denied := status == provider.StatusFailed
	if status == provider.StatusSuccess {
		// A user disabled (or deleted) while the challenge was pending is not signed in
		// by approving it: the challenge ends FAILED, as result has answered it since.
		u, err := d.store.GetUser(ctx, tx.Username)
		if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
			status, reason = provider.StatusFailed, "approved, but the user was disabled while the challenge was pending"
		} else if err != nil {
			return "", err
		}
	}
	if status == provider.StatusSuccess {
		// Nor by a device deleted (an admin's DELETE, a reset: no longer trusted) or
		// disabled since Authenticate checked its signature: a poll would answer the
		// SUCCESS as the challenge ended, though the factor is gone.
		f, err := d.store.GetFactor(ctx, deviceID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && f.State != store.FactorActive) {
			status, reason = provider.StatusFailed, "approved, but the device was deleted or disabled meanwhile"
		} else if err != nil {
			return "", err
		}
	}
	if status == provider.StatusSuccess && d.refusal != nil && tx.Provider != "" {
		// Nor while its provider refuses the capability: switched off org-wide (a
		// push-fatigue attack stopped), denied by a policy, the provider disabled. A poll
		// then answers FAILED; the approval must not wait for the refusal to be lifted,
		// nor count at a poll during it as a decision made before it.
		why, err := d.refusal(ctx, tx.Provider, tx.Username, tx.Capability)
		if err != nil {
			return "", err
		}
		if why != "" {
			status, reason = provider.StatusFailed, "approved, but refused: "+why
		}
	}
	// The answer and its audit row are one unit: no answer counts unrecorded.
	ev := store.AuditEvent{RequestID: provider.RequestID(ctx), Provider: tx.Provider, Username: tx.Username, Capability: tx.Capability,
		FactorID: deviceID, Resource: ResourceDeviceAnswer}
	decided, why := status, reason
	err = d.store.Update(ctx, func(w store.Writer) error {
		// The deadline again, by the unit's own clock: it may have passed while the user
		// was read or the unit waited for the store's writer. Before, an approval checked
		// in time committed after it, and the challenge ended SUCCESS where it was TIMEOUT.
		now := d.now()
		if !now.Before(tx.ExpiresAt) {
			return errExpired
		}
		status, reason = decided, why // a run again (store.Store.Update) starts afresh
		var err error
		if status == provider.StatusSuccess {
			// The device and its user again, in the write: a delete or disable committed
			// since they were read above does not let the approval through.
			err = w.CompleteTransactionIfActive(ctx, id, string(status), deviceID, now)
			if errors.Is(err, store.ErrInactive) {
				status, reason = provider.StatusFailed, "approved, but the device or its user was deleted or disabled meanwhile"
				err = w.CompleteTransaction(ctx, id, string(status), now)
			}
		} else {
			err = w.CompleteTransaction(ctx, id, string(status), now)
		}
		if err != nil {
			return err
		}
		ev.Time, ev.Outcome, ev.Reason = now, string(status), reason
		if err := w.AppendAudit(ctx, ev); err != nil {
			return err
		}
		if status == provider.StatusSuccess {
			// Only this device's approval sets SUCCESS: it needs no marker (closed), and
			// the approval stays one round trip with its commit on PostgreSQL.
			return nil
		}
		// Kept for the device sending this decision again, its 200 lost (closed).
		return w.UseNonce(ctx, answerScope+deviceID, answerKey(challengeID, decision), now.Add(answerKept), now)
	})
	if errors.Is(err, errExpired) {
		// The unit rolled back: TIMEOUT is written apart, as a result would write it.
		// (Or finds it ended by the answer this one is a copy of, sent again.)
		ended, ferr := txs.Finish(ctx, id, provider.StatusTimeout)
		if ferr != nil {
			return "", ferr
		}
		return d.closed(ctx, decision, deviceID, challengeID, ended)
	}
	if errors.Is(err, store.ErrConflict) {
		if ended, gerr := d.store.GetTransaction(ctx, id); gerr == nil {
			return d.closed(ctx, decision, deviceID, challengeID, ended)
		}
		return "", fmt.Errorf("%w: answered concurrently", provider.ErrChallengeClosed)
	}
	if err != nil {
		return "", err
	}
	attrs := []any{"device", deviceID, "user", tx.Username, "challenge", challengeID, "status", string(status), "reason", reason}
	switch {
	case denied:
		// A denial is the user saying "that was not me": a fraud signal.
		d.log.Warn("push denied on the device: possible fraud", attrs...)
	case status == provider.StatusFailed:
		d.log.Warn("push approval refused", attrs...)
	default:
		d.log.Info("push answered", attrs...)
	}
	return status, nil
}

// A device's answer is remembered for answerKept, for the same device sending the same
// decision again within it, its 200 lost on a bad network: it is told the status its
// answer set (closed). An approval's SUCCESS is its own record (only the device's approval
// sets it); any other answer is kept under answerScope + the device id and answerKey, in
// the nonce store, by the unit that decides.
const (
	answerKept  = time.Hour
	answerScope = "device-answer:"
)

func answerKey(challengeID string, decision provider.Decision) string {
	return challengeID + " " + string(decision)
}

// closed answers a device's decision on its challenge tx, which is no longer pending.
// When this device's own answer ended it with this same decision (within answerKept),
// this is that answer sent again, its 200 lost on a bad network: it gets the status its
// answer set, with nothing decided or recorded again. Before, it was a 409, what a
// withdrawn or timed-out challenge gets, so the app could not tell "my answer took" from
// "it was withdrawn". Anything else is ErrChallengeClosed, as before (and a denial is kept
// as a late one, deniedLate): another decision, or a challenge withdrawn, timed out or
// ended by a poll, learns nothing it could not before.
func (d *Devices) closed(ctx context.Context, decision provider.Decision, deviceID, challengeID string, tx store.Transaction) (provider.Status, error) {
	again := false
	switch now := d.now(); {
	case decision == provider.Approve && tx.Status == string(provider.StatusSuccess):
		again = now.Before(tx.UpdatedAt.Add(answerKept))
	case marked(decision, provider.Status(tx.Status)):
		// A read of the marker the decision wrote: a nonce already expired (expires =
		// now) is written when there is none, so the read leaves nothing a later one would
		// take for a marker; only an unexpired one, the decision's, is a replay.
		err := d.store.UseNonce(ctx, answerScope+deviceID, answerKey(challengeID, decision), now, now)
		if err != nil && !errors.Is(err, store.ErrReplay) {
			return "", err
		}
		again = err != nil
	}
	if again {
		d.log.Info("push answer sent again", "device", deviceID, "user", tx.Username, "challenge", challengeID,
			"decision", string(decision), "status", tx.Status)
		return provider.Status(tx.Status), nil
	}
	d.deniedLate(ctx, decision, deviceID, challengeID, tx)
	return "", fmt.Errorf("%w: %s", provider.ErrChallengeClosed, tx.Status)
}

// marked says whether an answer with decision that ended a challenge status left a
// marker: approve FAILED (a wrong number, a refusal), deny FAILED, cancel CANCELED.
func marked(decision provider.Decision, status provider.Status) bool {
	switch decision {
	case provider.Approve:
		return status == provider.StatusFailed
	case provider.Deny:
		return status == provider.StatusFailed
	case provider.Cancel:
		return status == provider.StatusCanceled
	}
	return false
}

// lateDenialOnce is how long a denial of a challenge that had ended is remembered, so
// that denying it again (a retry on a bad network, a script with the device's key) is
// recorded again at most this often.
const lateDenialOnce = 24 * time.Hour

// deniedLate keeps the fraud signal of a denial that came after the device's challenge
// tx had ended: withdrawn by a newer one (a push-fatigue attack starts one after the
// other), timed out while the user read it, or approved before the user thought better of
// it. The answer is still ErrChallengeClosed and the challenge keeps its status; the
// denial is logged at WARN as a denial in time is, and recorded, once per challenge: a
// denial again (a retry, or a script signing with the device's key) is a debug line, not
// another fraud signal for an alert to count. One whose record fails is still logged at
// WARN. Before, it was only a 409: the "that was not me" was lost exactly when challenges
// came fast. A challenge that ended FAILED was denied or refused already, and is on record
// as such; a late approval or cancel is no signal.
func (d *Devices) deniedLate(ctx context.Context, decision provider.Decision, deviceID, challengeID string, tx store.Transaction) {
	if decision != provider.Deny || tx.Status == string(provider.StatusFailed) || tx.Status == string(provider.StatusPending) {
		return
	}
	reason := "denied after the challenge ended " + tx.Status
	attrs := []any{"device", deviceID, "user", tx.Username, "challenge", challengeID, "status", tx.Status, "reason", reason}
	now := d.now()
	err := d.store.Update(ctx, func(w store.Writer) error {
		if err := w.UseNonce(ctx, "device-denial:"+deviceID, challengeID, now.Add(lateDenialOnce), now); err != nil {
			return err
		}
		return w.AppendAudit(ctx, store.AuditEvent{Time: now, RequestID: provider.RequestID(ctx), Provider: tx.Provider, Username: tx.Username,
			Capability: tx.Capability, FactorID: deviceID, Resource: ResourceDeviceAnswer, Outcome: string(provider.StatusFailed), Reason: reason})
	})
	if errors.Is(err, store.ErrReplay) {
		d.log.Debug("push denied again after the challenge ended", attrs...)
		return
	}
	d.log.Warn("push denied on the device: possible fraud", attrs...)
	if err != nil {
		d.log.Warn("late denial not recorded", append(attrs, "error", err)...)
	}
}

// SigningString is what a device signs for a request: a version tag, then the device id,
// method, path (as sent, without the query), timestamp and nonce exactly as in their
// headers, and the lower-case hex SHA-256 of the body (of nothing, for a GET), joined by
// "\n" without a trailing newline.
func SigningString(deviceID, method, path, timestamp, nonce string, bodySHA256 [32]byte) string {
	return strings.Join([]string{"emfa-device-v1", deviceID, strings.ToUpper(method), path, timestamp, nonce,
		hex.EncodeToString(bodySHA256[:])}, "\n")
}

// GenerateDeviceKey makes a device key pair for alg (what `emfa device` and tests do;
// a real app keeps its key in the platform's keystore).
func GenerateDeviceKey(alg string) (crypto.Signer, error) {
	switch alg {
	case AlgES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgEd25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("%w: alg must be %s or %s", provider.ErrInvalidDeviceRequest, AlgES256, AlgEd25519)
}

// EncodePublicKey is the form registration takes: base64 of the DER SubjectPublicKeyInfo.
func EncodePublicKey(key crypto.Signer) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

// SignDevice signs a signing string and returns the signature header's value (base64):
// ES256 signs its SHA-256 and encodes the signature in ASN.1 DER; Ed25519 signs it as is.
func SignDevice(key crypto.Signer, msg string) (string, error) {
	var sig []byte
	var err error
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256([]byte(msg))
		sig, err = ecdsa.SignASN1(rand.Reader, k, digest[:])
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(msg))
	default:
		err = fmt.Errorf("unsupported device key %T", key)
	}
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// parsePublicKey reads a registered key and checks it suits alg.
func parsePublicKey(alg, b64 string) (crypto.PublicKey, error) {
	der, err := decodeBase64(b64)
	if err != nil || len(der) == 0 {
		return nil, fmt.Errorf("%w: publicKey must be base64 of a DER SubjectPublicKeyInfo", provider.ErrInvalidDeviceRequest)
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: publicKey: %v", provider.ErrInvalidDeviceRequest, err)
	}
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if alg == AlgES256 && k.Curve == elliptic.P256() {
			return k, nil
		}
	case ed25519.PublicKey:
		if alg == AlgEd25519 {
			return k, nil
		}
	}
	if alg != AlgES256 && alg != AlgEd25519 {
		return nil, fmt.Errorf("%w: alg must be %s or %s", provider.ErrInvalidDeviceRequest, AlgES256, AlgEd25519)
	}
	return nil, fmt.Errorf("%w: publicKey is not an %s key", provider.ErrInvalidDeviceRequest, alg)
}

func verifySignature(key crypto.PublicKey, msg, sig []byte) bool {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		digest := sha256.Sum256(msg)
		return ecdsa.VerifyASN1(k, digest[:], sig)
	case ed25519.PublicKey:
		return ed25519.Verify(k, msg, sig)
	}
	return false
}

// decodeBase64 accepts standard or URL-safe base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}
