package main

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/smtpfake"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/store"
)

var mailCodeRE = regexp.MustCompile(`\b(\d{6})\b`)

// lastCode is the code in the newest mail to addr.
func lastCode(t *testing.T, mail *smtpfake.Server, addr string) string {
	t.Helper()
	msgs := mail.To(addr)
	if len(msgs) == 0 {
		t.Fatalf("no mail to %s", addr)
	}
	data := msgs[len(msgs)-1].Data
	_, body, _ := strings.Cut(data, "\r\n\r\n")
	m := mailCodeRE.FindAllString(body, -1)
	if len(m) == 0 {
		t.Fatalf("no code in:\n%s", data)
	}
	return m[len(m)-1]
}

// mailCodes are the codes of every mail to addr.
func mailCodes(mail *smtpfake.Server, addr string) []string {
	var codes []string
	for _, m := range mail.To(addr) {
		_, body, _ := strings.Cut(m.Data, "\r\n\r\n")
		codes = append(codes, mailCodeRE.FindAllString(body, -1)...)
	}
	return codes
}

// TestSelfServiceWrongCodesCount: a wrong e-mailed code typed on the page while enrolling
// counts toward the factor's lockout as on Verify's path; one typed to sign in does not
// (anyone who knows a user name could lock its owner out of Verify: the page limits its
// sign-in attempts itself); and every step is in the audit trail.
func TestSelfServiceWrongCodesCount(t *testing.T) {
	mail := smtpfake.Start(t, smtpfake.Options{})
	app := fakeCLI()
	cfg := selfServiceConfig(t, mail, "http://127.0.0.1:1")
	token := strings.TrimSpace(app.must(t, "tokens", "create", "--name", "idm", "--scope", "write", "--config", cfg))
	base, _, _ := app.serve(t, "--config", cfg)
	e := openTestEnv(t, cfg)
	t.Cleanup(func() { e.Close() })
	ctx := context.Background()
	adminCall(t, base, token, "POST", "/admin/v1/users", `{"name":"alice","email":"alice@example.com"}`, 201)
	out := adminCall(t, base, token, "POST", "/admin/v1/users/alice/activation-link", `{"deliver":false}`, 201)
	factor := func() store.Factor {
		t.Helper()
		u, _ := e.store.GetUser(ctx, "alice")
		fs, err := e.store.ListFactors(ctx, u.ID)
		if err != nil || len(fs) != 1 {
			t.Fatalf("factors: %v %v", fs, err)
		}
		return fs[0]
	}
	b := newSSBrowser(t, base)
	b.get(strings.TrimPrefix(out["url"].(string), "http://127.0.0.1:1"))
	p := b.post("/self-service/enroll", url.Values{"type": {"emailotp"}, "destination": {"alice@example.com"}})
	if p.title != "Confirm your new sign-in method" {
		t.Fatalf("enroll: %d %q\n%s", p.status, p.title, p.body)
	}
	code := lastCode(t, mail, "alice@example.com")
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	// The form again by its GET (post/redirect/get), which a reload does not post again.
	p = b.post("/self-service/confirm", url.Values{"code": {wrong}})
	if p.status != 200 || !strings.Contains(p.body, "That code did not work") {
		t.Fatalf("wrong code: %d %q", p.status, p.title)
	}
	if f := factor(); f.State != store.FactorPending || f.Failures != 1 {
		t.Fatalf("after a wrong enrollment code: %s, %d failures", f.State, f.Failures)
	}
	// The link is not spent by a wrong code: the right one still completes.
	if p = b.post("/self-service/confirm", url.Values{"code": {code}}); p.title != "You are all set" {
		t.Fatalf("right code: %d %q\n%s", p.status, p.title, p.body)
	}
	if f := factor(); f.State != store.FactorActive || f.Failures != 0 {
		t.Fatalf("after the right code: %s, %d failures", f.State, f.Failures)
	}

	// Sign-in with a wrong e-mailed code: it fails, uncounted. (Past the 30 s send limit.) The
	// name is typed in another case, which is alice's still (store.FoldName).
	app.clock.Advance(31 * time.Second)
	s := newSSBrowser(t, base)
	s.get("/self-service/")
	if p = s.post("/self-service/signin", url.Values{"username": {"Alice"}, "method": {"emailotp"}}); p.title != "Enter your code" {
		t.Fatalf("sign-in: %d %q", p.status, p.title)
	}
	// The code goes out after the page's answer (the page's sends), and its record after
	// the send.
	testwait.Until(t, "the sign-in's code and its record", 10*time.Millisecond, func() bool {
		trail := adminCall(t, base, token, "GET", "/admin/v1/audit?user=alice&limit=5", "", 200)
		return len(mail.To("alice@example.com")) == 2 && strings.Contains(fmt.Sprint(trail), "admin.selfservice.signin.start")
	})
	code = lastCode(t, mail, "alice@example.com")
	wrong = "000000"
	if code == wrong {
		wrong = "111111"
	}
	// Refused, it is the code form again, saying so (by its GET: a reload types nothing).
	if p = s.post("/self-service/signin/code", url.Values{"code": {wrong}}); p.title != "Enter your code" ||
		!strings.Contains(p.body, "That code is not right. Try again.") {
		t.Fatalf("wrong sign-in code: %d %q\n%s", p.status, p.title, p.body)
	}
	if f := factor(); f.Failures != 0 {
		t.Fatalf("after a wrong sign-in code: %d failures, want none counted", f.Failures)
	}
	// The right code signs in.
	if p = s.post("/self-service/signin/code", url.Values{"code": {code}}); p.title != "Your sign-in methods" {
		t.Fatalf("right sign-in code: %d %q\n%s", p.status, p.title, p.body)
	}
	if f := factor(); f.Failures != 0 {
		t.Fatalf("after the right sign-in code: %d failures", f.Failures)
	}
	// Every step is in alice's audit trail, each by its actor, and no record holds a code.
	trail := adminCall(t, base, token, "GET", "/admin/v1/audit?user=alice&limit=100", "", 200)
	evs, _ := trail["events"].([]any)
	var got []string
	for i := len(evs) - 1; i >= 0; i-- {
		ev := evs[i].(map[string]any)
		got = append(got, fmt.Sprint(ev["action"], " ", ev["outcome"], " ", ev["actor"]))
		for _, c := range mailCodes(mail, "alice@example.com") {
			if strings.Contains(fmt.Sprint(ev), c) {
				t.Errorf("a record holds a code: %v", ev)
			}
		}
	}
	want := []string{
		"admin.users.create SUCCESS idm",
		"admin.selfservice.link SUCCESS idm",
		"admin.selfservice.open SUCCESS self-service",
		"admin.factors.enroll SUCCESS self-service",
		"admin.factors.activate FAILED self-service",
		"admin.factors.activate SUCCESS self-service",
		"admin.selfservice.signin.start PENDING self-service",
		"admin.selfservice.signin FAILED self-service",
		"admin.selfservice.signin SUCCESS self-service",
	}
	if !slices.Equal(got, want) {
		t.Errorf("alice's audit trail, oldest first:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// adminCall makes an admin API call that must answer want, and decodes its JSON.
func adminCall(t *testing.T, base, token, method, path, body string, want int) map[string]any {
	t.Helper()
	code, out := adminDo(t, base, token, method, path, body)
	if code != want {
		t.Fatalf("%s %s: %d %v", method, path, code, out)
	}
	return out
}
