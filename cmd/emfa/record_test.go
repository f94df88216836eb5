package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/duofake"
	"github.com/emfa/emfa/internal/secretscan"
	"github.com/emfa/emfa/internal/verifyfiles"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/transcript"
)

// The seed every TOTP and HOTP factor of the recorded session uses: the one secret a
// recording redacts that a replay needs put back by hand.
const recordSeed = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

// recordEnv serves cfgPath with --record under a fake clock, with EMFA_* overrides for
// what the shipped configurations leave to the environment.
func recordEnv(t *testing.T, extra map[string]string) (dir string, app *cli) {
	t.Helper()
	for k, v := range map[string]string{
		"EMFA_VERIFY_PASSWORD": "sim-password-0123", "EMFA_ENCRYPTION_KEY": testEncryptionKey,
		"EMFA_SERVER_LISTEN": "127.0.0.1:0", "EMFA_STORAGE_DSN": "file:" + filepath.Join(t.TempDir(), "emfa.db"),
		"EMFA_LOG_LEVEL": "debug", "EMFA_LOG_FORMAT": "json",
	} {
		t.Setenv(k, v)
	}
	for k, v := range extra {
		t.Setenv(k, v)
	}
	return filepath.Join(t.TempDir(), "recorded"), fakeCLI()
}

// A live session of every built-in flow, served with --record from
// testdata/config/all-factors.yaml and driven by an independent client, replays green
// with no edit but the TOTP/HOTP seed put back (issue 14, item 5).
func TestRecordEveryBuiltinFlowThenReplay(t *testing.T) {
	const cfg = "../../testdata/config/all-factors.yaml"
	recordDir, app := recordEnv(t, nil)
	clk := app.clock
	for _, u := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"} {
		app.must(t, "users", "add", u, "--config", cfg)
	}
	add := func(args ...string) string {
		var f struct{ ID, ActivationCode string }
		json.Unmarshal([]byte(app.must(t, append(append([]string{"factors", "add"}, args...), "--config", cfg)...)), &f)
		if f.ActivationCode != "" {
			return f.ID + " " + f.ActivationCode
		}
		return f.ID
	}
	aliceTOTP := add("totp", "--user", "alice", "--secret", recordSeed)
	bobTOTP := add("totp", "--user", "bob", "--secret", recordSeed)
	carolHOTP := add("hotp", "--user", "carol", "--secret", recordSeed)
	daveSMS := add("smsotp", "--user", "dave", "--phone", "+15551230123")
	erinMail := add("emailotp", "--user", "erin", "--email", "erin@example.com")
	frankCall := add("voicecall", "--user", "frank", "--phone", "+15551239999")
	graceQ := add("question", "--user", "grace", "--question", "First pet?", "--answer", "Rex", "--question", "Home town?", "--answer", "São Paulo")
	heidiPush, activation, _ := strings.Cut(add("push", "--user", "heidi"), " ")

	base, logs, stop := app.serve(t, "--config", cfg, "--record", recordDir)
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	state := filepath.Join(t.TempDir(), "heidi.json")
	app.must(t, "device", "register", "--server", base, "--code", activation, "--state", state)

	totpNow := func() string {
		return strings.TrimSpace(app.must(t, "totp", "code", "--secret", recordSeed, "--time", strconv.FormatInt(clk.Now().Unix(), 10)))
	}
	sentTo := func(to string) string {
		t.Helper()
		re := regexp.MustCompile(`"to":"` + regexp.QuoteMeta(to) + `","user":"[^"]*","code":"(\d+)"`)
		m := re.FindAllStringSubmatch(logs.String(), -1)
		if len(m) == 0 {
			t.Fatalf("no code sent to %s", to)
		}
		return m[len(m)-1][1]
	}
	want := func(what string, got answer, status string) answer { t.Helper(); return sim.want(what, got, status) }

	// TOTP: a code is accepted once.
	sim.enrollments("alice")
	code := totpNow()
	want("totp", sim.step("validate", "totp", aliceTOTP, "alice", "", code), "SUCCESS")
	want("totp replayed", sim.step("validate", "totp", aliceTOTP, "alice", "", code), "FAILED")

	// Lockout: five wrong codes lock the factor; the right code is refused until it ends.
	for i := range 5 {
		want(fmt.Sprintf("wrong code %d", i+1), sim.step("validate", "totp", bobTOTP, "bob", "", wrongTOTP(t, recordSeed, clk.Now())), "FAILED")
	}
	want("locked", sim.step("validate", "totp", bobTOTP, "bob", "", totpNow()), "FAILED")
	clk.Advance(16 * time.Minute)
	want("unlocked", sim.step("validate", "totp", bobTOTP, "bob", "", totpNow()), "SUCCESS")

	// HOTP: two presses of the token.
	seed, _ := builtin.DecodeSecret(recordSeed)
	want("hotp 0", sim.step("validate", "hotp", carolHOTP, "carol", "", builtin.HOTP(builtin.SHA1, seed, 0, 6)), "SUCCESS")
	want("hotp 1", sim.step("validate", "hotp", carolHOTP, "carol", "", builtin.HOTP(builtin.SHA1, seed, 1, 6)), "SUCCESS")

	// SMS: a code, a resend refused by the send limit, a wrong code, the right one.
	tx := want("sms", sim.step("initiate", "smsotp", daveSMS, "dave", "", ""), "PENDING").TransactionID
	want("sms resend too soon", sim.step("initiate", "smsotp", daveSMS, "dave", "", ""), "FAILED")
	want("sms wrong", sim.step("validate", "smsotp", daveSMS, "dave", tx, notAmong(sentTo("+15551230123"))), "FAILED")
	want("sms right", sim.step("validate", "smsotp", daveSMS, "dave", tx, sentTo("+15551230123")), "SUCCESS")

	// E-mail and voice call.
	tx = want("email", sim.step("initiate", "emailotp", erinMail, "erin", "", ""), "PENDING").TransactionID
	want("email right", sim.step("validate", "emailotp", erinMail, "erin", tx, sentTo("erin@example.com")), "SUCCESS")
	tx = want("call", sim.step("initiate", "voicecall", frankCall, "frank", "", ""), "PENDING").TransactionID
	want("call result", sim.step("result", "voicecall", frankCall, "frank", tx, ""), "PENDING")
	want("call right", sim.step("validate", "voicecall", frankCall, "frank", tx, sentTo("+15551239999")), "SUCCESS")

	// Questions: a wrong answer, then the right one to whichever was asked.
	a := want("question", sim.step("initiate", "question", graceQ, "grace", "", ""), "PENDING")
	want("question wrong", sim.step("validate", "question", graceQ, "grace", a.TransactionID, "Paris"), "FAILED")
	answerTo := map[string]string{"First pet?": "rex", "Home town?": "  são  PAULO"}
	want("question right", sim.step("validate", "question", graceQ, "grace", a.TransactionID, answerTo[fmt.Sprint(a.Attributes["question"])]), "SUCCESS")

	// Push with number matching: approved, denied, canceled, a wrong number, and one left
	// to expire, polled late.
	device := func(decision, tx string, number any) {
		t.Helper()
		args := []string{"device", decision, tx, "--state", state}
		if number != nil {
			args = append(args, "--number", fmt.Sprint(number))
		}
		app.must(t, args...)
	}
	sim.enrollments("heidi")
	for _, c := range []struct {
		decision string
		right    bool
		status   string
	}{{"approve", true, "SUCCESS"}, {"deny", false, "FAILED"}, {"cancel", false, "CANCELED"}, {"approve", false, "FAILED"}} {
		a := want("push", sim.step("initiate", "push", heidiPush, "heidi", "", ""), "PENDING")
		want("push pending", sim.step("result", "push", heidiPush, "heidi", a.TransactionID, ""), "PENDING")
		var number any
		if c.decision == "approve" {
			number = a.Attributes["number"]
			if !c.right {
				number = 7
			}
		}
		device(c.decision, a.TransactionID, number)
		want("push "+c.decision, sim.step("result", "push", heidiPush, "heidi", a.TransactionID, ""), c.status)
	}
	a = want("push", sim.step("initiate", "push", heidiPush, "heidi", "", ""), "PENDING")
	clk.Advance(2*time.Minute + time.Second)
	want("push expired", sim.step("result", "push", heidiPush, "heidi", a.TransactionID, ""), "TIMEOUT")
	clk.Advance(3 * time.Minute)
	want("late result", sim.step("result", "push", heidiPush, "heidi", a.TransactionID, ""), "TIMEOUT")
	stop()

	secrets := []string{"sim-password-0123", testEncryptionKey, recordSeed, "Rex", "São Paulo", "rex"}
	all := replayRecorded(t, recordDir, secrets)
	for _, want := range []string{
		"${sent(+15551230123)}", "${sent(erin@example.com)}", "${sent(+15551239999)}", "${answer()}",
		"question:\n", "- First pet?", "number: <capture:n1>", "number: ${n1}", "number: \"0\"", "action: deny", "action: cancel",
		"${totp(<redacted>, 6, 30, SHA1)}", "${hotp(<redacted>, 1, 6, SHA1)}",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in the recording", want)
		}
	}
}

// A live session of every DUO flow through testdata/config/duo.yaml, recorded and
// replayed with no edit at all.
func TestRecordDUOFlowsThenReplay(t *testing.T) {
	duo := newDUO(t)
	recordDir, app := recordEnv(t, map[string]string{"DUO_API_URL": duo.URL(), "DUO_IKEY": duoIKey, "DUO_SKEY": duoSKey})
	clk := app.clock
	base, _, stop := app.serve(t, "--config", "../../testdata/config/duo.yaml", "--record", recordDir)
	sim := &verifySim{t: t, base: base + "/v1/providers/duo", user: "verify", pw: "sim-password-0123"}

	sim.enrollments("alice")
	sim.enrollments("carol") // a token without capabilities
	var verifySaw []string   // the transactionIds Verify was answered
	for _, outcome := range []duofake.Step{duofake.Allow, duofake.Deny} {
		duo.SetPushOutcome("alice", duofake.Waiting, outcome)
		_, tx := sim.challenge("initiate", "push", aliceID, "alice", "", "")
		verifySaw = append(verifySaw, tx)
		sim.challenge("result", "push", aliceID, "alice", tx, "")
		sim.challenge("result", "push", aliceID, "alice", tx, "")
	}
	duo.SetPushOutcome("alice", duofake.Waiting)
	_, tx := sim.challenge("initiate", "push", aliceID, "alice", "", "")
	verifySaw = append(verifySaw, tx)
	sim.challenge("result", "push", aliceID, "alice", tx, "")
	clk.Advance(2*time.Minute + time.Second)
	if got, _ := sim.challenge("result", "push", aliceID, "alice", tx, ""); got != "TIMEOUT" {
		t.Errorf("past the deadline: %s", got)
	}
	clk.Advance(time.Minute)
	sim.challenge("result", "push", aliceID, "alice", tx, "")
	_, tx = sim.challenge("initiate", "smsotp", aliceID, "alice", "", "")
	verifySaw = append(verifySaw, tx)
	code, _ := duo.SentPasscode("alice")
	sim.challenge("validate", "smsotp", aliceID, "alice", tx, notAmong(code))
	if got, _ := sim.challenge("validate", "smsotp", aliceID, "alice", tx, code); got != "SUCCESS" {
		t.Errorf("sms: %s", got)
	}
	duo.SetPasscode("alice", "314159")
	if got := sim.validate("hotp", aliceID, "alice", "314159"); got != "SUCCESS" {
		t.Errorf("hotp: %s", got)
	}
	if status, _ := sim.call("GET", "test", ""); status != 200 {
		t.Errorf("test: %d", status)
	}
	(&verifySim{t: t, base: sim.base, user: "verify", pw: "wrong"}).call("POST", "enrollments", `{"username":"alice"}`)
	stop()
	recorded := replayRecorded(t, recordDir, []string{"sim-password-0123", duoSKey, testEncryptionKey, "314159"})
	// Verify was answered transactionIds emfa minted, which the recording captures; DUO was
	// polled with its own txids, which the recording keeps as DUO's requests.
	duoSaw := map[string]bool{}
	for _, r := range duo.Requests() {
		if id := r.Query.Get("txid"); id != "" {
			duoSaw[id] = true
		}
	}
	if len(duoSaw) != 3 {
		t.Errorf("DUO was polled on %d transactions, want 3: %v", len(duoSaw), duoSaw)
	}
	for _, id := range verifySaw {
		if duoSaw[id] || strings.Contains(recorded, id) {
			t.Errorf("Verify's transactionId %q reached DUO or the recording", id)
		}
	}
	for id := range duoSaw {
		if !strings.Contains(recorded, "txid: "+id) {
			t.Errorf("the recording lacks DUO's txid %q in DUO's requests", id)
		}
	}
}

// replayRecorded checks no secret reached the recording, puts the seed back where a
// recording redacted it (the one edit the README asks for), replays every transcript and
// returns them all, concatenated.
func replayRecorded(t *testing.T, dir string, secrets []string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) == 0 {
		t.Fatal("nothing recorded")
	}
	var all strings.Builder
	for _, path := range files {
		data, _ := os.ReadFile(path)
		all.Write(data)
		for _, secret := range secrets {
			if secretscan.Holds(string(data), secret) { // a short one as a word: a recording holds a vendor's UUIDs
				t.Errorf("%s contains the secret %q", filepath.Base(path), secret)
			}
		}
		fixed := strings.ReplaceAll(string(data), "secret: <redacted>", "secret: "+recordSeed)
		fixed = strings.ReplaceAll(fixed, "otp(<redacted>,", "otp("+recordSeed+",")
		tr, err := transcript.Parse([]byte(fixed))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		logs := &lockedLog{}
		if err := transcript.Run(context.Background(), tr, inProcess(logs, verifyfiles.Dir())); err != nil {
			t.Errorf("%s replays red: %v\n%s\n--- emfa log:\n%s", filepath.Base(path), err, data, logs)
		}
	}
	return all.String()
}

// Recording into a directory that cannot be written is logged, not fatal: emfa serves.
func TestRecordUnwritableDir(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, []byte("x"), 0o600)
	base, logs, stop := startServeArgs(t, "--config", writeConfig(t, ""), "--record", filepath.Join(blocker, "sub"))
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	if list := sim.enrollments("alice"); len(list) != 0 {
		t.Errorf("enrollments: %+v", list)
	}
	stop()
	if !strings.Contains(logs.String(), "transcript not written") {
		t.Errorf("the failed write is not logged:\n%s", logs)
	}
}

// acmeVendor is a vendor on loopback that answers every call with a JSON body holding
// numbers, and counts the calls.
func acmeVendor(t *testing.T) string {
	t.Helper()
	url, stop, err := transcript.ServeLocal(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"response": {"time": 1767225600, "ratio": 1.50, "big": 12345678901234567890,
			"devices": [{"id": "D1", "name": "Phone"}]}}`)
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return url
}

// A vendor's API key that a transform puts in the query and the body, a password in a
// vendor URL and a key in a sender's URL never reach a transcript, by whatever name they
// are sent; the recording still replays green, and a vendor's numbers stay numbers (the
// incoming transform compares one).
func TestRecordRedactsConfiguredSecretsEverywhere(t *testing.T) {
	const (
		literalKey = "LITERALVENDORAPIKEY"
		envKey     = "ENVVENDORKEYVALUE-0123"
		urlPass    = "URLPASSWORD"
		queryKey   = "URLQUERYSECRET"
	)
	vendor := acmeVendor(t)
	host := strings.TrimPrefix(vendor, "http://")
	cfg := writeTestConfig(t, "", fmt.Sprintf(`delivery:
  gw: {type: http, url: "https://gw.example.com/send?apikey=%s&from=emfa", body: '{"to": to, "text": message}'}
providers:
  - name: ACME
    credentialPrefix: acme
    capabilities: [push]
    engine: remote
    remote:
      urls: ["http://user:%s@%s"]
      authentication:
        type: header
        header:
          values:
            - {key: apikey, value: %q}
            - {key: envkey, value: "${VENDOR_KEY}", sensitive: true}
      resources:
        enrollments:
          suffix: /enroll
          transform:
            outgoing: >-
              {"skip_authentication": true,
               "query": {"api_key": authentication_header.apikey, "u": body.username},
               "body": {"apiKey": authentication_header.apikey, "access_key": authentication_header.envkey,
                        "credential": "Bearer " + authentication_header.apikey,
                        "auth": "k=" + authentication_header.envkey + ";", "user": body.username}}
            incoming: >-
              {"body": body.response.time > 0 && body.response.ratio > 1.0
                ? body.response.devices.map(d, {"id": d.id, "capability": "push",
                    "attributes": {"deviceName": d.name, "authExecutionFlow": "init_then_poll"}})
                : []}
`, queryKey, urlPass, host, literalKey))
	t.Setenv("VENDOR_KEY", envKey)
	recordDir := filepath.Join(t.TempDir(), "recorded")
	base, _, stop := startServeArgs(t, "--config", cfg, "--record", recordDir)
	sim := &verifySim{t: t, base: base + "/v1/providers/acme", user: "verify", pw: "sim-password-0123"}
	if list := sim.enrollments("alice"); len(list) != 1 {
		t.Fatalf("enrollments live: %+v", list)
	}
	stop()
	all := replayRecorded(t, recordDir, []string{literalKey, envKey, urlPass, queryKey, "sim-password-0123", testEncryptionKey})
	for _, want := range []string{"time: 1767225600", "big: 12345678901234567890", "ratio: 1.50", "u: alice", "https://gw.example.com/send?apikey=%3Credacted%3E&from=%3Credacted%3E"} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in the recording:\n%s", want, all)
		}
	}
}

// A GET result with its parameters in the query string (IBM's samples) is recorded with
// its query, in its user's session, and replays.
func TestRecordGETResultQuery(t *testing.T) {
	cfg := writeTestConfig(t, "", `delivery:
  dev: {type: log}
providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [smsotp]
    engine: builtin
    builtin:
      smsotp: {sender: dev}
`)
	mustEmfa(t, "users", "add", "dave", "--config", cfg)
	var f struct{ ID string }
	json.Unmarshal([]byte(mustEmfa(t, "factors", "add", "smsotp", "--user", "dave", "--phone", "+15551230123", "--config", cfg)), &f)
	recordDir := filepath.Join(t.TempDir(), "recorded")
	base, _, stop := startServeArgs(t, "--config", cfg, "--record", recordDir)
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	status, tx := sim.challenge("initiate", "smsotp", f.ID, "dave", "", "")
	if status != "PENDING" {
		t.Fatalf("initiate: %s", status)
	}
	q := url.Values{"transactionId": {tx}, "capability": {"smsotp"}, "id": {f.ID}, "username": {"dave"}}
	code, data := sim.call("GET", "result?"+q.Encode(), "")
	if sim.status(code, data) != "PENDING" {
		t.Fatalf("GET result: %d %s", code, data)
	}
	stop()
	all := replayRecorded(t, recordDir, nil)
	if files, _ := filepath.Glob(filepath.Join(recordDir, "*.yaml")); len(files) != 1 {
		t.Errorf("the GET result is not in dave's session: %d transcripts\n%s", len(files), all)
	}
	if !strings.Contains(all, "query:") || !strings.Contains(all, "transactionId: ${tx1}") {
		t.Errorf("the GET result's query is not recorded:\n%s", all)
	}
}

// A configuration using IBM's webhook JSON by a path relative to it, as the README shows,
// records transcripts that replay from wherever they are written: the webhook travels
// inline, its placeholders filled as the configuration fills them.
func TestRecordRelativeWebhookFileReplaysElsewhere(t *testing.T) {
	duo := newDUO(t)
	t.Setenv("DUO_SKEY", duoSKey)
	webhook, err := os.ReadFile(verifyfiles.Path(t, "ibm-duo-webhook.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeTestConfig(t, "", fmt.Sprintf(`providers:
  - name: DUO Security
    credentialPrefix: duo
    capabilities: [smsotp, push, hotp]
    engine: remote
    remote:
      webhookFile: ibm-duo-webhook.json
      values: {duo_url: %q, duo_integration_key: %s, duo_signing_key: "${DUO_SKEY}"}
      timeout: 5s
`, duo.URL(), duoIKey))
	if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "ibm-duo-webhook.json"), webhook, 0o600); err != nil {
		t.Fatal(err)
	}
	recordDir := filepath.Join(t.TempDir(), "recB")
	base, _, stop := startServeArgs(t, "--config", cfg, "--record", recordDir)
	sim := &verifySim{t: t, base: base + "/v1/providers/duo", user: "verify", pw: "sim-password-0123"}
	if list := sim.enrollments("alice"); len(list) == 0 {
		t.Fatal("enrollments: none")
	}
	stop()
	all := replayRecorded(t, recordDir, []string{duoSKey, "sim-password-0123", testEncryptionKey})
	if strings.Contains(all, "webhookFile") {
		t.Errorf("the recording still names the webhook file:\n%s", all)
	}
}

// recordSecrets finds a sender's key and a notifier's token by value, and leaves a
// sender's Content-Type alone.
func TestRecordSecretsOfTheConfiguration(t *testing.T) {
	cfg := &config.Config{
		Delivery: map[string]config.Delivery{"gw": {Type: "http", URL: "https://gw.example.com/send?api_key=GWQUERYKEY1&to=x",
			Headers: []config.NamedSecret{{Name: "Content-Type", Value: "application/json"}, {Name: "X-Gw", Value: "GWHEADERSECRET"}}}},
		Providers: []config.Provider{{Engine: config.EngineBuiltin, Builtin: map[string]any{
			"push": map[string]any{"notifier": map[string]any{"url": "https://u:NOTIFIERPW@n.example.com",
				"headers": []any{map[string]any{"name": "Authorization", "value": "Bearer NOTIFIERTOKEN"}, map[string]any{"name": "X-Plain", "value": "plain"}}}}}}},
	}
	got := recordSecrets(cfg)
	for _, want := range []string{"GWQUERYKEY1", "GWHEADERSECRET", "NOTIFIERPW", "Bearer NOTIFIERTOKEN"} {
		if !slices.Contains(got, want) {
			t.Errorf("recordSecrets has no %q: %q", want, got)
		}
	}
	for _, not := range []string{"application/json", "plain", "x"} {
		if slices.Contains(got, not) {
			t.Errorf("recordSecrets holds %q, no secret: %q", not, got)
		}
	}
}

// A reload while recording: the session under way is written with the configuration it
// was served under, and the calls after the reload make a transcript of their own, with
// the new configuration, whose secrets are redacted too.
func TestRecordAcrossAReload(t *testing.T) {
	const secretB = "the-second-verify-password"
	providers := func(name string) string {
		return fmt.Sprintf("providers:\n  - {name: %q, credentialPrefix: emfa, capabilities: [totp], engine: builtin}\n", name)
	}
	cfg := writeTestConfig(t, "", providers("Served first"))
	first, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	recordDir := filepath.Join(t.TempDir(), "recorded")
	base, _, reload, stop := (&cli{}).serveReloading(t, cfg, "--record", recordDir)
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	sim.enrollments("alice")
	second := strings.Replace(string(first), "Served first", "Served second", 1)
	second = strings.Replace(second, "sim-password-0123", secretB, 1)
	replaceFile(t, cfg, second)
	if err := reload(); err != nil {
		t.Fatal(err)
	}
	sim.pw = secretB
	sim.enrollments("alice")
	var files []string
	deadline := time.Now().Add(10 * time.Second)
	for len(files) < 1 && time.Now().Before(deadline) { // the first session, written at the reload
		files, _ = filepath.Glob(filepath.Join(recordDir, "*.yaml"))
		time.Sleep(20 * time.Millisecond)
	}
	if len(files) != 1 {
		t.Fatalf("transcripts written at the reload: %q", files)
	}
	data, _ := os.ReadFile(files[0])
	if !strings.Contains(string(data), "Served first") || strings.Contains(string(data), "Served second") {
		t.Errorf("the session before the reload, with another configuration:\n%s", data)
	}
	if n := strings.Count(string(data), "resource: enrollments"); n != 1 {
		t.Errorf("the session before the reload holds %d calls, want 1:\n%s", n, data)
	}
	stop() // the second session, written as serve stops
	files, _ = filepath.Glob(filepath.Join(recordDir, "*.yaml"))
	if len(files) != 2 {
		t.Fatalf("transcripts: %q, want the session before the reload and the one after", files)
	}
	var later []byte
	for _, f := range files {
		if data, _ := os.ReadFile(f); strings.Contains(string(data), "Served second") {
			later = data
		}
	}
	if later == nil || strings.Contains(string(later), "Served first") {
		t.Errorf("no transcript of the session after the reload with its configuration: %q", files)
	}
	if strings.Contains(string(later), secretB) {
		t.Errorf("the new configuration's password is in the transcript:\n%s", later)
	}
}
