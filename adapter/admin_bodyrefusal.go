package adapter

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"

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

// adminBodies are the admin operations that take a body (a requestBody in the document),
// by "METHOD /path" as adminQueries are. Read at routing, as they are.
var adminBodies = sync.OnceValue(func() map[string]bool { return bodiesOf(adminOpenAPIFile) })

// bodiesOf reads which operations of doc take a body.
func bodiesOf(doc []byte) map[string]bool {
	var d struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		panic("adapter: admin_openapi.json: " + err.Error()) // embedded and validated by TestAdminOpenAPI
	}
	ops := map[string]bool{}
	for path, item := range d.Paths {
		for method, raw := range item {
			var op struct {
				RequestBody json.RawMessage `json:"requestBody"`
			}
			if json.Unmarshal(raw, &op) == nil && op.RequestBody != nil {
				ops[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	return ops
}

// noBody refuses a body that says something (a field, anything but {} or null) on an
// operation that takes none, as checkQuery refuses a query parameter it does not take:
// {"prefix":"a"} on GET /users listed every user, {"reason":"left"} on a disable was
// dropped, each answered as if it had been read.
func noBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if adminBodies()[operationOf(c.Request().Method, c.Path())] {
			return next(c)
		}
		var none struct{}
		if err := optionalBody(c, &none); err != nil {
			return err
		}
		return next(c)
	}
}
