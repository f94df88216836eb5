package adapter

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// headerWebhookID is HeaderWebhookID in net/http's canonical form, the key http.Header
// keeps it under: webhookID reads the map by it (headerValue), where Header.Get
// canonicalized any key again, this one too, on every contract call that reads it.
const headerWebhookID = "X-Webhook-Id"

// HeaderWebhookID is the header IBM Verify sends with every webhook call, the same on a
// retry (verify-contract.md §12).
const HeaderWebhookID = "X-Webhook-ID"

// maxWebhookIDLen bounds X-Webhook-ID, in bytes; a longer one is refused with 400.
const maxWebhookIDLen = 256

// Echo context keys for the access log and the recorder.
const (
	ctxWebhookID = "emfa.webhook_id"
	ctxRetry     = "emfa.retry"
	ctxInFlight  = "emfa.in_flight" // answered 503 retry_in_progress: another attempt runs
	// ctxKeysUnique: the body, as the handler will read it, was found to name no key
	// twice (checkUniqueKeys), so decode need not walk it again.
	ctxKeysUnique = "emfa.keys_unique"
)

// webhookID reads and checks X-Webhook-ID: "" when absent.
func webhookID(c echo.Context) (string, error) {
	id := headerValue(c.Request().Header, headerWebhookID)
	if id == "" {
		return "", nil
	}
	if len(id) > maxWebhookIDLen {
		return "", badRequest("X-Webhook-ID is longer than 256 bytes")
	}
	if strings.IndexFunc(id, unicode.IsControl) >= 0 {
		return "", badRequest("X-Webhook-ID has control characters")
	}
	// A header may carry any byte above 0x7f, which ranging over it reads as U+FFFD, no
	// control character. The ID is recorded (the idempotency record, the audit row), and
	// PostgreSQL's text holds only UTF-8: it refused the record, and every attempt and
	// retry answered 503, where SQLite ran the call.
	if !utf8.ValidString(id) {
		return "", badRequest("X-Webhook-ID is not UTF-8")
	}
	if cc, ok := c.(*callContext); ok {
		cc.webhookID = id // unboxed: callWebhookID
	} else {
		c.Set(ctxWebhookID, id)
	}
	return id, nil
}

// noteWebhookID keeps a lookup's or test's X-Webhook-ID for the access log, where an
// operator looks for the call Verify's log names. Those calls keep no record, and an ID a
// record could not take is not refused there, only left out of the log.
func noteWebhookID(c echo.Context) {
	_, _ = webhookID(c)
}

// idempotent makes initiate, validate and result with an X-Webhook-ID run at most once
// per provider, ID and request (verify-contract.md §12): the first attempt's answer is
// recorded in the store before it is sent, and a retry — on this replica or another —
// gets it again byte for byte without reaching the engine. It runs after authentication,
// so a recorded answer is only ever shown to an authenticated caller.
func (s *Server) idempotent(resource string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id, err := webhookID(c)
			if err != nil {
				return err
			}
			if id == "" || s.idem == nil {
				return next(c)
			}
			p, ok := s.providers[strings.ToLower(c.Param("prefix"))]
			if !ok {
				return next(c) // the handler answers 404; nothing to record
			}
			c.Set(ctxProvider, p)
			req := c.Request()
			body, err := peekBody(c)
			if err != nil {
				return err
			}
			var fp string
			switch {
			case len(bytes.TrimSpace(body)) == 0 && req.Method == http.MethodGet:
				// Sorted by name, each value apart: a=1&a=2 is not a=1,2.
				fp = s.idem.Key.FingerprintAsSent(resource, []byte(req.URL.Query().Encode()))
			case checkUniqueKeys(body) != nil:
				fp = s.idem.Key.FingerprintAsSent(resource, body) // refused, but not as another body
			default:
				c.Set(ctxKeysUnique, true)
				fp = s.idem.Key.Fingerprint(resource, body)
			}
			key := store.IdempotencyKey{Provider: p.CredentialPrefix, WebhookID: id, Fingerprint: fp}

			resp := c.Response()
			orig := resp.Writer
			do, late := s.idem.Do, p.ClaimsLate(resource)
			if late {
				do = s.idem.DoLate // the deciding unit claims: one pass through the writer
			}
			var header http.Header // the answer's headers before the first run, for another
			runs := 0
			ans, served, other, err := do(req.Context(), key, func(ctx context.Context) (provider.Answer, error) {
				// DoLate runs the handler again after another attempt's claim turned out
				// dead: that run starts as the first did, with the whole body to read and no
				// answer written. Before, it read the body the first had drained and
				// recorded a 400 for a well-formed request.
				if runs++; runs == 1 && late {
					header = orig.Header().Clone()
				} else if runs > 1 {
					req.Body = io.NopCloser(bytes.NewReader(body))
					resp.Committed, resp.Status, resp.Size = false, http.StatusOK, 0
					clear(orig.Header())
					maps.Copy(orig.Header(), header)
				}
				// Run the handler into a buffer: the answer is recorded before it is sent,
				// so a crash after it was sent can never make a retry execute again.
				buf := &captureWriter{header: orig.Header()}
				resp.Writer = buf
				defer func() { resp.Writer = orig }()
				c.SetRequest(req.WithContext(ctx))
				if err := next(c); err != nil {
					c.Error(err)
				}
				return provider.Answer{Status: resp.Status, Body: buf.body.Bytes()}, nil
			})
			resp.Writer = orig
			if err != nil {
				// What the handler wrote into the buffer is not sent: the error is, in its
				// place. Left committed, the error was not written at all, and Verify got
				// an empty 200.
				resp.Committed, resp.Size = false, 0
			}
			var rerr *provider.RecordError
			switch {
			case errors.As(err, &rerr):
				// What the call wrote is not known to be durable: its answer is not sent.
				s.storeError(req, err)
				return &Error{Status: http.StatusServiceUnavailable, ID: "unavailable", Msg: "store unavailable; retry", Err: err}
			case errors.Is(err, provider.ErrAnswerRecorded):
				// The decision's answer is recorded; this attempt's is not sent. The retry
				// gets the recorded one.
				s.log.Warn("answer differs from the one recorded with its decision; not sent, a retry gets the recorded one",
					"webhook_id", id, "provider", p.CredentialPrefix, "resource", resource, "err", err)
				return &Error{Status: http.StatusServiceUnavailable, ID: "unavailable", Msg: "a backend is unavailable; retry", Err: err}
			case errors.Is(err, provider.ErrInFlight):
				c.Set(ctxInFlight, true)
				return &Error{Status: http.StatusServiceUnavailable, ID: "retry_in_progress",
					Msg: "the first attempt of this request is still running; retry", Err: err}
			case err != nil:
				s.storeError(req, err)
				return &Error{Status: http.StatusServiceUnavailable, ID: "unavailable", Msg: "store unavailable; retry", Err: err}
			}
			if other {
				s.log.Warn("X-Webhook-ID reused with a different request: executed as a new request",
					"webhook_id", id, "provider", p.CredentialPrefix, "resource", resource)
			}
			if served == provider.Replayed {
				c.Set(ctxRetry, true)
				s.retries.Add(1)
				s.observer.Retry(p.CredentialPrefix, resource)
				s.log.Info("retry answered from its first attempt's record",
					"webhook_id", id, "provider", p.CredentialPrefix, "resource", resource, "status", ans.Status)
				resp.Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
				return c.Blob(ans.Status, echo.MIMEApplicationJSON, ans.Body)
			}
			// Executed here: the handler already set the headers; send what was recorded.
			orig.WriteHeader(ans.Status)
			n, _ := orig.Write(ans.Body)
			resp.Size = int64(n)
			return nil
		}
	}
}

// captureWriter holds an answer until it is recorded; headers go to the real response.
type captureWriter struct {
	header http.Header
	body   bytes.Buffer
}

func (w *captureWriter) Header() http.Header         { return w.header }
func (w *captureWriter) Write(b []byte) (int, error) { return w.body.Write(b) }
func (w *captureWriter) WriteHeader(int)             {}

// storeError counts a fault of the idempotency records, unless the request's client gave
// up on it (its context canceled): that is no store fault, and alerts on the count.
func (s *Server) storeError(req *http.Request, err error) {
	if provider.Abandoned(req.Context(), err) {
		return
	}
	s.observer.StoreError("idempotency")
}

// callWebhookID is the X-Webhook-ID webhookID kept for the call; false when none.
func callWebhookID(c echo.Context) (string, bool) {
	if cc, ok := c.(*callContext); ok && cc.webhookID != "" {
		return cc.webhookID, true
	}
	id, ok := c.Get(ctxWebhookID).(string)
	return id, ok
}
