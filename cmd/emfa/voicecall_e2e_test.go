package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/secretscan"
	"github.com/emfa/emfa/internal/twiliofake"
)

// spokenCode is the code in a call's <Say>, its digits apart.
var spokenCode = regexp.MustCompile(`^Your sign-in code is (\d(?:, \d){5})\.$`)

// The voicecall factor end to end: enrolled through the CLI, called through the Twilio
// fake's Calls resource, the code read from the TwiML the call would say, and one send
// limit for a phone that gets both SMS and calls.
func TestVoiceCallEndToEnd(t *testing.T) {
	app := fakeCLI()
	clk := app.clock
	tw := twiliofake.New(t, twiliofake.Options{AccountSID: twilioSID, AuthToken: twilioToken})
	cfg := writeTestConfig(t, "", fmt.Sprintf(`delivery:
  twilio: {type: twilio, accountSid: %q, authToken: %q, from: %q, baseURL: %q, timeout: 5s}
providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [smsotp, voicecall]
    builtin:
      smsotp: {sender: twilio}
      voicecall: {sender: twilio, lifetime: 2m}
`, twilioSID, twilioToken, twilioFrom, tw.URL()))
	if out := app.must(t, "check", "--config", cfg); !strings.Contains(out, "2 capabilities") {
		t.Fatalf("check: %s", out)
	}
	app.must(t, "users", "add", "alice", "--config", cfg)
	var voice, sms map[string]any
	if err := json.Unmarshal([]byte(app.must(t, "factors", "add", "voicecall", "--user", "alice", "--phone", alicePhone, "--config", cfg)), &voice); err != nil ||
		voice["type"] != "voicecall" || voice["phone"] != alicePhone || voice["deliveryAddress"] != "+1 ***-***-0123" || voice["name"] != "Phone" {
		t.Fatalf("factors add voicecall: %v %v", voice, err)
	}
	json.Unmarshal([]byte(app.must(t, "factors", "add", "smsotp", "--user", "alice", "--phone", alicePhone, "--config", cfg)), &sms)
	if code, _, errOut := app.run(t, "factors", "add", "voicecall", "--user", "alice", "--config", cfg); code != 2 || !strings.Contains(errOut, "needs --phone") {
		t.Errorf("without --phone: %d %s", code, errOut)
	}
	voiceID, smsID := voice["id"].(string), sms["id"].(string)

	base, logs, stop := app.serve(t, "--config", cfg)
	defer stop()
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	list := sim.enrollments("alice")
	if len(list) != 2 {
		t.Fatalf("enrollments %+v", list)
	}
	for _, e := range list {
		if e.Capability == "voicecall" && (e.ID != voiceID || e.Attributes["authExecutionFlow"] != "init_then_validate" || e.Attributes["deliveryAddress"] != "+1 ***-***-0123") {
			t.Errorf("voicecall enrollment %+v", e)
		}
	}

	// said is the code of the n-th call: to alice, from the configured number, said twice.
	var seen []string
	said := func(n int) string {
		t.Helper()
		calls := tw.Calls()
		if len(calls) != n {
			t.Fatalf("%d calls, want %d", len(calls), n)
		}
		c := calls[n-1]
		text, loop, err := c.Say()
		m := spokenCode.FindStringSubmatch(text)
		if err != nil || m == nil || loop != 2 || c.To != alicePhone || c.From != twilioFrom {
			t.Fatalf("call %+v: said %q %d times (%v)", c, text, loop, err)
		}
		code := strings.ReplaceAll(m[1], ", ", "")
		seen = append(seen, code)
		return code
	}
	tx := sim.want("initiate", sim.step("initiate", "voicecall", voiceID, "alice", "", ""), "PENDING")
	if tx.Attributes["deliveryAddress"] != "+1 ***-***-0123" {
		t.Errorf("initiate attributes %v", tx.Attributes)
	}
	code := said(1)
	sim.want("wrong code", sim.step("validate", "voicecall", voiceID, "alice", tx.TransactionID, "000000"), "FAILED")
	sim.want("the code said", sim.step("validate", "emfa:voicecall", voiceID, "alice", tx.TransactionID, code), "SUCCESS")
	sim.want("replayed", sim.step("validate", "voicecall", voiceID, "alice", tx.TransactionID, code), "FAILED")

	// One phone, one limit: an SMS to the number just called waits 30 s.
	requests := tw.Requests()
	sim.want("SMS to the same phone within 30 s", sim.step("initiate", "smsotp", smsID, "alice", "", ""), "FAILED")
	if tw.Requests() != requests {
		t.Error("a refused send reached Twilio")
	}
	clk.Advance(31 * time.Second)
	sim.want("SMS after 30 s", sim.step("initiate", "smsotp", smsID, "alice", "", ""), "PENDING")

	// Past its lifetime the call's code is TIMEOUT.
	clk.Advance(31 * time.Second)
	tx = sim.want("another call", sim.step("initiate", "voicecall", voiceID, "alice", "", ""), "PENDING")
	code = said(2)
	clk.Advance(2 * time.Minute)
	sim.want("expired", sim.step("validate", "voicecall", voiceID, "alice", tx.TransactionID, code), "TIMEOUT")

	// Twilio refusing the call: FAILED, no transaction, the reason in the audit trail.
	clk.Advance(31 * time.Second)
	tw.Fail(&twiliofake.Error{Status: 400, Code: 21215, Message: "Geo-permission not enabled for " + alicePhone})
	sim.want("refused call", sim.step("initiate", "voicecall", voiceID, "alice", "", ""), "FAILED")
	tw.Fail(nil)

	stop()
	reasons := auditReasons(t, cfg, "alice")
	for _, want := range []string{"voicecall: code sent by twilio to +1 ***-***-0123", "smsotp: send limit reached for user alice or destination +1 ***-***-0123",
		"voicecall: send by twilio to +1 ***-***-0123: twilio: send to +1 ***-***-0123: status 400 code 21215"} {
		if !strings.Contains(reasons, want) {
			t.Errorf("no audit reason %q in:\n%s", want, reasons)
		}
	}
	for _, secret := range append(seen, twilioToken, alicePhone) {
		// A code as a word: the audit and the log hold random ids and timestamps.
		if secretscan.Holds(reasons, secret) || secretscan.Holds(logs.String(), secret) {
			t.Errorf("%q is in the audit or the log", secret)
		}
	}
}
