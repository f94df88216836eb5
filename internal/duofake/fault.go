package duofake

import (
	"io"
	"net/http"
	"strings"
	"time"
)

type faultKind int

const (
	faultStatus faultKind = iota + 1
	faultHang
	faultDrip
	faultTruncate
	faultOversize
)

// Fault is a misbehaviour injected on one path with SetFault. Build one with Status, Hang,
// Drip, Truncate or Oversize. Every fault lets go of its request when the client goes away or
// the server stops, so none outlives its request.
type Fault struct {
	kind   faultKind
	status int
	body   string
	size   int
	every  time.Duration
	times  int
}

// Status answers code with body instead of anything DUO would say; Content-Type is sniffed, so
// an HTML error page reads as text/html.
func Status(code int, body string) Fault {
	return Fault{kind: faultStatus, status: code, body: body}
}

// Hang never answers: it holds the request until the client cancels or the server stops.
func Hang() Fault { return Fault{kind: faultHang} }

// Drip sends the real answer one byte per interval, flushing each, so a client with a deadline
// times out mid-body. The request still takes effect (a txid is created, a poll counted).
func Drip(every time.Duration) Fault { return Fault{kind: faultDrip, every: every} }

// Truncate sends the first half of the real answer with its real status in a well-framed body, so the
// HTTP exchange succeeds and JSON decoding fails. The request still takes effect.
func Truncate() Fault { return Fault{kind: faultTruncate} }

// Oversize answers 200 with a syntactically valid JSON body of n bytes (at least the size of
// its skeleton), to test that a client bounds what it reads.
func Oversize(n int) Fault { return Fault{kind: faultOversize, size: n} }

// Times limits the fault to the next n requests on its path; 0 means until ClearFault.
func (f Fault) Times(n int) Fault {
	f.times = n
	return f
}

// SetFault makes requests to path (e.g. "/auth/v2/auth_status") misbehave, before any checks.
// Requests are still recorded.
func (s *Server) SetFault(path string, f Fault) {
	if f.kind == 0 {
		panic("duofake: zero Fault; build one with Status, Hang, Drip, Truncate or Oversize")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[path] = &f
}

// ClearFault makes path behave again.
func (s *Server) ClearFault(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.faults, path)
}

func (s *Server) takeFault(path string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, found := s.faults[path]
	if !found {
		return Fault{}, false
	}
	taken := *f
	if f.times > 0 {
		f.times--
		if f.times == 0 {
			delete(s.faults, path)
		}
	}
	return taken, true
}

// serve writes the fault and returns what was answered, for the record. real computes the
// answer the fake would have given.
func (f Fault) serve(s *Server, w http.ResponseWriter, r *http.Request, real func() response) response {
	ctx := r.Context()
	switch f.kind {
	case faultStatus:
		w.WriteHeader(f.status)
		_, _ = w.Write([]byte(f.body))
		return response{status: f.status, reject: "fault: status"}

	case faultHang:
		select {
		case <-ctx.Done():
		case <-s.done:
		}
		return response{reject: "fault: hang"}

	case faultDrip:
		resp := real()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.status)
		f.drip(s, w, r, resp.body)
		resp.reject = join("fault: drip", resp.reject)
		return resp

	case faultTruncate:
		resp := real()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.status)
		_, _ = w.Write(resp.body[:len(resp.body)/2])
		resp.reject = join("fault: truncate", resp.reject)
		return resp

	case faultOversize:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		f.oversize(s, w, r)
		return response{status: http.StatusOK, reject: "fault: oversize"}
	}
	panic("duofake: unknown fault")
}

// drip writes body a byte at a time until it is done, the client leaves or the server stops.
func (f Fault) drip(s *Server, w http.ResponseWriter, r *http.Request, body []byte) {
	rc := http.NewResponseController(w)
	t := time.NewTimer(f.every)
	defer t.Stop()
	for i := range body {
		if i > 0 {
			t.Reset(f.every)
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			case <-s.done:
				return
			}
		}
		if _, err := w.Write(body[i : i+1]); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// oversize streams a valid JSON object of f.size bytes in chunks, stopping early when the
// client leaves or the server stops.
func (f Fault) oversize(s *Server, w http.ResponseWriter, r *http.Request) {
	const head, tail = `{"stat":"OK","response":{"padding":"`, `"}}`
	chunk := []byte(strings.Repeat("a", 32<<10))
	if _, err := io.WriteString(w, head); err != nil {
		return
	}
	for pad := max(f.size-len(head)-len(tail), 0); pad > 0; {
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		default:
		}
		n := min(pad, len(chunk))
		if _, err := w.Write(chunk[:n]); err != nil {
			return
		}
		pad -= n
	}
	_, _ = io.WriteString(w, tail)
}

func join(fault, reject string) string {
	if reject == "" {
		return fault
	}
	return fault + "; " + reject
}
