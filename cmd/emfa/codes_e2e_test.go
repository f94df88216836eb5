package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/smtpfake"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/twiliofake"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

const (
	twilioSID   = "AC0123456789abcdef0123456789abcdef"
	twilioToken = "e2e-twilio-token-0123456789abcdef"
	twilioFrom  = "+15005550006"
	alicePhone  = "+15551230123"
	aliceMail   = "alice@example.com"
)

// codesConfig serves every built-in factor but TOTP and push, with e-mail through a real
// SMTP server and SMS through the Twilio fake, both on loopback.
func codesConfig(t *testing.T, storage string, mail *smtpfake.Server, sms *twiliofake.Server) string {
	return writeTestConfig(t, storage, fmt.Sprintf(`delivery:
  mail: {type: smtp, host: %q, port: %d, tls: none, from: "emfa <otp@example.com>", timeout: 5s}
  sms: {type: twilio, accountSid: %q, authToken: %q, from: %q, baseURL: %q, timeout: 5s}
providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [hotp, smsotp, emailotp, question]
    engine: builtin
    builtin:
      hotp: {window: 10, resyncWindow: 1000}
      smsotp:
        sender: sms
        lifetime: 2m
        template: "Your emfa code for {{user}} is {{code}}; valid {{minutes}} min."
      emailotp: {sender: mail, length: 8, subject: "emfa sign-in"}
      question: {enabled: true, maxAttempts: 2}
      lockout: {maxFailures: 5, duration: 15m}
`, mail.Host(), mail.Port(), twilioSID, twilioToken, twilioFrom, sms.URL()))
}

// answer is a contract answer as the simulator decoded it.
type answer struct {
	Status        string         `json:"status"`
	TransactionID string         `json:"transactionId"`
	Attributes    map[string]any `json:"attributes"`
}

// step sends initiate, validate or result as Verify does and checks the answer is a
// contract outcome.
func (v *verifySim) step(resource, capability, id, user, txid, passvalue string) answer {
	v.t.Helper()
	attrs := map[string]any{"username": user}
	if resource == "validate" {
		attrs["passvalue"] = passvalue
	}
	body := map[string]any{"capability": capability, "id": id, "attributes": attrs}
	if txid != "" {
		body["transactionId"] = txid
	}
	data, _ := json.Marshal(body)
	code, resp := v.call("POST", resource, string(data))
	v.status(code, resp)
	var a answer
	json.Unmarshal(resp, &a)
	if (a.Status == "PENDING") != (a.TransactionID != "") && resource == "initiate" {
		v.t.Errorf("initiate answered %s with transaction %q", a.Status, a.TransactionID)
	}
	return a
}

func (v *verifySim) want(what string, got answer, status string) answer {
	v.t.Helper()
	if got.Status != status {
		v.t.Errorf("%s: %s, want %s", what, got.Status, status)
	}
	return got
}

var (
	smsCode  = regexp.MustCompile(`^Your emfa code for alice is (\d{6}); valid 2 min\.$`)
	mailCode = regexp.MustCompile(`Your sign-in code is (\d{8})\. It expires in 5 minutes\.`)
)

func TestCodesEndToEnd(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { simulateCodes(t, "") })
	t.Run("postgres", func(t *testing.T) {
		sv := testdb.Connect(t)
		simulateCodes(t, fmt.Sprintf("driver: postgres\n  dsn: %q", sv.Migrated(t)))
	})
}

// simulateCodes provisions through the CLI and lets the simulator drive every flow of the
// HOTP, SMS, e-mail and question factors against `emfa serve`, reading the codes from the
// SMTP server and the Twilio fake.
func simulateCodes(t *testing.T, storage string) {
	app := fakeCLI()
	clk := app.clock
	mail := smtpfake.Start(t, smtpfake.Options{})
	sms := twiliofake.New(t, twiliofake.Options{AccountSID: twilioSID, AuthToken: twilioToken})
	cfg := codesConfig(t, storage, mail, sms)
	if out := app.must(t, "check", "--config", cfg); !strings.Contains(out, "4 capabilities") {
		t.Fatalf("check: %s", out)
	}
	app.must(t, "users", "add", "alice", "--config", cfg)
	app.must(t, "users", "add", "bob", "--config", cfg)

	add := func(args ...string) map[string]any {
		t.Helper()
		var out map[string]any
		if err := json.Unmarshal([]byte(app.must(t, append(append([]string{"factors", "add"}, args...), "--config", cfg)...)), &out); err != nil || out["id"] == "" {
			t.Fatalf("factors add %v: %v %v", args, out, err)
		}
		return out
	}
	seed := builtin.EncodeSecret([]byte("12345678901234567890"))
	hotp := add("hotp", "--user", "alice", "--secret", seed, "--counter", "0", "--name", "Alice's token")
	if uri, _ := hotp["otpauthURI"].(string); !strings.HasPrefix(uri, "otpauth://hotp/emfa:alice?") || !strings.Contains(uri, "counter=0") {
		t.Errorf("hotp uri %v", hotp["otpauthURI"])
	}
	phone := add("smsotp", "--user", "alice", "--phone", alicePhone)
	email := add("emailotp", "--user", "alice", "--email", aliceMail, "--name", "Work mail")
	question := add("question", "--user", "alice", "--question", "First pet?", "--answer", "Rex",
		"--question", "Birth city?", "--answer", "São Paulo", "--name", "Questions")
	bobPhone := add("smsotp", "--user", "bob", "--phone", "+15551230124")
	hotpID, phoneID, emailID, questionID := hotp["id"].(string), phone["id"].(string), email["id"].(string), question["id"].(string)
	if phone["deliveryAddress"] != "+1 ***-***-0123" || email["deliveryAddress"] != "a***@example.com" {
		t.Errorf("add output: %v %v", phone, email)
	}

	t.Run("enrollment refusals write nothing", func(t *testing.T) {
		before := app.must(t, "factors", "list", "--user", "alice", "--config", cfg)
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"smsotp", "--user", "alice", "--phone", "555-0123"}, "does not say its country"},
			{[]string{"smsotp", "--user", "alice", "--phone", "+1 555 CALL NOW"}, "not an E.164 number"},
			{[]string{"smsotp", "--user", "alice", "--phone", alicePhone}, "already has smsotp factor"},
			{[]string{"emailotp", "--user", "alice", "--email", "Alice <alice@example.com>"}, "not one bare e-mail address"},
			{[]string{"emailotp", "--user", "alice", "--email", "ALICE@example.com"}, "already has emailotp factor"},
			{[]string{"question", "--user", "alice", "--question", "Q?"}, "pairs"},
			{[]string{"question", "--user", "bob", "--question", "Q?", "--answer", "   "}, "answer 1"},
			{[]string{"hotp", "--user", "alice", "--digits", "7"}, "digits must be 6 or 8"},
			{[]string{"smsotp", "--user", "zed", "--phone", "+15551230125"}, `no user "zed"`},
		} {
			code, _, errOut := app.run(t, append(append([]string{"factors", "add"}, c.args...), "--config", cfg)...)
			if code == 0 || !strings.Contains(errOut, c.want) {
				t.Errorf("%v: exit %d %q, want %q", c.args, code, errOut, c.want)
			}
		}
		if after := app.must(t, "factors", "list", "--user", "alice", "--config", cfg); after != before {
			t.Errorf("refusals changed alice's factors:\n%s", after)
		}
	})

	base, logs, stop := app.serve(t, "--config", cfg)
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	var seen []string // every code and answer, to look for in the logs

	t.Run("enrollments", func(t *testing.T) {
		sim.t = t
		got := map[string]enrollment{}
		for _, e := range sim.enrollments("alice") {
			got[e.Capability] = e
		}
		for c, want := range map[string][3]any{
			"hotp": {hotpID, "validate", nil}, "smsotp": {phoneID, "init_then_validate", "+1 ***-***-0123"},
			"emailotp": {emailID, "init_then_validate", "a***@example.com"}, "question": {questionID, "init_then_validate", nil},
		} {
			e := got[c]
			if e.ID != want[0] || e.Attributes["authExecutionFlow"] != want[1] || e.Attributes["deliveryAddress"] != want[2] {
				t.Errorf("%s: %+v", c, e)
			}
		}
		if len(got) != 4 || got["emailotp"].Attributes["deviceName"] != "Work mail" {
			t.Errorf("alice: %+v", got)
		}
	})

	t.Run("hotp", func(t *testing.T) {
		sim.t = t
		code := func(c uint64) string { return builtin.HOTP(builtin.SHA1, []byte("12345678901234567890"), c, 6) }
		sim.want("RFC 4226 counter 0", sim.step("validate", "hotp", hotpID, "alice", "", "755224"), "SUCCESS")
		sim.want("replay", sim.step("validate", "hotp", hotpID, "alice", "", "755224"), "FAILED")
		sim.want("counter 5, within the window", sim.step("validate", "emfa:hotp", hotpID, "alice", "", code(5)), "SUCCESS")
		sim.want("counter 100, outside", sim.step("validate", "hotp", hotpID, "alice", "", code(100)), "FAILED")
		sim.want("bob naming alice's token", sim.step("validate", "hotp", hotpID, "bob", "", code(6)), "FAILED")
		sim.want("initiate", sim.step("initiate", "hotp", hotpID, "alice", "", ""), "FAILED")
		// The token ran ahead: the operator resynchronises it from two consecutive codes.
		if c, _, errOut := app.run(t, "factors", "resync", hotpID, code(300), code(302), "--config", cfg); c != 1 || !strings.Contains(errOut, "not two consecutive codes") {
			t.Errorf("resync with a gap: %d %s", c, errOut)
		}
		if out := app.must(t, "factors", "resync", hotpID, code(300), code(301), "--config", cfg); !strings.Contains(out, "next counter is 302") {
			t.Errorf("resync: %s", out)
		}
		// Both are in the audit trail, under alice, by the CLI.
		var resyncs []string
		for _, ev := range auditLines(t, app.must(t, "audit", "--json", "--user", "alice", "--config", cfg)) {
			if ev.Resource == "admin.factors.resync" && ev.Capability == "hotp" && ev.FactorID == hotpID && ev.Actor == "cli" {
				resyncs = append(resyncs, ev.Outcome)
			}
		}
		if !slices.Equal(resyncs, []string{"SUCCESS", "FAILED"}) {
			t.Errorf("resyncs audited: %v, want SUCCESS then FAILED (newest first)", resyncs)
		}
		sim.want("after resync", sim.step("validate", "hotp", hotpID, "alice", "", code(302)), "SUCCESS")
		// Fifty parallel validations of one code: exactly one SUCCESS.
		if n := parallelSuccesses(t, sim, 50, map[string]any{"capability": "hotp", "id": hotpID,
			"attributes": map[string]any{"username": "alice", "passvalue": code(303)}}); n != 1 {
			t.Errorf("%d successes of one code", n)
		}
	})

	smsFor := func(t *testing.T, n int) string {
		t.Helper()
		msgs := sms.To(alicePhone)
		if len(msgs) != n {
			t.Fatalf("%d SMS to alice, want %d", len(msgs), n)
		}
		m := smsCode.FindStringSubmatch(msgs[n-1].Body)
		if m == nil || msgs[n-1].From != twilioFrom {
			t.Fatalf("SMS %+v", msgs[n-1])
		}
		seen = append(seen, m[1])
		return m[1]
	}
	t.Run("smsotp", func(t *testing.T) {
		sim.t = t
		tx := sim.want("initiate", sim.step("initiate", "smsotp", phoneID, "alice", "", ""), "PENDING")
		if tx.Attributes["deliveryAddress"] != "+1 ***-***-0123" {
			t.Errorf("initiate attributes %v", tx.Attributes)
		}
		code := smsFor(t, 1)
		sim.want("result before validate", sim.step("result", "smsotp", phoneID, "alice", tx.TransactionID, ""), "PENDING")
		sim.want("wrong code", sim.step("validate", "smsotp", phoneID, "alice", tx.TransactionID, notAmong(code)), "FAILED")
		sim.want("bob presents alice's transaction", sim.step("validate", "smsotp", bobPhone["id"].(string), "bob", tx.TransactionID, code), "FAILED")
		sim.want("right code", sim.step("validate", "emfa:smsotp", phoneID, "alice", tx.TransactionID, code), "SUCCESS")
		sim.want("replayed", sim.step("validate", "smsotp", phoneID, "alice", tx.TransactionID, code), "FAILED")
		sim.want("result", sim.step("result", "smsotp", phoneID, "alice", tx.TransactionID, ""), "SUCCESS")

		// Send limits (the defaults: one per 30 s per user and per number): refused before
		// anything reaches Twilio.
		requests := sms.Requests()
		sim.want("second SMS within 30 s", sim.step("initiate", "smsotp", phoneID, "alice", "", ""), "FAILED")
		if sms.Requests() != requests {
			t.Error("a refused send reached Twilio")
		}

		// A newer code cancels the older one.
		clk.Advance(31 * time.Second)
		first := sim.want("initiate", sim.step("initiate", "smsotp", phoneID, "alice", "", ""), "PENDING")
		firstCode := smsFor(t, 2)
		clk.Advance(31 * time.Second)
		second := sim.want("initiate again", sim.step("initiate", "smsotp", phoneID, "alice", "", ""), "PENDING")
		smsFor(t, 3)
		sim.want("canceled transaction", sim.step("result", "smsotp", phoneID, "alice", first.TransactionID, ""), "CANCELED")
		sim.want("canceled code", sim.step("validate", "smsotp", phoneID, "alice", first.TransactionID, firstCode), "FAILED")

		// Expiry: TIMEOUT, remembered.
		clk.Advance(2 * time.Minute)
		secondCode := smsFor(t, 3)
		sim.want("expired", sim.step("validate", "smsotp", phoneID, "alice", second.TransactionID, secondCode), "TIMEOUT")
		sim.want("expired result", sim.step("result", "smsotp", phoneID, "alice", second.TransactionID, ""), "TIMEOUT")

		// Three wrong codes end the transaction.
		tx = sim.want("initiate", sim.step("initiate", "smsotp", phoneID, "alice", "", ""), "PENDING")
		code = smsFor(t, 4)
		for range 3 {
			sim.want("wrong code", sim.step("validate", "smsotp", phoneID, "alice", tx.TransactionID, notAmong(code)), "FAILED")
		}
		sim.want("right code too late", sim.step("validate", "smsotp", phoneID, "alice", tx.TransactionID, code), "FAILED")
		sim.want("result", sim.step("result", "smsotp", phoneID, "alice", tx.TransactionID, ""), "FAILED")

		// Twilio refuses: FAILED, and no transaction.
		clk.Advance(31 * time.Second)
		sms.Fail(&twiliofake.Error{Status: 400, Code: 21610, Message: "Attempt to send to unsubscribed recipient"})
		sim.want("Twilio refuses", sim.step("initiate", "smsotp", phoneID, "alice", "", ""), "FAILED")
		sms.Fail(nil)

		// Twenty parallel validations of the right code: exactly one SUCCESS.
		clk.Advance(31 * time.Second)
		tx = sim.want("initiate", sim.step("initiate", "smsotp", phoneID, "alice", "", ""), "PENDING")
		code = smsFor(t, 5)
		if n := parallelSuccesses(t, sim, 20, map[string]any{"capability": "smsotp", "id": phoneID, "transactionId": tx.TransactionID,
			"attributes": map[string]any{"username": "alice", "passvalue": code}}); n != 1 {
			t.Errorf("%d successes of one transaction", n)
		}
	})

	t.Run("emailotp", func(t *testing.T) {
		sim.t = t
		clk.Advance(31 * time.Second) // the per-user limit counts alice's last SMS
		tx := sim.want("initiate", sim.step("initiate", "emailotp", emailID, "alice", "", ""), "PENDING")
		msgs := mail.To(aliceMail)
		if len(msgs) != 1 || msgs[0].Subject() != "emfa sign-in" || msgs[0].From != "otp@example.com" {
			t.Fatalf("mails: %+v", msgs)
		}
		text, err := msgs[0].Text()
		m := mailCode.FindStringSubmatch(text)
		if err != nil || m == nil {
			t.Fatalf("mail text %q %v", text, err)
		}
		seen = append(seen, m[1])
		sim.want("right code", sim.step("validate", "emailotp", emailID, "alice", tx.TransactionID, m[1]), "SUCCESS")
		// The mailbox bounces: FAILED, nothing usable.
		clk.Advance(31 * time.Second)
		mail.Reject(aliceMail, true)
		sim.want("bounced", sim.step("initiate", "emailotp", emailID, "alice", "", ""), "FAILED")
		mail.Reject(aliceMail, false)
	})

	t.Run("question", func(t *testing.T) {
		sim.t = t
		answers := map[string]string{"First pet?": "  REX ", "Birth city?": "são  paulo"}
		seen = append(seen, "Rex", "São Paulo")
		tx := sim.want("initiate", sim.step("initiate", "question", questionID, "alice", "", ""), "PENDING")
		q, _ := tx.Attributes["question"].(string)
		if _, ok := answers[q]; !ok {
			t.Fatalf("question %q", q)
		}
		sim.want("result", sim.step("result", "question", questionID, "alice", tx.TransactionID, ""), "PENDING")
		sim.want("wrong answer", sim.step("validate", "question", questionID, "alice", tx.TransactionID, "Felix"), "FAILED")
		sim.want("right answer", sim.step("validate", "question", questionID, "alice", tx.TransactionID, answers[q]), "SUCCESS")
		sim.want("result", sim.step("result", "question", questionID, "alice", tx.TransactionID, ""), "SUCCESS")
		tx = sim.step("initiate", "question", questionID, "alice", "", "")
		for range 2 {
			sim.want("wrong answer", sim.step("validate", "question", questionID, "alice", tx.TransactionID, "Felix"), "FAILED")
		}
		sim.want("right answer too late", sim.step("validate", "question", questionID, "alice", tx.TransactionID, answers[tx.Attributes["question"].(string)]), "FAILED")
	})

	t.Run("audit and logs hold no code and no address", func(t *testing.T) {
		reasons := auditReasons(t, cfg, "alice")
		for _, want := range []string{"code sent by twilio to +1 ***-***-0123", "send limit reached", "canceled", "wrong code (attempt 1 of 3)",
			"send by twilio to +1 ***-***-0123", "code sent by smtp to a***@example.com", "send by smtp", "asked question", "counter 5 accepted"} {
			if !strings.Contains(reasons, want) {
				t.Errorf("no audit reason with %q in:\n%s", want, reasons)
			}
		}
		// A code is looked for as a number of its own: six random digits are, now and
		// then, part of a longer one (a timestamp's nanoseconds, a duration).
		// The bounce quoted alice's address (smtpfake replies as Postfix does), and the
		// refusals above quoted what the CLI was given; alice's phone number is also the
		// example a refusal gives of the form wanted.
		reasons = strings.ReplaceAll(reasons, "e.g. "+alicePhone, "e.g.")
		for _, secret := range append(seen, twilioToken, "sim-password-0123", aliceMail, alicePhone) {
			re := regexp.MustCompile(regexp.QuoteMeta(secret))
			if strings.Trim(secret, "0123456789") == "" {
				re = regexp.MustCompile(`(^|[^0-9])` + secret + `($|[^0-9])`)
			}
			if re.MatchString(reasons) || re.MatchString(logs.String()) {
				t.Errorf("%q is in the audit or the log", secret)
			}
		}
	})

	// serve sweeps at start and every minute: after a restart two hours on, the
	// transactions above are gone, and a result on one is an unknown transaction.
	t.Run("sweeper", func(t *testing.T) {
		sim.t = t
		tx := sim.want("initiate", sim.step("initiate", "question", questionID, "alice", "", ""), "PENDING")
		stop() // waits for the sweeper too
		clk.Advance(2 * time.Hour)
		sweeps := make(chan builtin.Swept, 1)
		app.swept = func(s builtin.Swept, err error) {
			if err != nil {
				t.Errorf("sweep: %v", err)
			}
			select {
			case sweeps <- s:
			default:
			}
		}
		t.Cleanup(func() { app.swept = nil })
		base, _, _ := app.serve(t, "--config", cfg)
		select {
		case s := <-sweeps:
			if s.Transactions == 0 || s.Sends == 0 {
				t.Errorf("first sweep: %+v", s)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no sweep at start")
		}
		sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
		sim.want("result of a swept transaction", sim.step("result", "question", questionID, "alice", tx.TransactionID, ""), "FAILED")
	})
}

// parallelSuccesses sends body to validate n times at once and counts SUCCESS answers.
func parallelSuccesses(t *testing.T, sim *verifySim, n int, body map[string]any) int {
	t.Helper()
	data, _ := json.Marshal(body)
	var wg sync.WaitGroup
	var successes atomic.Int32
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", sim.base+"/validate", strings.NewReader(string(data)))
			req.Header.Set("Content-Type", "application/json")
			req.SetBasicAuth(sim.user, sim.pw)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var a answer
			if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != 200 {
				t.Errorf("%d %v", resp.StatusCode, err)
			}
			if a.Status == "SUCCESS" {
				successes.Add(1)
			}
		})
	}
	wg.Wait()
	return int(successes.Load())
}

// auditReasons are the audit trail's lines for user, "capability: reason" each.
func auditReasons(t *testing.T, cfg, user string) string {
	t.Helper()
	e := openTestEnv(t, cfg)
	defer e.Close()
	events, err := e.store.ListAudit(context.Background(), store.AuditFilter{Username: user, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	reasons := ""
	for _, ev := range events {
		reasons += ev.Capability + ": " + ev.Reason + "\n"
	}
	return reasons
}
