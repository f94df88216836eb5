package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/duofake"
	"github.com/emfa/emfa/internal/secretscan"
	"github.com/emfa/emfa/internal/verifyfiles"
)

const (
	duoIKey = "DIWJ8X6AEYOR5OMC6TQ1"
	duoSKey = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"
	aliceID = "DPFZRS9FB0D46QFTM891"
)

// duoSetup serves emfa with a remote provider built from IBM's published DUO webhook,
// read verbatim from shared/verify: only its {{placeholders}} are filled, from values.
func duoSetup(t *testing.T, vendorTimeout string) (*verifySim, *duofake.Server, *manualClock, *lockedLog) {
	return duoSetupAt(t, vendorTimeout, "")
}

// duoSetupAt is duoSetup with the vendor URL replaced (a closed port, say).
func duoSetupAt(t *testing.T, vendorTimeout, vendorURL string) (*verifySim, *duofake.Server, *manualClock, *lockedLog) {
	t.Helper()
	duo := newDUO(t)
	if vendorURL == "" {
		vendorURL = duo.URL()
	}
	path := writeTestConfig(t, "", "providers:\n"+duoProvider(t, vendorURL, "      timeout: "+vendorTimeout+"\n")+"    challengeLifetime: 2m\n")
	return serveDUO(t, path, duo)
}

// duoProvider is a providers entry serving IBM's published DUO webhook, read verbatim from
// shared/verify, against the DUO at vendorURL; remote holds further lines of its remote
// section (indented six spaces), and the caller may append keys of the provider's own.
func duoProvider(t testing.TB, vendorURL, remote string) string {
	t.Helper()
	return fmt.Sprintf(`  - name: DUO Security
    credentialPrefix: duo
    capabilities: [smsotp, push, hotp]
    engine: remote
    remote:
      webhookFile: %q
      values:
        duo_url: %q
        duo_integration_key: %s
        duo_signing_key: %s
`, verifyfiles.Path(t, "ibm-duo-webhook.json"), vendorURL, duoIKey, duoSKey) + remote
}

// exampleSetup serves testdata/config/duo.yaml, emfa's own DUO configuration, as an
// operator would: secrets and addresses from the environment, with EMFA_* overrides for
// the listener and the database.
func exampleSetup(t *testing.T) (*verifySim, *duofake.Server, *manualClock, *lockedLog) {
	t.Helper()
	duo := newDUO(t)
	for k, v := range map[string]string{
		"DUO_API_URL": duo.URL(), "DUO_IKEY": duoIKey, "DUO_SKEY": duoSKey,
		"EMFA_VERIFY_PASSWORD": "sim-password-0123", "EMFA_ENCRYPTION_KEY": testEncryptionKey,
		"EMFA_SERVER_LISTEN": "127.0.0.1:0", "EMFA_STORAGE_DSN": "file:" + filepath.Join(t.TempDir(), "emfa.db"),
		"EMFA_LOG_LEVEL": "debug", "EMFA_LOG_FORMAT": "json",
	} {
		t.Setenv(k, v)
	}
	return serveDUO(t, "../../testdata/config/duo.yaml", duo)
}

func newDUO(t *testing.T) *duofake.Server {
	duo := duofake.New(t, duofake.Options{IntegrationKey: duoIKey, SecretKey: duoSKey})
	duo.AddUser("alice", duofake.Device{
		ID: aliceID, Type: "phone", Name: "Alice's iPhone", Number: "XXX-XXX-0123",
		Capabilities: []string{"auto", "push", "sms", "phone", "mobile_otp"},
	})
	duo.AddUser("bob", duofake.Device{ID: "DPBOB0000000000000000", Type: "phone", Name: "Bob's phone",
		Capabilities: []string{"push"}})
	// A hardware token: DUO lists it without capabilities.
	duo.AddUser("carol", duofake.Device{ID: "DPCAROLPHONE00000000", Type: "phone", Name: "Carol's phone",
		Capabilities: []string{"push"}}, duofake.Device{ID: "DPCAROLTOKEN00000000", Type: "token", Name: "Carol's token"})
	return duo
}

func serveDUO(t *testing.T, path string, duo *duofake.Server) (*verifySim, *duofake.Server, *manualClock, *lockedLog) {
	t.Helper()
	app := fakeCLI()
	if out := app.must(t, "check", "--config", path); !strings.Contains(out, "12 transforms compiled") {
		t.Fatalf("check: %s", out)
	}
	base, logs := app.startServe(t, path)
	clk := app.clock
	return &verifySim{t: t, base: base + "/v1/providers/duo", user: "verify", pw: "sim-password-0123"}, duo, clk, logs
}

// challenge sends initiate, validate or result and returns the status and transactionId.
func (v *verifySim) challenge(resource, capability, id, user, txid, passvalue string) (string, string) {
	v.t.Helper()
	attrs := map[string]any{"username": user}
	if passvalue != "" {
		attrs["passvalue"] = passvalue
	}
	body := map[string]any{"capability": capability, "id": id, "attributes": attrs}
	if txid != "" {
		body["transactionId"] = txid
	}
	data, _ := json.Marshal(body)
	code, resp := v.call("POST", resource, string(data))
	status := v.status(code, resp)
	var out struct {
		TransactionID string `json:"transactionId"`
	}
	json.Unmarshal(resp, &out)
	return status, out.TransactionID
}

func TestDUOWebhookUnchanged(t *testing.T) {
	sim, duo, clk, logs := duoSetup(t, "2s")
	duoFlows(t, sim, duo, clk, logs)
	// IBM's enrollments transform reads d.capabilities unguarded: a user with a token
	// device, which DUO lists without capabilities, gets no factors at all.
	sim.t = t
	if list := sim.enrollments("carol"); len(list) != 0 {
		t.Errorf("IBM's transform on a token device: %+v", list)
	}
}

// emfa's own DUO configuration answers every flow the same way, and keeps a token
// device from hiding the user's other factors.
func TestDUOExampleConfig(t *testing.T) {
	sim, duo, clk, logs := exampleSetup(t)
	duoFlows(t, sim, duo, clk, logs)
	sim.t = t
	if list := sim.enrollments("carol"); len(list) != 1 || list[0].ID != "DPCAROLPHONE00000000" || list[0].Capability != "push" {
		t.Errorf("carol: %+v", list)
	}
}

// duoFlows drives every DUO flow through emfa's contract endpoints.
func duoFlows(t *testing.T, sim *verifySim, duo *duofake.Server, clk *manualClock, logs *lockedLog) {

	t.Run("enrollments", func(t *testing.T) {
		sim.t = t
		got := map[string]string{}
		for _, e := range sim.enrollments("alice") {
			if e.ID != aliceID || e.Attributes["deviceName"] != "Alice's iPhone" || e.Attributes["deliveryAddress"] != "XXX-XXX-0123" {
				t.Errorf("enrollment %+v", e)
			}
			got[e.Capability] = e.Attributes["authExecutionFlow"].(string)
		}
		// auto is dropped by IBM's transform; phone is dropped by emfa because the
		// provider does not expose it; mobile_otp becomes hotp.
		want := map[string]string{"push": "init_then_poll", "smsotp": "init_then_validate", "hotp": "validate"}
		if !mapsEqual(got, want) {
			t.Errorf("alice's enrollments %v, want %v", got, want)
		}
		if list := sim.enrollments("nobody"); len(list) != 0 {
			t.Errorf("unknown user: %+v", list)
		}
	})

	t.Run("push approved", func(t *testing.T) {
		sim.t = t
		duo.SetPushOutcome("alice", duofake.Waiting, duofake.Waiting, duofake.Allow)
		status, txid := sim.challenge("initiate", "push", aliceID, "alice", "", "")
		if status != "PENDING" || txid == "" {
			t.Fatalf("initiate: %s %q", status, txid)
		}
		for i, want := range []string{"PENDING", "PENDING", "SUCCESS"} {
			if got, _ := sim.challenge("result", "push", aliceID, "alice", txid, ""); got != want {
				t.Errorf("poll %d: %s, want %s", i, got, want)
			}
		}
		// The transactionId is emfa's; DUO was polled on its own txid.
		const authStatus = "/auth/v2/auth_status"
		reqs := duo.Requests()
		if duoTx := reqs[len(reqs)-1].Query.Get("txid"); duoTx == "" || duoTx == txid || duo.Polls(duoTx) != 3 {
			t.Errorf("DUO polled on %q (%d polls), Verify given %q: want DUO's own txid, polled 3 times", duoTx, duo.Polls(duoTx), txid)
		}
		// Terminal is remembered: the vendor is not asked again.
		polls := duo.Count(authStatus)
		if got, _ := sim.challenge("result", "duo:push", aliceID, "alice", txid, ""); got != "SUCCESS" || duo.Count(authStatus) != polls {
			t.Errorf("repeat poll: %s (vendor polled %d→%d)", got, polls, duo.Count(authStatus))
		}
	})

	for _, c := range []struct {
		name string
		step duofake.Step
		want string
	}{
		{"push denied", duofake.Deny, "FAILED"},
		{"push fraud", duofake.Fraud, "FAILED"},
		{"push timeout at DUO", duofake.Timeout, "TIMEOUT"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sim.t = t
			duo.SetPushOutcome("alice", duofake.Waiting, c.step)
			_, txid := sim.challenge("initiate", "push", aliceID, "alice", "", "")
			if got, _ := sim.challenge("result", "push", aliceID, "alice", txid, ""); got != "PENDING" {
				t.Errorf("first poll %s", got)
			}
			for range 2 {
				if got, _ := sim.challenge("result", "push", aliceID, "alice", txid, ""); got != c.want {
					t.Errorf("poll: %s, want %s", got, c.want)
				}
			}
		})
	}

	t.Run("push past emfa's deadline", func(t *testing.T) {
		sim.t = t
		duo.SetPushOutcome("alice", duofake.Waiting) // DUO would say waiting for ever
		_, txid := sim.challenge("initiate", "push", aliceID, "alice", "", "")
		if got, _ := sim.challenge("result", "push", aliceID, "alice", txid, ""); got != "PENDING" {
			t.Fatalf("before the deadline: %s", got)
		}
		clk.Advance(2*time.Minute + time.Second)
		polls := duo.Count("/auth/v2/auth_status")
		for range 2 {
			if got, _ := sim.challenge("result", "push", aliceID, "alice", txid, ""); got != "TIMEOUT" {
				t.Errorf("after the deadline: %s, want TIMEOUT", got)
			}
		}
		if duo.Count("/auth/v2/auth_status") != polls {
			t.Error("the vendor was polled after emfa's deadline")
		}
	})

	t.Run("foreign transactions", func(t *testing.T) {
		sim.t = t
		duo.SetPushOutcome("alice", duofake.Waiting, duofake.Allow)
		_, txid := sim.challenge("initiate", "push", aliceID, "alice", "", "")
		calls := len(duo.Requests())
		for _, c := range []struct{ capability, id, user, txid string }{
			{"push", aliceID, "bob", txid},                   // another user
			{"smsotp", aliceID, "alice", txid},               // another capability
			{"push", "DPBOB0000000000000000", "alice", txid}, // another factor
			{"push", aliceID, "alice", "made-up"},            // unknown
		} {
			if got, _ := sim.challenge("result", c.capability, c.id, c.user, c.txid, ""); got != "FAILED" {
				t.Errorf("%+v: %s", c, got)
			}
		}
		if got, _ := sim.challenge("validate", "push", aliceID, "bob", txid, "123456"); got != "FAILED" {
			t.Errorf("bob validating alice's transaction: %s", got)
		}
		if len(duo.Requests()) != calls {
			t.Errorf("foreign transactions reached the vendor: %d calls", len(duo.Requests())-calls)
		}
	})

	t.Run("sms then passcode", func(t *testing.T) {
		sim.t = t
		status, txid := sim.challenge("initiate", "smsotp", aliceID, "alice", "", "")
		if status != "PENDING" || txid == "" {
			t.Fatalf("initiate: %s", status)
		}
		// IBM maps DUO's deny+sent to PENDING: the code went out, none entered yet.
		if got, _ := sim.challenge("result", "smsotp", aliceID, "alice", txid, ""); got != "PENDING" {
			t.Errorf("result after send: %s", got)
		}
		code, ok := duo.SentPasscode("alice")
		if !ok {
			t.Fatal("DUO sent no code")
		}
		if got, _ := sim.challenge("validate", "smsotp", aliceID, "alice", txid, notAmong(code)); got != "FAILED" {
			t.Errorf("wrong code: %s", got)
		}
		if got, _ := sim.challenge("validate", "smsotp", aliceID, "alice", txid, code); got != "SUCCESS" {
			t.Errorf("right code: %s", got)
		}
		if got, _ := sim.challenge("validate", "smsotp", aliceID, "alice", txid, code); got != "FAILED" {
			t.Errorf("second use of the transaction: %s", got)
		}
	})

	t.Run("hotp_1 passcode", func(t *testing.T) {
		sim.t = t
		duo.SetPasscode("alice", "314159")
		before := len(duo.Requests())
		if got := sim.validate("hotp", aliceID, "alice", "271828"); got != "FAILED" {
			t.Errorf("wrong passcode: %s", got)
		}
		if got := sim.validate("hotp", aliceID, "alice", "314159"); got != "SUCCESS" {
			t.Errorf("right passcode: %s", got)
		}
		reqs := duo.Requests()[before:]
		if len(reqs) != 2 || reqs[1].Path != "/auth/v2/auth" || reqs[1].Form.Get("factor") != "passcode" || reqs[1].Form.Get("passcode") != "314159" {
			t.Errorf("vendor saw %+v", reqs)
		}
	})

	t.Run("test", func(t *testing.T) {
		sim.t = t
		if c, data := sim.call("GET", "test", ""); sim.status(c, data) != "SUCCESS" {
			t.Errorf("test: %s", data)
		}
	})

	// Every request emfa sent passed DUO's signature and Date checks.
	for _, r := range duo.Requests() {
		if r.Reject != "" {
			t.Errorf("DUO refused %s %s: %s", r.Method, r.Path, r.Reject)
		}
	}
	if strings.Contains(logs.String(), duoSKey) || secretscan.Holds(logs.String(), "314159") { // the passcode as a word: the log holds random ids
		t.Error("the signing key or a passcode reached the log")
	}
}

// A vendor that misbehaves yields FAILED (or []) within the configured timeout, is
// counted in the log, and leaks nothing.
func TestDUOVendorFaults(t *testing.T) {
	sim, duo, _, logs := duoSetup(t, "1s")
	goroutines := runtime.NumGoroutine()
	cases := []struct {
		name  string
		path  string
		fault duofake.Fault
	}{
		{"hang", "/auth/v2/auth", duofake.Hang()},
		{"server error with HTML", "/auth/v2/auth", duofake.Status(500, "<html><body>Internal Server Error</body></html>")},
		{"HTML with 200", "/auth/v2/auth", duofake.Status(200, "<html>maintenance</html>")},
		{"truncated body", "/auth/v2/auth", duofake.Truncate()},
		{"oversized body", "/auth/v2/auth", duofake.Oversize(2 << 20)},
		{"slow drip", "/auth/v2/auth", duofake.Drip(200 * time.Millisecond)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sim.t = t
			duo.SetFault(c.path, c.fault)
			defer duo.ClearFault(c.path)
			start := time.Now()
			status, txid := sim.challenge("initiate", "push", aliceID, "alice", "", "")
			if status != "FAILED" || txid != "" {
				t.Errorf("initiate: %s %q", status, txid)
			}
			// Bounded by the 1 s vendor timeout, well inside the 5 s request deadline.
			if elapsed := time.Since(start); elapsed > 4*time.Second {
				t.Errorf("answered after %s", elapsed)
			}
		})
	}
	t.Run("enrollments from a dead vendor", func(t *testing.T) {
		sim.t = t
		duo.SetFault("/auth/v2/preauth", duofake.Hang())
		defer duo.ClearFault("/auth/v2/preauth")
		if list := sim.enrollments("alice"); len(list) != 0 {
			t.Errorf("enrollments: %+v", list)
		}
	})
	// Each fault is logged with its kind (and counted by the engine), an HTML page or half
	// a JSON body with a 200 too: neither reaches IBM's incoming transform.
	for _, kind := range []string{`"kind":"timeout"`, `"kind":"too_large"`, "unexpected status", `"kind":"html"`, `"kind":"malformed"`} {
		if !strings.Contains(logs.String(), kind) {
			t.Errorf("log does not record %s:\n%s", kind, grepLines(logs.String(), "vendor"))
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := duo.WaitIdle(ctx); err != nil {
		t.Errorf("the vendor still has requests in flight: %v", err)
	}
	// Goroutines settle: no request, body reader or token refresh left behind.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > goroutines+5 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines+5 {
		t.Errorf("goroutines grew from %d to %d", goroutines, n)
	}
}

func TestDUOConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	sim, _, _, logs := duoSetupAt(t, "2s", closed)
	if got, _ := sim.challenge("initiate", "push", aliceID, "alice", "", ""); got != "FAILED" {
		t.Errorf("initiate: %s", got)
	}
	if list := sim.enrollments("alice"); len(list) != 0 {
		t.Errorf("enrollments: %+v", list)
	}
	if c, data := sim.call("GET", "test", ""); sim.status(c, data) != "FAILED" {
		t.Errorf("test: %s", data)
	}
	if !strings.Contains(logs.String(), `"kind":"refused"`) {
		t.Error("the refused connection is not logged as such")
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// grepLines keeps the lines of s that contain sub, for failure messages.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
