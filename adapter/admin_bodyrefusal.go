package adapter

import (
	"errors"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/lifecycle"
)

// bodyRefusal marks an admin request refused for its body (not JSON, too large, an unknown
// or mistyped field) before the Manager saw it, so that the Manager did not record it.
type bodyRefusal struct{ err error }

func (e *bodyRefusal) Error() string { return e.err.Error() }
func (e *bodyRefusal) Unwrap() error { return e.err }

// bodyRefused is err marked a body refusal; nil stays nil.
func bodyRefused(err error) error {
	if err == nil {
		return nil
	}
	return &bodyRefusal{err: err}
}

// recordBodyRefusal records, as admin.refused FAILED under the token's name, a body that
// next refused before the Manager saw it: a help desk looking at a user's trail sees why
// an automation's change did nothing, as it sees the Manager's own refusals. It runs
// inside the Idempotency-Key handling, which answers the error itself.
func (api adminAPI) recordBodyRefusal(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		var br *bodyRefusal
		if errors.As(err, &br) {
			api.m.RefuseRequest(c.Request().Context(), actor(c), c.Request().Method, c.Path(),
				param(c, "user"), param(c, "factor"), refusalReason(br.err))
		}
		return err
	}
}

// refusalReason is a body refusal as its record says it: the code, the field and the
// message, which name keys of the body, never its values.
func refusalReason(err error) string {
	var le *lifecycle.Error
	var e *Error
	switch {
	case errors.As(err, &le):
		return le.Error()
	case errors.As(err, &e):
		return e.ID + ": " + e.Msg
	}
	return "body refused"
}
