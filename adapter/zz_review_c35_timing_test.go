package adapter

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// heldSMTP is a mail server on loopback that holds each message's DATA until the test
// releases it: a slow relay, without timing.
type heldSMTP struct {
	ln      net.Listener
	held    chan struct{} // a message's DATA arrived, and is held
	release chan struct{} // closed: every held message is taken (250)
	mu      sync.Mutex
	taken   int // messages answered 250 and followed by QUIT
	codes   []string
	wg      sync.WaitGroup
}

func newHeldSMTP(t *testing.T) *heldSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &heldSMTP{ln: ln, held: make(chan struct{}, 16), release: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		select {
		case <-s.release:
		default:
			close(s.release)
		}
		s.wg.Wait()
	})
	return s
}

func (s *heldSMTP) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

func (s *heldSMTP) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(line string) bool { _, err := c.Write([]byte(line + "\r\n")); return err == nil }
	if !say("220 held.example ESMTP") {
		return
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 held.example")
		case cmd == "DATA":
			say("354 go on")
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				if m := sentCodeRE.FindStringSubmatch(l); m != nil {
					s.mu.Lock()
					s.codes = append(s.codes, m[1])
					s.mu.Unlock()
				}
			}
			s.held <- struct{}{}
			<-s.release
			say("250 taken")
		case cmd == "QUIT":
			s.mu.Lock()
			s.taken++
			s.mu.Unlock()
			say("221 bye")
			return
		default: // MAIL, RCPT, RSET, NOOP
			say("250 ok")
		}
	}
}

func (s *heldSMTP) messages() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.taken
}

// heldMailPage is the page with e-mailed codes sent through s, and alice with such a
// factor.
func heldMailPage(t *testing.T, s *heldSMTP) *adminHarness {
	t.Helper()
	st := testdb.SQLite(t)
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	mail, err := delivery.NewSMTP(delivery.SMTPOptions{Host: "127.0.0.1", Port: s.port(), TLS: delivery.TLSNone, From: "otp@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	caps := []string{"totp", "emailotp"}
	engine, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Capabilities: caps,
		Config: map[string]any{"emailotp": map[string]any{"sender": "mail"},
			"sendLimits": map[string]any{"perUser": []any{}, "perDestination": []any{}}}, // a new code at once
		Senders: func(string) (delivery.Sender, error) { return mail, nil }})
	if err != nil {
		t.Fatal(err)
	}
	m, err := lifecycle.New(lifecycle.Options{Store: st, Engines: []*builtin.Engine{engine},
		Capabilities: map[string][]string{"acme": caps}})
	if err != nil {
		t.Fatal(err)
	}
	h := &adminHarness{store: st, manager: m}
	if h.write, err = m.CreateToken(context.Background(), "cli", "provisioning", lifecycle.ScopeWrite); err != nil {
		t.Fatal(err)
	}
	h.read = h.write
	ss, err := m.SelfService(lifecycle.SelfServiceOptions{Capabilities: caps, LinkLifetime: time.Hour,
		SessionIdle: 10 * time.Minute, PublicURL: "https://mfa.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	// A request's deadline far past the test's steps: the send, which runs to it, is not
	// cut short on a slow machine.
	h.harness = newHarness(t, func(o *Options) {
		o.Admin = m
		o.SelfService = ss
		o.MaxBodyBytes = 64 << 10
		o.RequestTimeout = 25 * time.Second
	})
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/factors",
		`{"type":"emailotp","activation":"immediate","params":{"email":"alice@example.com"}}`); code != 201 {
		t.Fatalf("factor: %d %v", code, out)
	}
	return h
}

// pageShape is what an answer of the page shows, its secrets aside: the status, where it
// leads, the cookies set (names and attributes, not values) and the body without its
// CSRF token.
func pageShape(a pageAnswer) string {
	var b strings.Builder
	b.WriteString(http.StatusText(a.status) + " " + a.header.Get("Location") + "\n")
	var cookies []string
	for _, c := range a.cookies {
		c := *c
		c.Value = "x"
		cookies = append(cookies, c.String())
	}
	slices.Sort(cookies)
	b.WriteString(strings.Join(cookies, "\n") + "\n")
	b.WriteString(csrfValueRE.ReplaceAllString(a.body, `name="csrf" value="…"`))
	return b.String()
}

var sentCodeRE = regexp.MustCompile(`Your sign-in code is (\d+)\.`)

var csrfValueRE = regexp.MustCompile(`name="csrf" value="[^"]*"`)

// TestReviewC35SignInAnswersBeforeTheSend: a sign-in with an e-mailed code answers
// while the mail server still holds the message: the code goes out after the answer, so
// the time of the answer is the same for a user with such a factor and for a name no one
// has (before, the known name's answer waited for the mail server's round trip, and
// anyone could tell who exists by it). The two answers show the same (status, where
// they lead, cookies, the step's page). Released, the mail is taken and the sign-in's
// record says the code was sent, as before; the code signs in.
func TestReviewC35SignInAnswersBeforeTheSend(t *testing.T) {
	mail := newHeldSMTP(t)
	h := heldMailPage(t, mail)

	start := func(user string) (pageAnswer, pageAnswer) {
		p := &pageClient{t: t, h: h, addr: "198.51.100.7"}
		p.get("/self-service/")
		answered := make(chan pageAnswer, 1)
		go func() {
			form := url.Values{"username": {user}, "method": {builtin.TypeEmailOTP}, "csrf": {p.csrf}}
			req := httptestPost("/self-service/signin", form)
			answered <- p.send(req)
		}()
		first := testwait.Recv(t, "the answer to "+user+"'s sign-in", answered)
		return first, p.get(first.header.Get("Location"))
	}
	known, knownStep := start("alice")
	if known.status != http.StatusSeeOther {
		t.Fatalf("alice's sign-in: %d %s", known.status, known.body)
	}
	// The answer came; the message is still held (nothing has been released).
	testwait.Recv(t, "alice's code at the mail server", mail.held)
	unknown, unknownStep := start("zelda")
	if got, want := pageShape(unknown), pageShape(known); got != want {
		t.Errorf("a name no one has is answered otherwise than alice:\n%s\nwant\n%s", got, want)
	}
	// The sealed sign-in is as long for both (names of one length): the cookie of a
	// sign-in that started a challenge was about 160 bytes longer, which told who has such
	// a factor.
	if k, u := len(signInCookieOf(known).Value), len(signInCookieOf(unknown).Value); !sameSealedLength(k, u) {
		t.Errorf("alice's sealed sign-in is %d bytes, zelda's (no one's) %d", k, u)
	}
	if got, want := pageShape(unknownStep), pageShape(knownStep); got != want {
		t.Errorf("a name no one has gets another step page than alice:\n%s\nwant\n%s", got, want)
	}
	if n := mail.messages(); n != 0 {
		t.Fatalf("%d messages taken before the release", n)
	}
	close(mail.release)
	if err := h.srv.DrainPage(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := mail.messages(); n != 1 || len(mail.codes) != 1 {
		t.Fatalf("%d messages taken (codes %v), want alice's one", n, mail.codes)
	}
	evs, err := h.store.ListAudit(context.Background(), store.AuditFilter{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(evs, func(e store.AuditEvent) bool { return strings.HasSuffix(e.Resource, "selfservice.signin.start") })
	if i < 0 || evs[i].Outcome != "PENDING" || !strings.Contains(evs[i].Reason, "code sent by smtp") {
		t.Errorf("alice's sign-in start record: %+v", evs)
	}
	// The code sent after the answer signs in with the sign-in the answer started.
	p := &pageClient{t: t, h: h, addr: "198.51.100.7", cookie: signInCookieOf(known)}
	p.get("/self-service/signin/code")
	if a := p.post("/self-service/signin/code", url.Values{"code": {mail.codes[0]}}); a.status != http.StatusSeeOther || a.header.Get("Location") != "/self-service/" {
		t.Errorf("alice's code: %d %q", a.status, a.header.Get("Location"))
	} else if page := p.get("/self-service/"); !strings.Contains(page.body, `action="/self-service/signout"`) {
		t.Errorf("alice is not signed in:\n%s", page.body)
	}
}

// sameSealedLength: two sealed sign-ins' lengths differ by no more than the times they
// hold do (a time's fraction of a second is written without its trailing zeros: up to
// ten bytes each, more once base64), far less than a challenge's fields.
func sameSealedLength(a, b int) bool { return max(a-b, b-a) <= 32 }

func signInCookieOf(a pageAnswer) *http.Cookie {
	for _, c := range a.cookies {
		if c.Name == selfServiceCookie {
			return c
		}
	}
	return nil
}

func httptestPost(path string, form url.Values) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// TestReviewC35SendsAtTheirBound: with as many sign-ins' sends under way as the page
// runs at once (a mail server that hangs), a sign-in that would send is refused (503,
// Retry-After), the same for alice and for a name no one has, before either name is
// looked at: nothing is sent, started or recorded, and the address's budget is not
// spent. A place freed, alice's sign-in sends again.
func TestReviewC35SendsAtTheirBound(t *testing.T) {
	mail := newHeldSMTP(t)
	close(mail.release)
	h := heldMailPage(t, mail)
	places := h.srv.pages.sends.places
	for range cap(places) {
		places <- struct{}{}
	}
	start := func(user string) pageAnswer {
		p := &pageClient{t: t, h: h, addr: "198.51.100.7"}
		p.get("/self-service/")
		return p.post("/self-service/signin", url.Values{"username": {user}, "method": {builtin.TypeEmailOTP}})
	}
	known := start("alice")
	if known.status != http.StatusServiceUnavailable || known.header.Get("Retry-After") == "" {
		t.Fatalf("alice's sign-in at the bound: %d %q", known.status, known.header.Get("Retry-After"))
	}
	if got, want := pageShape(start("zelda")), pageShape(known); got != want {
		t.Errorf("a name no one has is answered otherwise than alice at the bound:\n%s\nwant\n%s", got, want)
	}
	if err := h.srv.DrainPage(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs, err := h.store.ListAudit(context.Background(), store.AuditFilter{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(evs, func(e store.AuditEvent) bool { return strings.Contains(e.Resource, "selfservice.signin") }) || mail.messages() != 0 {
		t.Errorf("a sign-in refused at the bound started something: %d mails, %+v", mail.messages(), evs)
	}
	<-places
	if a := start("alice"); a.status != http.StatusSeeOther {
		t.Fatalf("alice's sign-in with a place free: %d", a.status)
	}
	if err := h.srv.DrainPage(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := mail.messages(); n != 1 {
		t.Errorf("%d mails once a place was free, want 1", n)
	}
	if len(places) != cap(places)-1 {
		t.Errorf("%d places taken after the send, want %d (the test's own)", len(places), cap(places)-1)
	}
}

// TestReviewC35ResendAnswersBeforeTheSend: "Send a new code" answers while the mail
// server holds the new code, as the sign-in's first code does, and alike for a name no
// one has; the new code, once taken, is the one that signs in.
func TestReviewC35ResendAnswersBeforeTheSend(t *testing.T) {
	mail := newHeldSMTP(t)
	h := heldMailPage(t, mail)
	resend := func(user string, first bool) (pageAnswer, *pageClient) {
		p := &pageClient{t: t, h: h, addr: "198.51.100.7"}
		p.get("/self-service/")
		p.startSignIn(user, builtin.TypeEmailOTP)
		if first {
			testwait.Recv(t, "the first code at the mail server", mail.held)
			mail.release <- struct{}{} // the first code is taken
		}
		answered := make(chan pageAnswer, 1)
		go func() {
			answered <- p.send(httptestPost("/self-service/signin/resend", url.Values{"csrf": {p.csrf}}))
		}()
		return testwait.Recv(t, "the answer to "+user+"'s new code", answered), p
	}
	known, p := resend("alice", true)
	if known.status != http.StatusSeeOther || known.header.Get("Location") != "/self-service/signin/code?sent=1" {
		t.Fatalf("alice's new code: %d %q", known.status, known.header.Get("Location"))
	}
	testwait.Recv(t, "alice's new code at the mail server", mail.held)
	unknown, _ := resend("zelda", false)
	if got, want := pageShape(unknown), pageShape(known); got != want {
		t.Errorf("a name no one has is answered otherwise than alice:\n%s\nwant\n%s", got, want)
	}
	if k, u := len(signInCookieOf(known).Value), len(signInCookieOf(unknown).Value); !sameSealedLength(k, u) {
		t.Errorf("alice's sealed sign-in after a new code is %d bytes, zelda's (no one's) %d", k, u)
	}
	close(mail.release)
	if err := h.srv.DrainPage(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(mail.codes) != 2 {
		t.Fatalf("codes %v, want alice's two", mail.codes)
	}
	p.get("/self-service/signin/code?sent=1")
	if a := p.post("/self-service/signin/code", url.Values{"code": {mail.codes[1]}}); a.status != http.StatusSeeOther || a.header.Get("Location") != "/self-service/" {
		t.Errorf("alice's new code: %d %q", a.status, a.header.Get("Location"))
	}
}
