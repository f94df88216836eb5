package adapter

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// Observer learns what an operator counts at the HTTP edge: refused credentials (by API
// and reason), retries answered from their record, and store faults. telemetry.Metrics
// satisfies it.
type Observer interface {
	AuthFailure(api, reason string)
	Retry(provider, resource string)
	StoreError(operation string)
}

type nopObserver struct{}

func (nopObserver) AuthFailure(string, string) {}
func (nopObserver) Retry(string, string)       {}
func (nopObserver) StoreError(string)          {}

// observe counts refused credentials from the status every authenticator answers them
// with (401), so that each authenticator — Basic, header, admin tokens, devices, and
// whatever comes — is counted without a hook of its own, and the answers of a throttle
// of failed authentications (429, authThrottled): not every 429 is one (a second
// activation link within the minute, a code the send limit kept). It runs outside the
// access log, which has turned an error into its answer.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		switch c.Response().Status {
		case http.StatusUnauthorized:
			s.observer.AuthFailure(apiOf(c.Request().URL.Path), "unauthorized")
		case http.StatusTooManyRequests:
			if throttled, _ := c.Get(ctxAuthThrottled).(bool); throttled {
				s.observer.AuthFailure(apiOf(c.Request().URL.Path), "throttled")
			}
		}
		return err
	}
}

// ctxAuthThrottled marks a request a throttle of failed authentications refused (429),
// for observe.
const ctxAuthThrottled = "emfa.auth_throttled"

// apiOf names the API a path belongs to, from a fixed set (a label must stay bounded).
func apiOf(path string) string {
	switch {
	case strings.HasPrefix(path, "/v1/providers/"):
		return "contract"
	case strings.HasPrefix(path, "/v1/devices"):
		return "devices"
	case strings.HasPrefix(path, "/admin/"):
		return "admin"
	case path == "/metrics":
		return "metrics"
	}
	return "other"
}
