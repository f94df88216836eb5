// Package duofake is a strict, in-process fake of DUO's Auth API v2 for tests.
//
// It is written from DUO's documented behaviour, not from any client: every request must carry
// a parseable, fresh Date header and a valid HMAC-SHA1 signature (the v2 canonical string), POST
// parameters must be a form body, and required parameters are enforced. Tests script users,
// devices, push outcomes and passcodes, inspect what the fake was sent, and inject transport
// faults (error pages, hangs, slow drips, truncated or oversized bodies).
package duofake

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"
)

// DefaultMaxSkew is how far a request's Date may be from the fake's clock when Options.MaxSkew
// is zero.
const DefaultMaxSkew = 5 * time.Minute

// Options configure a Server.
type Options struct {
	// IntegrationKey and SecretKey are the credentials requests must be signed with.
	IntegrationKey string
	SecretKey      string
	// Clock is the fake's notion of now, for Date-skew checks and /check; default time.Now.
	Clock func() time.Time
	// MaxSkew is the largest accepted |Date - Clock()|; default DefaultMaxSkew.
	MaxSkew time.Duration
	// TLS serves https with a self-signed certificate; use Client to trust it.
	TLS bool
}

// Device is one of a user's DUO devices as preauth lists it.
type Device struct {
	ID          string // DUO device ID, e.g. "DPFZRS9FB0D46QFTM891"
	Type        string // "phone" or "token"
	Name        string
	Number      string // shown as given; DUO masks it, e.g. "XXX-XXX-0100"
	DisplayName string
	// Capabilities among "auto", "push", "sms", "phone", "mobile_otp"; a token usually has none.
	Capabilities []string
}

// Step is one auth_status answer in a scripted transaction.
type Step struct {
	Result    string // "waiting", "allow" or "deny"
	Status    string // e.g. "pushed", "allow", "deny", "fraud", "timeout"
	StatusMsg string
}

// Steps DUO documents for auth_status. Waiting, Calling and Answered keep a transaction open;
// the others end it.
var (
	Waiting    = Step{Result: "waiting", Status: "pushed", StatusMsg: "Pushed a login request to your device..."}
	Calling    = Step{Result: "waiting", Status: "calling", StatusMsg: "Calling your phone..."}
	Answered   = Step{Result: "waiting", Status: "answered", StatusMsg: "Answered. Press any key on your phone to log in."}
	Allow      = Step{Result: "allow", Status: "allow", StatusMsg: "Success. Logging you in..."}
	Deny       = Step{Result: "deny", Status: "deny", StatusMsg: "Login request denied."}
	Fraud      = Step{Result: "deny", Status: "fraud", StatusMsg: "Login request reported as fraudulent."}
	Timeout    = Step{Result: "deny", Status: "timeout", StatusMsg: "Login request timed out."}
	PushFailed = Step{Result: "deny", Status: "push_failed", StatusMsg: "Push notification failed."}
	LockedOut  = Step{Result: "deny", Status: "locked_out", StatusMsg: "Your account is disabled."}
	// SMSSent is what auth_status answers for an sms transaction: codes went out, none entered.
	SMSSent = Step{Result: "deny", Status: "sent", StatusMsg: "New SMS passcodes sent."}
)

// Recorded is one request the fake received, whatever it answered.
type Recorded struct {
	Method string
	Path   string
	Query  url.Values
	Form   url.Values // the parsed form body of a POST; nil when there was none
	Body   []byte     // the raw body, to check its encoding
	Header http.Header
	Status int    // HTTP status the fake answered; 0 if a fault never answered
	Reject string // why the fake refused it or which fault it injected; "" if served normally
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	opts Options
	ts   *httptest.Server
	done chan struct{} // closed on shutdown so hanging faults let go
	stop sync.Once

	mu       sync.Mutex
	users    map[string]*user
	txns     map[string]*txn
	faults   map[string]*Fault
	requests []Recorded
	inflight int
	idle     chan struct{} // closed while inflight == 0
}

type user struct {
	devices   []Device
	passcodes []string // valid and unused
	scripts   [][]Step // for the next push, phone or auto transactions, in order
	lockedOut bool
	sms       []string // codes sent by sms auths, oldest first
}

type txn struct {
	steps []Step
	polls int
}

// New starts a fake on loopback and stops it when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.MaxSkew == 0 {
		opts.MaxSkew = DefaultMaxSkew
	}
	idle := make(chan struct{})
	close(idle)
	s := &Server{
		opts:   opts,
		done:   make(chan struct{}),
		users:  map[string]*user{},
		txns:   map[string]*txn{},
		faults: map[string]*Fault{},
		idle:   idle,
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveHTTP(t, w, r) })
	if opts.TLS {
		s.ts = httptest.NewTLSServer(h)
	} else {
		s.ts = httptest.NewServer(h)
	}
	t.Cleanup(s.close)
	return s
}

// close releases hanging faults first: httptest.Server.Close waits for every handler.
func (s *Server) close() {
	s.stop.Do(func() {
		close(s.done)
		s.ts.Close()
	})
}

// URL is the base URL, e.g. "http://127.0.0.1:40123".
func (s *Server) URL() string { return s.ts.URL }

// Host is host:port as a client must sign it (and send it in the Host header).
func (s *Server) Host() string { return s.ts.Listener.Addr().String() }

// Client returns an HTTP client that trusts the fake's certificate when Options.TLS is set.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// userLocked returns the named user, creating one without devices; s.mu must be held.
func (s *Server) userLocked(username string) *user {
	u, ok := s.users[username]
	if !ok {
		u = &user{}
		s.users[username] = u
	}
	return u
}

// AddUser makes username known with the given devices, replacing any devices it had. A user
// without devices answers preauth with "enroll".
func (s *Server) AddUser(username string, devices ...Device) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userLocked(username)
	u.devices = make([]Device, len(devices))
	for i, d := range devices {
		d.Capabilities = slices.Clone(d.Capabilities)
		u.devices[i] = d
	}
}

// SetPushOutcome scripts the next push, phone or auto transaction of username: its n-th
// auth_status poll answers steps[n], and polls past the end repeat the last step. Calling it
// again before that transaction starts queues a script for the one after. Without a script a
// transaction answers Allow.
func (s *Server) SetPushOutcome(username string, steps ...Step) {
	if len(steps) == 0 {
		panic("duofake: SetPushOutcome needs at least one step")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userLocked(username)
	u.scripts = append(u.scripts, slices.Clone(steps))
}

// SetPasscode replaces the passcodes username may use with factor=passcode. Each is single-use,
// like DUO's SMS and token passcodes. Codes sent by an sms auth are added to this set.
func (s *Server) SetPasscode(username string, passcodes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userLocked(username).passcodes = slices.Clone(passcodes)
}

// LockOut marks username locked out: preauth answers deny, and every auth answers status
// locked_out.
func (s *Server) LockOut(username string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userLocked(username).lockedOut = true
}

// SentPasscode is the last passcode an sms auth "sent" to username.
func (s *Server) SentPasscode(username string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[username]
	if !ok || len(u.sms) == 0 {
		return "", false
	}
	return u.sms[len(u.sms)-1], true
}

// Requests returns copies of every request received so far, in arrival order.
func (s *Server) Requests() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Recorded, len(s.requests))
	for i, r := range s.requests {
		r.Query = cloneValues(r.Query)
		r.Form = cloneValues(r.Form)
		r.Body = slices.Clone(r.Body)
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// Count is how many requests arrived for path, whatever the fake answered.
func (s *Server) Count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if r.Path == path {
			n++
		}
	}
	return n
}

// Polls is how many auth_status answers the fake served for txid.
func (s *Server) Polls(txid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tx, ok := s.txns[txid]; ok {
		return tx.polls
	}
	return 0
}

// WaitIdle blocks until no request is being handled, so a test can show that a fault let go
// of its request once the client gave up.
func (s *Server) WaitIdle(ctx context.Context) error {
	s.mu.Lock()
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("duofake: requests still in flight: %w", ctx.Err())
	}
}

func (s *Server) enter() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight == 0 {
		s.idle = make(chan struct{})
	}
	s.inflight++
}

func (s *Server) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight--
	if s.inflight == 0 {
		close(s.idle)
	}
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// newTxid returns a random UUID, the form DUO's txids take.
func newTxid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newPasscode returns a random 6-digit code like those DUO sends by SMS.
func newPasscode() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	n := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) % 1000000
	return fmt.Sprintf("%06d", n)
}
