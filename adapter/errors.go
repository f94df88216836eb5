package adapter

import (
	"errors"
	"net/http"

	"github.com/emfa/emfa/provider"
	"github.com/labstack/echo/v4"
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

// handleError answers every error as JSON, never an HTML page (but under the
// self-service page's address, a person's browser's: pageError), and logs server faults.
// An error no handler classified is a backend's fault (the store unreachable, a disk that
// refuses writes, a mail server down): 503 unavailable, which tells Verify, a device or a
// provisioning client that the same request may succeed later. Only a panic, emfa's own
// fault, is a 500.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed || s.adminError(err, c) || s.scimErrorOf(err, c) || s.pageError(err, c) {
		return
	}
	var e *Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &e):
	case errors.As(err, &he):
		e = &Error{Status: he.Code, ID: idFor(he.Code), Msg: http.StatusText(he.Code)}
	default:
		e = unavailable(err)
	}
	if e.Status >= 500 {
		s.logFault(c, err)
		if e.ID == "" {
			e.ID, e.Msg = "internal_error", "internal error"
		}
	}
	if e.ID == "" {
		e.ID = idFor(e.Status)
	}
	var werr error
	if c.Request().Method == http.MethodHead {
		werr = c.NoContent(e.Status)
	} else {
		werr = c.JSON(e.Status, errorBody{MessageID: e.ID, MessageDescription: e.Msg})
	}
	if werr != nil {
		s.log.Debug("write error response", "err", werr)
	}
}

// logFault logs a 5xx's cause. A request its client abandoned (Verify's own timeout, a
// closed connection) failed because of that, not of emfa: a warning that says so, not an
// error that pages someone.
func (s *Server) logFault(c echo.Context, err error) {
	attrs := []any{"path", c.Path(), "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "err", err}
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
