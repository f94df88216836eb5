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

// Recorder receives every contract call once it has been answered (emfa serve --record).
// Record must not block: it runs on the request's goroutine after the answer is written.
type Recorder interface {
	Record(c RecordedCall)
}

// RecordedCall is one contract call as it happened.
type RecordedCall struct {
	Time      time.Time
	RequestID string
	Provider  string // as addressed in the path
	Resource  string // enrollments, initiate, validate, result, test, or what the path said
	Method    string
	// Auth is "" for a call that passed authentication, else "none" (no credentials
	// came) or "wrong".
	Auth      string
	Request   []byte // the body as received (up to the body limit)
	Status    int
	Response  []byte
	Exchanges []provider.Exchange // the vendor calls it caused
}

// record observes the contract calls for the Recorder. It changes nothing: the body the
// handler reads is copied as it reads it, the answer as it is written.
func (s *Server) record(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		path := c.Request().URL.Path
		if s.recorder == nil || !strings.HasPrefix(path, "/v1/providers/") {
			return next(c)
		}
		start := time.Now()
		var out bytes.Buffer
		req := c.Request()
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
		resp.Writer = &teeWriter{ResponseWriter: resp.Writer, buf: &out}

		if err := next(c); err != nil {
			c.Error(err) // answer now, so what is recorded is what was sent
		}
		parts := strings.Split(strings.Trim(strings.TrimPrefix(path, "/v1/providers/"), "/"), "/")
		call := RecordedCall{
			Time: start, RequestID: resp.Header().Get(echo.HeaderXRequestID), Method: req.Method,
			Provider: parts[0], Request: in, Status: resp.Status, Response: out.Bytes(),
			Exchanges: exchanges.List(),
		}
		if len(parts) > 1 {
			call.Resource = parts[len(parts)-1]
		}
		if resp.Status == http.StatusUnauthorized {
			call.Auth = "wrong"
			if req.Header.Get("Authorization") == "" && (s.auth.header == "" || req.Header.Get(s.auth.header) == "") {
				call.Auth = "none"
			}
		}
		if retry, _ := c.Get(ctxRetry).(bool); retry {
			return nil // answered from the first attempt's record: not a call of its own
		}
		s.recorder.Record(call)
		return nil
	}
}

type readCloser struct {
	io.Reader
	io.Closer
}

type teeWriter struct {
	http.ResponseWriter
	buf *bytes.Buffer
}

func (t *teeWriter) Write(p []byte) (int, error) {
	t.buf.Write(p)
	return t.ResponseWriter.Write(p)
}
