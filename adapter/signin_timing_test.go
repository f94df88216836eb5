package adapter

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/smtpfake"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// heldMail is a mail server on loopback that holds each message before its 250 until
// the test releases it (smtpfake's Hold): a slow relay, without timing.
func heldMail(t *testing.T) *smtpfake.Server {
	t.Helper()
	s := smtpfake.Start(t, smtpfake.Options{})
	s.Hold()
	return s
}

// mailedCodes are the sign-in codes the messages ms say, in their order.
func mailedCodes(ms ...smtpfake.Message) []string {
	var codes []string
	for _, m := range ms {
		if c := sentCodeRE.FindStringSubmatch(m.Data); c != nil {
			codes = append(codes, c[1])
		}
	}
	return codes
}

// heldMailPage is the page with e-mailed codes sent through s, and alice with such a
// factor.
func heldMailPage(t *testing.T, s *smtpfake.Server) *adminHarness {
	t.Helper()
	mail, err := delivery.NewSMTP(delivery.SMTPOptions{Host: s.Host(), Port: s.Port(), TLS: delivery.TLSNone, From: "otp@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	// A request's deadline far past the test's steps: the send, which runs to it, is not
	// cut short on a slow machine.
	h, _ := newCodePage(t, codePage{caps: []string{"totp", "emailotp"}, sender: mail, requestTimeout: 25 * time.Second})
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

// TestSignInAnswersBeforeTheSend: a sign-in with an e-mailed code answers
// while the mail server still holds the message: the code goes out after the answer, so
// the time of the answer is the same for a user with such a factor and for a name no one
// has (before, the known name's answer waited for the mail server's round trip, and
// anyone could tell who exists by it). The two answers show the same (status, where
// they lead, cookies, the step's page). Released, the mail is taken and the sign-in's
// record says the code was sent, as before; the code signs in.
func TestSignInAnswersBeforeTheSend(t *testing.T) {
	mail := heldMail(t)
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
	testwait.Recv(t, "alice's code at the mail server", mail.Held())
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
	if n := len(mail.Messages()); n != 0 {
		t.Fatalf("%d messages taken before the release", n)
	}
	mail.ReleaseAll()
	if err := h.srv.DrainPage(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(mail.Messages()); n != 1 || len(mailedCodes(mail.Messages()...)) != 1 {
		t.Fatalf("%d messages taken (codes %v), want alice's one", n, mailedCodes(mail.Messages()...))
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
	if a := p.post("/self-service/signin/code", url.Values{"code": {mailedCodes(mail.Messages()...)[0]}}); a.status != http.StatusSeeOther || a.header.Get("Location") != "/self-service/" {
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

// TestSendsAtTheirBound: with as many sign-ins' sends under way as the page
// runs at once (a mail server that hangs), a sign-in that would send is refused (503,
// Retry-After), the same for alice and for a name no one has, before either name is
// looked at: nothing is sent, started or recorded, and the address's budget is not
// spent. A place freed, alice's sign-in sends again.
func TestSendsAtTheirBound(t *testing.T) {
	mail := heldMail(t)
	mail.ReleaseAll()
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
	if slices.ContainsFunc(evs, func(e store.AuditEvent) bool { return strings.Contains(e.Resource, "selfservice.signin") }) || len(mail.Messages()) != 0 {
		t.Errorf("a sign-in refused at the bound started something: %d mails, %+v", len(mail.Messages()), evs)
	}
	<-places
	if a := start("alice"); a.status != http.StatusSeeOther {
		t.Fatalf("alice's sign-in with a place free: %d", a.status)
	}
	if err := h.srv.DrainPage(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(mail.Messages()); n != 1 {
		t.Errorf("%d mails once a place was free, want 1", n)
	}
	if len(places) != cap(places)-1 {
		t.Errorf("%d places taken after the send, want %d (the test's own)", len(places), cap(places)-1)
	}
}

// TestResendAnswersBeforeTheSend: "Send a new code" answers while the mail
// server holds the new code, as the sign-in's first code does, and alike for a name no
// one has; the new code, once taken, is the one that signs in.
func TestResendAnswersBeforeTheSend(t *testing.T) {
	mail := heldMail(t)
	h := heldMailPage(t, mail)
	resend := func(user string, first bool) (pageAnswer, *pageClient) {
		p := &pageClient{t: t, h: h, addr: "198.51.100.7"}
		p.get("/self-service/")
		p.startSignIn(user, builtin.TypeEmailOTP)
		if first {
			testwait.Recv(t, "the first code at the mail server", mail.Held())
			mail.Release() // the first code is taken
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
	testwait.Recv(t, "alice's new code at the mail server", mail.Held())
	unknown, _ := resend("zelda", false)
	if got, want := pageShape(unknown), pageShape(known); got != want {
		t.Errorf("a name no one has is answered otherwise than alice:\n%s\nwant\n%s", got, want)
	}
	if k, u := len(signInCookieOf(known).Value), len(signInCookieOf(unknown).Value); !sameSealedLength(k, u) {
		t.Errorf("alice's sealed sign-in after a new code is %d bytes, zelda's (no one's) %d", k, u)
	}
	mail.ReleaseAll()
	if err := h.srv.DrainPage(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(mailedCodes(mail.Messages()...)) != 2 {
		t.Fatalf("codes %v, want alice's two", mailedCodes(mail.Messages()...))
	}
	p.get("/self-service/signin/code?sent=1")
	if a := p.post("/self-service/signin/code", url.Values{"code": {mailedCodes(mail.Messages()...)[1]}}); a.status != http.StatusSeeOther || a.header.Get("Location") != "/self-service/" {
		t.Errorf("alice's new code: %d %q", a.status, a.header.Get("Location"))
	}
}
