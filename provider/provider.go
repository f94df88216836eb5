// Package provider is the engine port: the contract types of IBM Verify's external-MFA
// webhook and the Engine interface that the HTTP adapter calls. It knows nothing about
// HTTP, TOTP or vendors; engines (provider/builtin, provider/remote) implement it.
package provider

import (
	"context"
	"errors"
	"time"
)

// Status is the outcome vocabulary Verify understands, spelled exactly as Verify expects.
type Status string

const (
	StatusSuccess  Status = "SUCCESS"
	StatusPending  Status = "PENDING"
	StatusFailed   Status = "FAILED"
	StatusCanceled Status = "CANCELED"
	StatusTimeout  Status = "TIMEOUT"
)

// Flow is the integration pattern announced per enrollment in attributes.authExecutionFlow.
type Flow string

const (
	FlowValidate         Flow = "validate"
	FlowInitThenValidate Flow = "init_then_validate"
	FlowInitThenPoll     Flow = "init_then_poll"
)

// Enrollment is one usable factor of a user, as listed by the enrollments resource.
type Enrollment struct {
	Capability string         `json:"capability"`
	ID         string         `json:"id"`
	Attributes map[string]any `json:"attributes"`
}

// Request is what Verify sends to initiate, validate and result. Username and Passvalue are
// lifted out of Attributes by the adapter; Attributes keeps everything Verify sent.
type Request struct {
	// Capability is bare: the adapter has already removed a "{credentialPrefix}:" prefix.
	Capability    string
	ID            string
	TransactionID string
	Username      string
	Passvalue     string
	Attributes    map[string]any
	// RequestID correlates the call with the access and audit logs.
	RequestID string
	// WebhookID is Verify's X-Webhook-ID, when it sent one (verify-contract.md §12).
	WebhookID string
}

// Outcome is the answer to initiate, validate, result and test.
type Outcome struct {
	Status        Status         `json:"status"`
	TransactionID string         `json:"transactionId,omitempty"`
	Attributes    map[string]any `json:"attributes,omitempty"`
	// Reason says why an outcome is what it is, for logs and audit only: Verify (and so
	// an attacker probing it) sees the uniform status, never the reason.
	Reason string `json:"-"`
	// RetryAt, for a refusal by a limit (a code's send limits), is when the limit would
	// allow it again: the admin API's Retry-After. Verify never sees it either.
	RetryAt time.Time `json:"-"`
}

// Failed returns a FAILED outcome carrying an internal reason.
func Failed(reason string) Outcome { return Outcome{Status: StatusFailed, Reason: reason} }

// Engine serves one provider's factors. Business outcomes (wrong code, unknown user,
// unknown transaction) are Outcomes with a nil error; a non-nil error is a server fault
// (store down, bug) that the adapter answers with a 5xx — a store that did not answer
// before the request deadline (context.DeadlineExceeded) included. A vendor, sender or
// notifier that fails or is too slow is the engine's business: FAILED (or no
// enrollments), never an error.
type Engine interface {
	// Enrollments lists the user's usable factors; an unknown or disabled user yields an
	// empty list, never an error. The Provider filters the list to its capabilities.
	Enrollments(ctx context.Context, username string) ([]Enrollment, error)
	Initiate(ctx context.Context, req Request) (Outcome, error)
	Validate(ctx context.Context, req Request) (Outcome, error)
	Result(ctx context.Context, req Request) (Outcome, error)
	// Test reports whether the backend is reachable (Verify's connection test).
	Test(ctx context.Context) (Outcome, error)
}

// UnitDecider is implemented by an engine whose calls of some resources write nothing,
// and reach nothing outside emfa (no vendor, no sender), before their first unit of
// writes (Decide): they only read and compute until then. An idempotent call of such a
// resource claims its record in that unit (Idempotency.DoLate) rather than in a pass of
// its own through the store's writer before it runs. An engine that cannot promise it
// for a resource says false: its calls claim first (Idempotency.Do).
type UnitDecider interface {
	DecidesInOneUnit(resource string) bool
}

// Ender is implemented by an engine that keeps its transactions: Ended answers a result
// on req's transaction as it ended, when it has (ok), reading only. The Provider asks it
// before refusing a result (the capability switched off, a policy's denial, the provider
// disabled): contract §7 has every poll after the end answer the same terminal status.
type Ender interface {
	Ended(ctx context.Context, req Request) (answer Outcome, ok bool, err error)
}

// ResultRefuser is implemented by an engine that keeps its transactions and can end
// one: RefuseResult answers a result the Provider refuses (the capability switched off,
// a policy's denial, the provider disabled) as its transaction ended, when it has, and
// otherwise ends the transaction, still pending, with refusal, in the unit that records
// the answer. A poll answered FAILED is terminal for Verify (contract §7): without the
// end, the challenge could still be approved, and a later poll answer SUCCESS once the
// refusal is lifted. The Provider asks it in place of Ender's Ended.
type ResultRefuser interface {
	RefuseResult(ctx context.Context, req Request, refusal Outcome) (Outcome, error)
}

// Closer is implemented by engines that hold resources (HTTP clients, token sources).
type Closer interface {
	Close() error
}

// ErrUnavailable marks a backend fault an engine wants reported as a server error.
var ErrUnavailable = errors.New("backend unavailable")
