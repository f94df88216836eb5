package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// writePushConfig is writeConfig with push exposed, number matching on, and a notifier.
func writePushConfig(t testing.TB, storage, notifierURL string) string {
	return writeTestConfig(t, storage, fmt.Sprintf(`providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp, push]
    engine: builtin
    builtin:
      push:
        lifetime: 2m
        numberMatching: true
        serverURL: https://emfa.example.com
        notifier:
          url: %q
          headers: [{name: X-Gateway-Key, value: gateway-secret}]
          timeout: 2s
`, notifierURL))
}

// notifierSink is a push gateway: it keeps what emfa notifies.
type notifierSink struct {
	mu  sync.Mutex
	got []map[string]string
}

func (n *notifierSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var msg map[string]string
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil || r.Header.Get("X-Gateway-Key") != "gateway-secret" {
		http.Error(w, "bad notification", http.StatusBadRequest)
		return
	}
	n.mu.Lock()
	n.got = append(n.got, msg)
	n.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (n *notifierSink) last() map[string]string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.got) == 0 {
		return nil
	}
	return n.got[len(n.got)-1]
}

func TestPushEndToEnd(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { simulatePush(t, "") })
	t.Run("postgres", func(t *testing.T) {
		sv := testdb.Connect(t)
		simulatePush(t, fmt.Sprintf("driver: postgres\n  dsn: %q", sv.Migrated(t)))
	})
}

// simulatePush: the verifySim drives `emfa serve` while `emfa device` plays the phone.
func simulatePush(t *testing.T, storage string) {
	sink := &notifierSink{}
	gateway := httptest.NewServer(sink)
	defer gateway.Close()
	cfg := writePushConfig(t, storage, gateway.URL)
	app := fakeCLI()
	clk := app.clock
	dir := t.TempDir()

	app.must(t, "users", "add", "alice", "--config", cfg)
	app.must(t, "users", "add", "bob", "--config", cfg)
	var enrolled struct {
		ID, State, ActivationCode, RegistrationURI, RegistrationURL string
	}
	if err := json.Unmarshal([]byte(app.must(t, "factors", "add", "push", "--user", "alice", "--name", "Alice's phone", "--config", cfg)), &enrolled); err != nil ||
		enrolled.State != "pending_activation" || enrolled.ActivationCode == "" ||
		enrolled.RegistrationURI != "emfa://register?code="+enrolled.ActivationCode+"&server=https%3A%2F%2Femfa.example.com" ||
		enrolled.RegistrationURL != "https://emfa.example.com/v1/devices/register#code="+enrolled.ActivationCode {
		t.Fatalf("factors add push: %+v %v", enrolled, err)
	}
	var bobEnrolled, carolEnrolled struct{ ID, ActivationCode, RegistrationURI string }
	json.Unmarshal([]byte(app.must(t, "factors", "add", "push", "--user", "bob", "--config", cfg)), &bobEnrolled)
	app.must(t, "users", "add", "carol", "--config", cfg)
	json.Unmarshal([]byte(app.must(t, "factors", "add", "push", "--user", "carol", "--config", cfg)), &carolEnrolled)

	base, logs := app.startServe(t, cfg)
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	if list := sim.enrollments("alice"); len(list) != 0 {
		t.Errorf("an unregistered device is offered: %+v", list)
	}

	// The phones register: alice's with the code, bob's and carol's with the two forms of
	// registration URI (bob's https link names the server itself).
	aliceState, bobState := filepath.Join(dir, "alice.json"), filepath.Join(dir, "bob.json")
	var reg struct{ DeviceID string }
	json.Unmarshal([]byte(app.must(t, "device", "register", "--server", base, "--code", enrolled.ActivationCode,
		"--state", aliceState, "--alg", "ES256", "--name", "Pixel 8")), &reg)
	if reg.DeviceID != enrolled.ID {
		t.Fatalf("registered as %q, want %q", reg.DeviceID, enrolled.ID)
	}
	if fi, err := os.Stat(aliceState); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file: %v %v", fi, err)
	}
	app.must(t, "device", "register", "--code", base+"/v1/devices/register#code="+bobEnrolled.ActivationCode, "--state", bobState, "--alg", "Ed25519")
	app.must(t, "device", "register", "--server", base, "--code", carolEnrolled.RegistrationURI, "--state", filepath.Join(dir, "carol.json"))
	if list := sim.enrollments("carol"); len(list) != 1 || list[0].ID != carolEnrolled.ID {
		t.Errorf("carol: %+v", list)
	}
	if code, _, errOut := app.run(t, "device", "register", "--server", base, "--code", enrolled.ActivationCode, "--state", filepath.Join(dir, "again.json")); code != 1 ||
		!strings.Contains(errOut, "401: activation code invalid, expired or already used") {
		t.Errorf("second registration with one code: %d %s", code, errOut)
	}
	list := sim.enrollments("alice")
	if len(list) != 1 || list[0].ID != enrolled.ID || list[0].Capability != "push" ||
		list[0].Attributes["authExecutionFlow"] != "init_then_poll" || list[0].Attributes["deviceName"] != "Pixel 8" {
		t.Errorf("enrollments after registration: %+v", list)
	}

	// initiate starts a challenge and checks what Verify and the push gateway see.
	initiate := func(t *testing.T) (string, int) {
		t.Helper()
		sim.t = t
		body := fmt.Sprintf(`{"capability":"emfa:push","id":%q,"attributes":{"username":"alice"}}`, enrolled.ID)
		code, data := sim.call("POST", "initiate", body)
		var out struct {
			Status, TransactionID string
			Attributes            struct{ Number int }
		}
		if sim.status(code, data) != "PENDING" || json.Unmarshal(data, &out) != nil || out.TransactionID == "" ||
			out.Attributes.Number < 10 || out.Attributes.Number > 99 {
			t.Fatalf("initiate: %s", data)
		}
		n := sink.last()
		expires, _ := time.Parse(time.RFC3339Nano, n["expiresAt"])
		if n["deviceId"] != enrolled.ID || n["challengeId"] != out.TransactionID || n["user"] != "alice" ||
			!expires.Equal(clk.Now().Add(2*time.Minute).Truncate(time.Millisecond)) {
			t.Errorf("notification: %v", n)
		}
		return out.TransactionID, out.Attributes.Number
	}
	result := func(tx string) string {
		s, _ := sim.challenge("result", "push", enrolled.ID, "alice", tx, "")
		return s
	}
	device := func(t *testing.T, args ...string) string {
		t.Helper()
		var out struct{ Status string }
		if err := json.Unmarshal([]byte(app.must(t, append([]string{"device"}, append(args, "--state", aliceState)...)...)), &out); err != nil {
			t.Fatal(err)
		}
		return out.Status
	}

	t.Run("approve", func(t *testing.T) {
		tx, number := initiate(t)
		var pending struct {
			Challenges []struct {
				ID, User       string
				NumberMatching bool
			}
		}
		json.Unmarshal([]byte(app.must(t, "device", "pending", "--state", aliceState)), &pending)
		if len(pending.Challenges) != 1 || pending.Challenges[0].ID != tx || pending.Challenges[0].User != "alice" || !pending.Challenges[0].NumberMatching {
			t.Errorf("pending: %+v", pending)
		}
		if got := result(tx); got != "PENDING" {
			t.Errorf("before the answer: %s", got)
		}
		if got := device(t, "approve", tx, "--number", fmt.Sprint(number)); got != "SUCCESS" {
			t.Errorf("approve: %s", got)
		}
		for range 2 {
			if got := result(tx); got != "SUCCESS" {
				t.Errorf("result: %s", got)
			}
		}
	})

	t.Run("deny", func(t *testing.T) {
		tx, _ := initiate(t)
		if got := device(t, "deny", tx); got != "FAILED" {
			t.Errorf("deny: %s", got)
		}
		if got := result(tx); got != "FAILED" {
			t.Errorf("result: %s", got)
		}
		if !strings.Contains(logs.String(), "push denied on the device: possible fraud") {
			t.Error("denial not logged")
		}
	})

	t.Run("wrong number", func(t *testing.T) {
		tx, number := initiate(t)
		if got := device(t, "approve", tx, "--number", fmt.Sprint(number%90+11)); got != "FAILED" {
			t.Errorf("wrong number: %s", got)
		}
		if got := result(tx); got != "FAILED" {
			t.Errorf("result: %s", got)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		tx, _ := initiate(t)
		if got := device(t, "cancel", tx); got != "CANCELED" {
			t.Errorf("cancel: %s", got)
		}
		if got := result(tx); got != "CANCELED" {
			t.Errorf("result: %s", got)
		}
	})

	t.Run("a newer challenge cancels the older", func(t *testing.T) {
		older, _ := initiate(t)
		newer, _ := initiate(t)
		if got := result(older); got != "CANCELED" {
			t.Errorf("older: %s", got)
		}
		device(t, "cancel", newer)
	})

	t.Run("timeout", func(t *testing.T) {
		tx, number := initiate(t)
		clk.Advance(2*time.Minute + time.Second)
		if got := result(tx); got != "TIMEOUT" {
			t.Errorf("past the lifetime: %s", got)
		}
		if code, _, errOut := app.run(t, "device", "approve", tx, "--number", fmt.Sprint(number), "--state", aliceState); code != 1 || !strings.Contains(errOut, "409") {
			t.Errorf("approving a timed-out challenge: %d %s", code, errOut)
		}
		if got := result(tx); got != "TIMEOUT" {
			t.Errorf("polled again: %s", got)
		}
	})

	t.Run("approved while push is switched off", func(t *testing.T) {
		tx, number := initiate(t)
		admin := openTestEnv(t, cfg)
		defer admin.Close()
		turn := func(off bool) {
			t.Helper()
			sw := store.CapabilitySwitch{Provider: "emfa", Capability: "push", Disabled: off, Reason: "push fatigue attack", UpdatedAt: clk.Now()}
			if err := admin.store.SetCapabilitySwitch(context.Background(), sw, store.AuditEvent{Time: clk.Now(), Resource: "switch"}); err != nil {
				t.Fatal(err)
			}
			clk.Advance(provider.DefaultSwitchTTL) // every replica's view of the switches
		}
		// No poll comes while push is off: the approval itself is refused, and no poll
		// once push is back on turns it into a sign-in.
		turn(true)
		if got := device(t, "approve", tx, "--number", fmt.Sprint(number)); got != "FAILED" {
			t.Errorf("approved while push was switched off: %s", got)
		}
		turn(false)
		if got := result(tx); got != "FAILED" {
			t.Errorf("result once push is back on: %s", got)
		}
	})

	t.Run("foreign", func(t *testing.T) {
		tx, number := initiate(t)
		if code, _, errOut := app.run(t, "device", "approve", tx, "--number", fmt.Sprint(number), "--state", bobState); code != 1 || !strings.Contains(errOut, "404") {
			t.Errorf("bob's device approving alice's challenge: %d %s", code, errOut)
		}
		if s, _ := sim.challenge("result", "push", bobEnrolled.ID, "bob", tx, ""); s != "FAILED" {
			t.Errorf("bob polling alice's transaction: %s", s)
		}
		if s, _ := sim.challenge("validate", "push", enrolled.ID, "alice", tx, "123456"); s != "FAILED" {
			t.Errorf("validate on push: %s", s)
		}
		if got := result(tx); got != "PENDING" {
			t.Errorf("after the foreign attempts: %s", got)
		}
		// An unsigned call to the device API is refused with JSON, never HTML.
		resp, err := http.Get(base + "/v1/devices/challenges")
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.Contains(string(data), `"messageId":"unauthorized"`) {
			t.Errorf("unsigned call: %d %s", resp.StatusCode, data)
		}
	})

	state, _ := os.ReadFile(aliceState)
	var st deviceState
	json.Unmarshal(state, &st)
	for _, secret := range []string{enrolled.ActivationCode, st.PrivateKey, "gateway-secret", "sim-password-0123"} {
		if secret == "" || strings.Contains(logs.String(), secret) {
			t.Errorf("log contains a secret %q", secret)
		}
	}
}

// BenchmarkPushRoundTrip is one push login over loopback HTTP: Verify's initiate, the
// device's signed approval (ES256), Verify's result answering SUCCESS.
func BenchmarkPushRoundTrip(b *testing.B) {
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer gateway.Close()
	path := writePushConfig(b, "", gateway.URL)
	if data, err := os.ReadFile(path); err != nil {
		b.Fatal(err)
	} else if err := os.WriteFile(path, []byte(strings.Replace(string(data), "level: debug", "level: warn", 1)), 0o600); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	e := openTestEnv(b, path)
	b.Cleanup(func() { e.Close() })
	providers, err := e.providers()
	if err != nil {
		b.Fatal(err)
	}
	devices, err := e.devices(providers)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(adapter.New(adapter.Options{Providers: providers, Log: e.log, Devices: devices,
		Auth: adapter.Auth{BasicUsername: "verify", BasicPassword: "sim-password-0123"}}).Handler())
	b.Cleanup(srv.Close)

	if err := e.store.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: e.now()}); err != nil {
		b.Fatal(err)
	}
	engine, err := e.enrollEngine(builtin.TypePush)
	if err != nil {
		b.Fatal(err)
	}
	enrolled, err := engine.Enroll(ctx, builtin.Enrollment{Type: builtin.TypePush, User: "alice"})
	if err != nil {
		b.Fatal(err)
	}
	statePath := filepath.Join(b.TempDir(), "device.json")
	d := &deps{stdout: io.Discard, now: e.now}
	if err := d.deviceRegister(ctx, srv.URL, enrolled.Output["activationCode"].(string), "ES256", "bench", statePath); err != nil {
		b.Fatal(err)
	}
	st, key, err := loadDeviceState(statePath)
	if err != nil {
		b.Fatal(err)
	}
	verify := func(resource, body string) map[string]any {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/providers/emfa/"+resource, strings.NewReader(body))
		req.SetBasicAuth("verify", "sim-password-0123")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	for b.Loop() {
		out := verify("initiate", fmt.Sprintf(`{"capability":"push","id":%q,"attributes":{"username":"alice"}}`, enrolled.Factor.ID))
		tx, _ := out["transactionId"].(string)
		number, _ := out["attributes"].(map[string]any)["number"].(float64)
		answer := fmt.Sprintf(`{"decision":"approve","number":%d}`, int(number))
		if _, err := d.deviceSend(ctx, st, key, "POST", "/v1/devices/challenges/"+tx, []byte(answer)); err != nil {
			b.Fatal(err)
		}
		res := verify("result", fmt.Sprintf(`{"capability":"push","id":%q,"transactionId":%q,"attributes":{"username":"alice"}}`, enrolled.Factor.ID, tx))
		if res["status"] != "SUCCESS" {
			b.Fatalf("result: %v", res)
		}
	}
}

// A device registered with a --state its key cannot be kept in (a folder that is not
// there) is refused before the activation code is spent: the code still registers the
// device once the path is right.
func TestDeviceRegisterKeepsTheCodeForAStateItCannotWrite(t *testing.T) {
	app, enrolled, base := alicesPushServe(t)
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-folder", "phone.json")
	code, _, errOut := app.run(t, "device", "register", "--server", base, "--code", enrolled.ActivationCode, "--state", missing)
	if code != 1 || !strings.Contains(errOut, "--state") || !strings.Contains(errOut, "not spent") {
		t.Errorf("register into a missing folder: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Dir(missing)); !os.IsNotExist(err) {
		t.Errorf("a folder was made: %v", err)
	}
	var reg struct{ DeviceID string }
	if err := json.Unmarshal([]byte(app.must(t, "device", "register", "--server", base, "--code", enrolled.ActivationCode,
		"--state", filepath.Join(dir, "phone.json"))), &reg); err != nil || reg.DeviceID != enrolled.ID {
		t.Errorf("the same code, a state it can write: %+v %v", reg, err)
	}
	// A registration refused by the server leaves no empty state file behind.
	again := filepath.Join(dir, "again.json")
	if code, _, _ := app.run(t, "device", "register", "--server", base, "--code", enrolled.ActivationCode, "--state", again); code != 1 {
		t.Errorf("a spent code: exit %d", code)
	}
	if _, err := os.Stat(again); !os.IsNotExist(err) {
		t.Errorf("a refused registration left %s: %v", again, err)
	}
}

// alicesPushServe serves a push configuration (its notifier a sink on loopback) with
// alice and a push factor of hers, pending its activation: enrolled's code registers it.
func alicesPushServe(t *testing.T) (app *cli, enrolled struct{ ID, ActivationCode string }, base string) {
	t.Helper()
	gateway := httptest.NewServer(&notifierSink{})
	t.Cleanup(gateway.Close)
	cfg := writePushConfig(t, "", gateway.URL)
	app = fakeCLI()
	app.must(t, "users", "add", "alice", "--config", cfg)
	if err := json.Unmarshal([]byte(app.must(t, "factors", "add", "push", "--user", "alice", "--config", cfg)), &enrolled); err != nil {
		t.Fatal(err)
	}
	base, _ = app.startServe(t, cfg)
	return app, enrolled, base
}
