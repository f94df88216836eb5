package adapter

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
)

// Error is the one error type that carries an HTTP status to the error handler. Msg is
// what the caller sees; Err is the internal cause, logged and never shown.
type Error struct {
	Status int
	ID     string
	Msg    string
	Err    error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// errorBody mirrors the error body of IBM Verify's own APIs.
type errorBody struct {
	MessageID          string `json:"messageId"`
	MessageDescription string `json:"messageDescription"`
}

func badRequest(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, ID: "invalid_request", Msg: msg}
}

// failureKind says where an error's classification came from.
type failureKind int

const (
	unclassified failureKind = iota // no handler classified it: a backend's fault
	refusal                         // a lifecycle.Error: the rules refused the request
	adapterError                    // an *Error an adapter handler or middleware made
	routerError                     // an *echo.HTTPError: no route, a wrong method, a body too large
)

// failure is what an error means to whoever answers it, the same on every surface (the
// contract, the admin API, SCIM, the self-service page); each renders it in its own
// format.
type failure struct {
	Kind   failureKind
	Status int
	// ID is the adapter's id for it (Error.ID, or idFor a router's status; unavailable for
	// an unclassified error); "" for a refusal, which has its own Code, and for an *Error
	// made without one.
	ID  string
	Msg string // what the caller may see, never the cause
	// Refusal is the lifecycle refusal (Kind refusal): its code, field and Retry-After.
	Refusal *lifecycle.Error
	// Fault: a server fault, logged with its cause (logFault).
	Fault bool
}

// classify is the one reading of an error every surface's renderer shares. A refusal
// has the status its kind says (429 when a limit refused it for now); an error nobody
// classified is a backend's fault (the store unreachable, a disk that refuses writes, a
// mail server down): 503 unavailable, which tells the caller that the same request may
// succeed later.
func classify(err error) failure {
	var le *lifecycle.Error
	var e *Error
	var he *echo.HTTPError
	var f failure
	switch {
	case errors.As(err, &le):
		f = failure{Kind: refusal, Status: adminStatus[le.Kind], Msg: le.Msg, Refusal: le}
		if le.RetryAfter > 0 {
			f.Status = http.StatusTooManyRequests
		}
	case errors.As(err, &e):
		f = failure{Kind: adapterError, Status: e.Status, ID: e.ID, Msg: e.Msg}
	case errors.As(err, &he):
		f = failure{Kind: routerError, Status: he.Code, ID: idFor(he.Code), Msg: http.StatusText(he.Code)}
	default:
		u := unavailable(err)
		f = failure{Kind: unclassified, Status: u.Status, ID: u.ID, Msg: u.Msg}
	}
	f.Fault = f.Status >= 500
	return f
}

var adminStatus = map[lifecycle.Kind]int{
	lifecycle.Invalid: http.StatusBadRequest, lifecycle.NotFound: http.StatusNotFound, lifecycle.Conflict: http.StatusConflict,
	lifecycle.Refused: http.StatusUnprocessableEntity, lifecycle.Forbidden: http.StatusForbidden, lifecycle.Unauthorized: http.StatusUnauthorized,
}

// handleError answers every error as JSON, never an HTML page (but under the
// self-service page's address, a person's browser's: pageError), and logs server faults,
// each as classify reads it. Only a panic, emfa's own fault, is a 500.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed || s.adminError(err, c) || s.scimErrorOf(err, c) || s.pageError(err, c) {
		return
	}
	f := classify(err)
	if f.Fault {
		s.logFault(c, err)
		if f.ID == "" {
			f.ID, f.Msg = "internal_error", "internal error"
		}
	}
	if f.ID == "" {
		f.ID = idFor(f.Status)
	}
	var werr error
	if c.Request().Method == http.MethodHead {
		werr = c.NoContent(f.Status)
	} else {
		werr = c.JSON(f.Status, errorBody{MessageID: f.ID, MessageDescription: f.Msg})
	}
	if werr != nil {
		s.log.Debug("write error response", "err", werr)
	}
}

// logFault logs a 5xx's cause. A request its client abandoned (Verify's own timeout, a
// closed connection) failed because of that, not of emfa: a warning that says so, not an
// error that pages someone.
func (s *Server) logFault(c echo.Context, err error) {
	attrs := []any{"path", c.Path(), "request_id", callRequestID(c), "err", err}
	if provider.Abandoned(c.Request().Context(), err) {
		s.log.Warn("request abandoned by its client before it was answered", attrs...)
		return
	}
	s.log.Error("server fault", attrs...)
}

func idFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "body_too_large"
	case http.StatusServiceUnavailable:
		return "unavailable"
	}
	return "error"
}
