package adapter

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/provider"
)

// Recorder receives every contract call, and every device answer, once it has been
// handled (emfa serve --record). Record runs on the request's goroutine before the answer
// is released to the caller, so what it looks up (the factor a call named) is the state
// that call left, not a later one's; it must be quick.
type Recorder interface {
	Record(c RecordedCall)
}

// ResourceDevice is the Resource of a recorded device answer (POST
// /v1/devices/challenges/{id}): the push approval, denial or cancellation a device sent.
const ResourceDevice = "device"

// RecordedCall is one contract call (or device answer) as it happened.
type RecordedCall struct {
	Time      time.Time
	RequestID string
	Provider  string // as addressed in the path; "" for a device answer
	Resource  string // enrollments, initiate, validate, result, test, device, or what the path said
	Method    string
	// Auth is "" for a call that passed authentication, else "none" (no credentials
	// came) or "wrong".
	Auth string
	// Challenge is the challenge a device answered (its transactionId).
	Challenge string
	Query     string // the URL's query as received (a GET result's parameters)
	Request   []byte // the body as received (up to the body limit)
	Status    int
	Response  []byte
	Exchanges []provider.Exchange // the vendor calls it caused
}

// record observes the contract calls and device answers for the Recorder. It changes no
// answer: the body the handler reads is copied as it reads it, the answer is held until
// it is recorded and then sent as written.
func (s *Server) record(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		path := req.URL.Path
		device := req.Method == http.MethodPost && strings.HasPrefix(path, "/v1/devices/challenges/")
		if s.recorder == nil || (!strings.HasPrefix(path, "/v1/providers/") && !device) {
			return next(c)
		}
		start := time.Now()
		// Read the body now (within the limit) so it is recorded even when the handler
		// never reads it (a call refused before decoding); the handler reads the same bytes.
		in, err := io.ReadAll(io.LimitReader(req.Body, s.maxBody))
		if err != nil {
			in = nil
		}
		req.Body = readCloser{io.MultiReader(bytes.NewReader(in), req.Body), req.Body}
		ctx, exchanges := provider.WithExchanges(req.Context())
		c.SetRequest(req.WithContext(ctx))
		resp := c.Response()
		held := &heldWriter{ResponseWriter: resp.Writer}
		resp.Writer = held
		defer held.release()

		if err := next(c); err != nil {
			c.Error(err) // answer now, so what is recorded is what was sent
		}
		retry, _ := c.Get(ctxRetry).(bool)
		inFlight, _ := c.Get(ctxInFlight).(bool)
		if retry || inFlight {
			// Answered from the first attempt's record, or told that attempt still runs
			// (here or on another replica): not a call of its own. Its first attempt is
			// recorded where it ran; a replay, with no other attempt, would execute it.
			return nil
		}
		call := RecordedCall{
			Time: start, RequestID: callRequestID(c), Method: req.Method,
			Query: req.URL.RawQuery, Request: in, Status: resp.Status, Response: held.buf.Bytes(), Exchanges: exchanges.List(),
		}
		if device {
			call.Resource, call.Challenge = ResourceDevice, strings.TrimPrefix(path, "/v1/devices/challenges/")
		} else {
			parts := strings.Split(strings.Trim(strings.TrimPrefix(path, "/v1/providers/"), "/"), "/")
			call.Provider = parts[0]
			if len(parts) > 1 {
				call.Resource = parts[len(parts)-1]
			}
		}
		if resp.Status == http.StatusUnauthorized && !device {
			call.Auth = "wrong"
			if req.Header.Get("Authorization") == "" && (s.auth.header == "" || req.Header.Get(s.auth.header) == "") {
				call.Auth = "none"
			}
		}
		s.recorder.Record(call)
		return nil
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}

// heldWriter keeps an answer (status and body; headers go to the real writer's map) until
// release sends it.
type heldWriter struct {
	http.ResponseWriter
	status   int
	buf      bytes.Buffer
	released bool
}

func (h *heldWriter) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}

func (h *heldWriter) Write(p []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return h.buf.Write(p)
}

// Flush is a no-op until release: nothing is sent before the call is recorded.
func (h *heldWriter) Flush() {}

func (h *heldWriter) release() {
	if h.released {
		return
	}
	h.released = true
	if h.status == 0 {
		return // nothing was written: net/http answers as it would have
	}
	h.ResponseWriter.WriteHeader(h.status)
	h.ResponseWriter.Write(h.buf.Bytes())
}
