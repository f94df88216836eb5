package adapter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
)

// ctxProvider is the echo context key under which handlers leave the provider, for its
// prefix in the access log: a pointer goes into the context's any unboxed, where the
// prefix, a string, cost an allocation on every contract call.
const ctxProvider = "emfa.provider"

// headerRequestID is echo.HeaderXRequestID in net/http's canonical form, the key
// http.Header keeps it under: Header.Get and Set canonicalize any other form again on
// every call.
const headerRequestID = "X-Request-Id"

// maxRequestIDLen bounds a caller's X-Request-Id that requestID keeps.
const maxRequestIDLen = 128

// safeRequestID reports whether id is 1 to 128 bytes of ASCII letters, digits and
// ".", "_", ":", "-": harmless in a log line. It reads as the regular expression
// ^[A-Za-z0-9._:-]{1,128}$ did, without running one on every request (~9k instructions
// for a 36-byte id, more than the rest of requestID).
func safeRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// requestID keeps a caller's X-Request-Id when it is harmless in a log line, else makes
// one, and echoes it in the response. The request's context carries it
// (lifecycle.WithRequestID), for every route: each audit record the request leads to —
// the admin API's, a SCIM write's, the self-service page's, a hook's events applied
// later by the sync worker, the device API's — has the id the access log has. The call's
// context keeps it too (callRequestID), for the handlers and the access log, which read
// it back from the response's headers otherwise.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := headerValue(c.Request().Header, headerRequestID)
		if !safeRequestID(id) {
			var b [12]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Response().Header()[headerRequestID] = []string{id} // as Header.Set writes it
		if cc, ok := c.(*callContext); ok {
			// The deadline puts it in the request's context with its own: one copy of
			// the request (WithContext) where two were made on every call.
			cc.requestID, cc.requestIDPending = id, true
			return next(c)
		}
		c.SetRequest(c.Request().WithContext(lifecycle.WithRequestID(c.Request().Context(), id)))
		return next(c)
	}
}

// callRequestID is the request's id as requestID set it in its answer's X-Request-Id:
// every log line and record of the request reads it here.
func callRequestID(c echo.Context) string {
	if cc, ok := c.(*callContext); ok && cc.requestID != "" {
		return cc.requestID
	}
	return headerValue(c.Response().Header(), headerRequestID)
}

// accessLog writes one line per request: never bodies, query strings or headers, so no
// code, passvalue or credential can reach the log.
func (s *Server) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		// The context as the request came: once next has run, the request carries the
		// deadline middleware's, which its own cancel has ended, and every 5xx would
		// look abandoned.
		ctx := c.Request().Context()
		err := next(c)
		if err != nil {
			c.Error(err) // answer now, so the status below is the one sent
		}
		status := c.Response().Status
		level := slog.LevelInfo
		switch {
		case status >= 500 && errors.Is(ctx.Err(), context.Canceled):
			level = slog.LevelWarn // its client abandoned it (logFault)
		case status >= 500 && c.Get(ctxAuthUnavailable) != nil:
			level = slog.LevelWarn // a token anyone can send (authenticate)
		case status >= 500:
			level = slog.LevelError
		case status >= 400:
			level = slog.LevelWarn
		case c.Path() == "/healthz" || c.Path() == "/readyz" || c.Path() == "/metrics": // probes and scrapes come every few seconds
			level = slog.LevelDebug
		}
		h := s.log.Handler()
		if !h.Enabled(ctx, level) {
			return nil
		}
		line := accessRecord{method: c.Request().Method, path: loggedPath(c), status: status,
			durationMS: float64(time.Since(start).Microseconds()) / 1000,
			bytes:      c.Response().Size, remote: c.RealIP(), requestID: callRequestID(c)}
		if p, ok := c.Get(ctxProvider).(*provider.Provider); ok {
			line.provider, line.hasProvider = p.CredentialPrefix, true
		}
		line.webhookID, line.hasWebhookID = callWebhookID(c)
		line.actor, _ = c.Get(ctxActor).(string)
		line.retry, _ = c.Get(ctxRetry).(bool)
		now := time.Now()
		if jh, ok := h.(*jsonLog); ok && jh.writeAccess(now, level, &line) {
			return nil // the line slog would write, written directly (NewLogHandler)
		}
		// To the handler, as s.log.LogAttrs would hand it, but without the caller's
		// program counter, which slog finds by walking the stack (a seventh of the line's
		// cost) for a source no emfa handler shows. Attrs rather than key-value pairs: no
		// value boxed into an interface.
		r := slog.NewRecord(now, level, "request", 0)
		r.AddAttrs(line.attrs()...)
		_ = h.Handle(ctx, r)
		return nil
	}
}

// recover turns a panic into a logged 500 JSON answer; the process goes on.
func (s *Server) recover(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				err = &Error{Status: http.StatusInternalServerError, ID: "internal_error", Msg: "internal error",
					Err: fmt.Errorf("panic: %v\n%s", r, debug.Stack())}
			}
		}()
		return next(c)
	}
}

// limitBody caps the request body; decode turns the overflow into a 413.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		limit := s.maxBody
		if n, _, ok := s.adminLimits(c); ok {
			limit = n
		}
		// A posting sync source refuses its own, once it has checked the secret, so that
		// the events it loses are counted (syncAPI.source).
		if c.Request().ContentLength > limit && !syncSourcePath(c.Path()) {
			return &Error{Status: http.StatusRequestEntityTooLarge, ID: "body_too_large", Msg: fmt.Sprintf("body exceeds %d bytes", limit)}
		}
		c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, limit)
		return next(c)
	}
}

// deadline bounds the whole call: Verify blocks a user's login on it. The request's
// context it makes carries the request's id too, when requestID left it to it.
func (s *Server) deadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		timeout := s.timeout
		if _, t, ok := s.adminLimits(c); ok {
			timeout = t // the connection's deadlines move once the caller is known (widenConn)
		} else if t := timeout + 5*time.Second; s.conn > 0 && t > s.conn {
			// A reload raised requestTimeout past what the server was started with.
			rc := http.NewResponseController(c.Response().Writer)
			_ = rc.SetReadDeadline(time.Now().Add(t))
			_ = rc.SetWriteDeadline(time.Now().Add(t))
		}
		ctx := c.Request().Context()
		if cc, ok := c.(*callContext); ok && cc.requestIDPending {
			ctx = lifecycle.WithRequestID(ctx, cc.requestID)
			cc.requestIDPending = false
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

// widenConn gives an authenticated import or sync batch its route's read and write
// deadlines: the server's are sized for contract calls, and the connection would be cut
// under it (errors ignored where the writer cannot say: a test recorder). Not before
// authentication: anyone could then hold a connection for an import's ten minutes.
func (s *Server) widenConn(c echo.Context) {
	if _, t, ok := s.adminLimits(c); ok {
		rc := http.NewResponseController(c.Response().Writer)
		_ = rc.SetReadDeadline(time.Now().Add(t))
		_ = rc.SetWriteDeadline(time.Now().Add(t))
	}
}

// isTooLarge reports whether err comes from reading past the body limit.
func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}
