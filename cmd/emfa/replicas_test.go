package main

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/internal/twiliofake"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// replica is one `emfa serve` process (the test binary run as emfa).
type replica struct {
	name string
	base string
	cmd  *exec.Cmd
	done chan error
	logs *lockedLog
}

var servingAddr = regexp.MustCompile(`"msg":"emfa serving","addr":"([^"]+)"`)

// startReplica starts `emfa serve --config cfg` as a process of its own and waits until it
// listens. It is killed when the test ends, if it still runs.
func startReplica(t *testing.T, name, cfg string) *replica {
	t.Helper()
	r := &replica{name: name, cmd: selfCommand(t, "serve", "--config", cfg), done: make(chan error, 1), logs: &lockedLog{}}
	stderr, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			r.logs.Write([]byte(line + "\n"))
			if m := servingAddr.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		r.done <- r.cmd.Wait()
	}()
	t.Cleanup(func() {
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			r.cmd.Process.Kill()
		}
	})
	select {
	case a := <-addr:
		r.base = "http://" + a
	case err := <-r.done:
		t.Fatalf("replica %s exited before listening: %v\n%s", name, err, r.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("replica %s did not start:\n%s", name, r.logs)
	}
	return r
}

// kill ends the replica with SIGKILL, as a crashed node or an OOM kill would.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	r.cmd.Process.Signal(syscall.SIGKILL)
	if err := <-r.done; err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("replica %s was not killed: %v", r.name, err)
	}
	r.done <- errors.New("killed") // for the cleanup
}

// haVerify plays IBM Verify's webhook engine as "Webhooks: high availability" describes it
// (verify-contract.md §12): several URLs used round robin; every request carries an
// X-Webhook-ID; after a connection error or a 5xx the same request, with the same ID, goes
// again to another URL. It knows only the contract.
type haVerify struct {
	t        *testing.T
	urls     []string // replica bases
	next     atomic.Int64
	user, pw string
	provider string // the credential prefix in the URL; "" is emfa
	client   *http.Client
	retried  atomic.Int64 // attempts re-sent after a failure
}

func newHAVerify(t *testing.T, rs ...*replica) *haVerify {
	h := &haVerify{t: t, user: "verify", pw: "sim-password-0123",
		client: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	for _, r := range rs {
		h.urls = append(h.urls, r.base)
	}
	t.Cleanup(h.client.CloseIdleConnections)
	return h
}

func newWebhookID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// attempt sends one request to one URL.
func (h *haVerify) attempt(base, method, resource, id, body string) (int, []byte, error) {
	u := base + "/v1/providers/" + cmp.Or(h.provider, "emfa") + "/" + resource
	var rd io.Reader = strings.NewReader(body)
	if method == http.MethodGet {
		u += "?" + body
		rd = nil
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Webhook-ID", id)
	req.SetBasicAuth(h.user, h.pw)
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); err == nil && !strings.HasPrefix(ct, "application/json") {
		h.t.Errorf("%s %s: content type %q: the contract answers JSON only", method, resource, ct)
	}
	return resp.StatusCode, data, err
}

// at sends one request to replica i with the given ID, as a retry after a lost answer
// would reach it; no retry of its own.
func (h *haVerify) at(i int, method, resource, id, body string) (int, []byte) {
	h.t.Helper()
	code, data, err := h.attempt(h.urls[i], method, resource, id, body)
	if err != nil {
		h.t.Fatalf("%s %s on replica %d: %v", method, resource, i, err)
	}
	return code, data
}

// send is one webhook call: round robin, retried with the same ID on another URL after a
// connection error or a 5xx, up to two rounds of the URLs.
func (h *haVerify) send(method, resource, body string) (int, []byte) {
	h.t.Helper()
	id := newWebhookID()
	start := int(h.next.Add(1))
	var lastErr error
	var code int
	var data []byte
	for n := range 2 * len(h.urls) {
		base := h.urls[(start+n)%len(h.urls)]
		if n > 0 {
			h.retried.Add(1)
		}
		code, data, lastErr = h.attempt(base, method, resource, id, body)
		if lastErr == nil && code < 500 {
			return code, data
		}
	}
	h.t.Errorf("%s %s: no URL answered: %d %s %v", method, resource, code, data, lastErr)
	return code, data
}

// outcome decodes a contract outcome, failing on anything else.
func (h *haVerify) outcome(code int, data []byte) answer {
	h.t.Helper()
	var a answer
	if code != 200 || json.Unmarshal(data, &a) != nil || a.Status == "" {
		h.t.Fatalf("not a contract outcome: %d %s", code, data)
	}
	return a
}

func challengeJSON(capability, id, user, txid, passvalue string) string {
	attrs := map[string]any{"username": user}
	if passvalue != "" {
		attrs["passvalue"] = passvalue
	}
	b := map[string]any{"capability": capability, "id": id, "attributes": attrs}
	if txid != "" {
		b["transactionId"] = txid
	}
	data, _ := json.Marshal(b)
	return string(data)
}

// tcpProxy forwards loopback connections to target; down() drops every connection and
// refuses new ones, up() accepts again. It stands in for a database that goes away.
type tcpProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  map[net.Conn]bool
	isDown bool
}

func startProxy(t *testing.T, target string) *tcpProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.down() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.isDown {
				p.mu.Unlock()
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *tcpProxy) addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.isDown = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *tcpProxy) up() { p.mu.Lock(); p.isDown = false; p.mu.Unlock() }

// replicasConfig serves TOTP, SMS codes (through the Twilio fake, with send limits) and
// push (with a notifier) from one PostgreSQL database.
func replicasConfig(t *testing.T, dsn, smsURL, notifierURL string) string {
	return writeTestConfig(t, fmt.Sprintf("driver: postgres\n  dsn: %q", dsn), fmt.Sprintf(`delivery:
  sms: {type: twilio, accountSid: %q, authToken: %q, from: %q, baseURL: %q, timeout: 5s}
providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp, smsotp, push]
    engine: builtin
    builtin:
      totp: {window: 1}
      smsotp: {sender: sms, lifetime: 2m}
      push: {lifetime: 2m, numberMatching: true, serverURL: "https://emfa.example.com", notifier: {url: %q, timeout: 2s}}
      sendLimits:
        perUser: [{window: 1h, max: 5}]
        perDestination: [{window: 1h, max: 5}]
      lockout: {maxFailures: 100, duration: 1m}
`, twilioSID, twilioToken, twilioFrom, smsURL, notifierURL))
}

// TestReplicas runs three `emfa serve` processes on one PostgreSQL database behind a
// Verify that round-robins and retries (verify-contract.md §12): every decision is taken
// from the shared store, never from one process's memory.
func TestReplicas(t *testing.T) {
	sv := testdb.Connect(t)
	schemaDSN := sv.Migrated(t)
	sms := twiliofake.New(t, twiliofake.Options{AccountSID: twilioSID, AuthToken: twilioToken})
	sink := &notifierSink{}
	gateway := httptest.NewServer(sink)
	t.Cleanup(gateway.Close)
	cfg := replicasConfig(t, schemaDSN, sms.URL(), gateway.URL)

	// Provision through the CLI, on the same database.
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	mustEmfa(t, "users", "add", "bob", "--config", cfg)
	seed := []byte("12345678901234567890")
	var totp, phone, bobPhone, push struct{ ID, ActivationCode string }
	json.Unmarshal([]byte(mustEmfa(t, "factors", "add", "totp", "--user", "alice", "--secret", builtin.EncodeSecret(seed), "--config", cfg)), &totp)
	json.Unmarshal([]byte(mustEmfa(t, "factors", "add", "smsotp", "--user", "alice", "--phone", alicePhone, "--config", cfg)), &phone)
	json.Unmarshal([]byte(mustEmfa(t, "factors", "add", "smsotp", "--user", "bob", "--phone", "+15551230124", "--config", cfg)), &bobPhone)
	json.Unmarshal([]byte(mustEmfa(t, "factors", "add", "push", "--user", "alice", "--config", cfg)), &push)
	if totp.ID == "" || phone.ID == "" || bobPhone.ID == "" || push.ActivationCode == "" {
		t.Fatal("provisioning failed")
	}

	a, b, c := startReplica(t, "A", cfg), startReplica(t, "B", cfg), startReplica(t, "C", cfg)
	v := newHAVerify(t, a, b, c)

	st, err := postgres.Open(t.Context(), schemaDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	audit := func(user, resource, outcome string) []store.AuditEvent {
		t.Helper()
		all, err := st.ListAudit(t.Context(), store.AuditFilter{Username: user, Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		var out []store.AuditEvent
		for _, e := range all {
			if e.Resource == resource && e.Outcome == outcome {
				out = append(out, e)
			}
		}
		return out
	}

	t.Run("one TOTP code, 100 parallel validations over three replicas", func(t *testing.T) {
		v.t = t
		code := totpAt(seed, time.Now())
		body := challengeJSON("totp", totp.ID, "alice", "", code)
		var successes, failed atomic.Int64
		var firstSuccessID atomic.Value
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				id := newWebhookID()
				c, data, err := v.attempt(v.urls[i%3], "POST", "validate", id, body)
				if err != nil || c != 200 {
					t.Errorf("validate %d: %d %s %v", i, c, data, err)
					return
				}
				switch v.outcome(c, data).Status {
				case "SUCCESS":
					successes.Add(1)
					firstSuccessID.Store(id)
				case "FAILED":
					failed.Add(1)
				}
			})
		}
		wg.Wait()
		if successes.Load() != 1 || failed.Load() != 99 {
			t.Fatalf("%d SUCCESS and %d FAILED for one code, want exactly 1 and 99", successes.Load(), failed.Load())
		}
		// The answer to the one success was lost on the way back: Verify retries it,
		// with its ID, on each replica, and each answers SUCCESS, not "code already used".
		id := firstSuccessID.Load().(string)
		for i := range 3 {
			if got := v.outcome(v.at(i, "POST", "validate", id, body)).Status; got != "SUCCESS" {
				t.Errorf("retry of the successful validation on replica %d: %s", i, got)
			}
		}
		if n := len(audit("alice", "validate", "SUCCESS")); n != 1 {
			t.Errorf("%d successes in the audit trail, want 1", n)
		}
	})

	t.Run("SMS: initiate on A, validate on B, its retry on C", func(t *testing.T) {
		v.t = t
		before := len(sms.To(alicePhone))
		initiate := challengeJSON("smsotp", phone.ID, "alice", "", "")
		initID := newWebhookID()
		first := v.outcome(v.at(0, "POST", "initiate", initID, initiate))
		if first.Status != "PENDING" || first.TransactionID == "" {
			t.Fatalf("initiate: %+v", first)
		}
		// Its answer was lost: the retry on B opens no second transaction, sends no
		// second code.
		again := v.outcome(v.at(1, "POST", "initiate", initID, initiate))
		if again.TransactionID != first.TransactionID {
			t.Errorf("retried initiate opened transaction %s, first %s", again.TransactionID, first.TransactionID)
		}
		msgs := sms.To(alicePhone)
		if len(msgs) != before+1 {
			t.Fatalf("%d codes sent for one initiate and its retry, want 1", len(msgs)-before)
		}
		code := regexp.MustCompile(`\d{6}`).FindString(msgs[len(msgs)-1].Body)
		validate := challengeJSON("smsotp", phone.ID, "alice", first.TransactionID, code)
		valID := newWebhookID()
		for i, r := range []int{1, 2, 0} {
			if got := v.outcome(v.at(r, "POST", "validate", valID, validate)).Status; got != "SUCCESS" {
				t.Errorf("validate attempt %d on replica %d: %s, want SUCCESS", i, r, got)
			}
		}
		succ := audit("alice", "validate", "SUCCESS")
		var mine []store.AuditEvent
		for _, e := range succ {
			if e.FactorID == phone.ID {
				mine = append(mine, e)
			}
		}
		if len(mine) != 1 || mine[0].WebhookID != valID {
			t.Errorf("audit: %+v, want one SUCCESS with webhook id %s", mine, valID)
		}
		for _, r := range []*replica{b, c} {
			if !strings.Contains(r.logs.String(), `"msg":"retry answered from its first attempt's record"`) {
				t.Errorf("replica %s did not log the retry it answered", r.name)
			}
		}
	})

	t.Run("push: initiate on A, approve through B, result on C", func(t *testing.T) {
		v.t = t
		state := filepath.Join(t.TempDir(), "phone.json")
		mustEmfa(t, "device", "register", "--server", b.base, "--code", push.ActivationCode, "--state", state)
		init := v.outcome(v.at(0, "POST", "initiate", newWebhookID(), challengeJSON("push", push.ID, "alice", "", "")))
		if init.Status != "PENDING" {
			t.Fatalf("push initiate: %+v", init)
		}
		number, _ := init.Attributes["number"].(float64)
		query := url.Values{"transactionId": {init.TransactionID}, "capability": {"push"}, "id": {push.ID}, "username": {"alice"}}.Encode()
		if got := v.outcome(v.at(2, "GET", "result", newWebhookID(), query)).Status; got != "PENDING" {
			t.Errorf("result before the approval: %s", got)
		}
		var out struct{ Status string }
		json.Unmarshal([]byte(mustEmfa(t, "device", "approve", init.TransactionID, "--number", fmt.Sprint(int(number)), "--state", state)), &out)
		if out.Status != "SUCCESS" {
			t.Fatalf("approve through B: %+v", out)
		}
		if got := v.outcome(v.at(2, "GET", "result", newWebhookID(), query)).Status; got != "SUCCESS" {
			t.Errorf("result on C after the approval through B: %s", got)
		}
	})

	t.Run("send limits hold across replicas", func(t *testing.T) {
		v.t = t
		var pending atomic.Int64
		var wg sync.WaitGroup
		for range 15 {
			wg.Go(func() {
				if v.outcome(v.send("POST", "initiate", challengeJSON("smsotp", bobPhone.ID, "bob", "", ""))).Status == "PENDING" {
					pending.Add(1)
				}
			})
		}
		wg.Wait()
		if pending.Load() != 5 || len(sms.To("+15551230124")) != 5 {
			t.Errorf("%d initiates PENDING and %d codes sent over three replicas, want 5 and 5 (5 per hour)",
				pending.Load(), len(sms.To("+15551230124")))
		}
	})

	t.Run("a replica killed mid-stream loses nothing the others need", func(t *testing.T) {
		v.t = t
		// A transaction opened on A...
		open := v.outcome(v.at(0, "POST", "initiate", newWebhookID(), challengeJSON("smsotp", phone.ID, "alice", "", "")))
		if open.Status != "PENDING" {
			t.Fatalf("initiate on A: %+v", open)
		}
		msgs := sms.To(alicePhone)
		code := regexp.MustCompile(`\d{6}`).FindString(msgs[len(msgs)-1].Body)
		// ...A killed while Verify keeps sending: every call is answered, by a retry
		// on another URL where A is gone.
		var wg sync.WaitGroup
		stop := make(chan struct{})
		var answered atomic.Int64
		wrong := wrongTOTP(t, builtin.EncodeSecret(seed), time.Now()) // "000000" is the live code once in a million steps
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				st := v.outcome(v.send("POST", "validate", challengeJSON("totp", totp.ID, "alice", "", wrong))).Status
				if st != "FAILED" {
					t.Errorf("a wrong TOTP code answered %s", st)
				}
				answered.Add(1)
			}
		})
		// A wait that fails stops the stream first: its calls report to t.
		halt := sync.OnceFunc(func() { close(stop); wg.Wait() })
		defer halt()
		testwait.Until(t, "10 calls answered before the kill", 5*time.Millisecond, func() bool { return answered.Load() >= 10 })
		a.kill(t)
		n := answered.Load()
		testwait.Until(t, "20 more calls answered after the kill", 5*time.Millisecond, func() bool { return answered.Load() >= n+20 })
		halt()
		if v.retried.Load() == 0 {
			t.Error("no call needed a retry: the kill happened outside the stream")
		}
		// ...and validated on C after A died.
		if got := v.outcome(v.at(2, "POST", "validate", newWebhookID(), challengeJSON("smsotp", phone.ID, "alice", open.TransactionID, code))).Status; got != "SUCCESS" {
			t.Errorf("validating on C a transaction opened on A before A died: %s", got)
		}
	})

	t.Run("one validation, its attempts all at once on two replicas: one decision", func(t *testing.T) {
		v.t = t
		// A TOTP validate claims its X-Webhook-ID in the unit that decides it: attempts
		// in flight together all run up to that unit, and the store orders them.
		body := challengeJSON("totp", totp.ID, "alice", "", totpAt(seed, time.Now().Add(30*time.Second)))
		id := newWebhookID()
		answers := make(chan string, 24)
		var wg sync.WaitGroup
		for i := range 24 {
			wg.Go(func() {
				c, data, err := v.attempt(v.urls[1+i%2], "POST", "validate", id, body)
				if err != nil || c != 200 {
					t.Errorf("attempt %d: %d %s %v", i, c, data, err)
				}
				answers <- string(data)
			})
		}
		wg.Wait()
		close(answers)
		first := <-answers
		if v.outcome(200, []byte(first)).Status != "SUCCESS" {
			t.Errorf("the validation answered %s", first)
		}
		for a := range answers {
			if a != first {
				t.Errorf("attempts answered %s and %s", first, a)
			}
		}
		var decided int
		for _, outcome := range []string{"SUCCESS", "FAILED"} {
			for _, e := range audit("alice", "validate", outcome) {
				if e.WebhookID == id {
					decided++
				}
			}
		}
		if decided != 1 {
			t.Errorf("%d decisions in the audit trail for one request's 24 attempts, want 1", decided)
		}
		// The record that answered them is keyed under the replicas' shared key: the body
		// holds the code, and a copy of the store must not confirm a guess of it with an
		// unkeyed hash.
		conf, err := config.Load(cfg, config.Options{})
		if err != nil {
			t.Fatal(err)
		}
		keys, err := newKeyring(conf)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []provider.FingerprintKey{keys.FingerprintKey(), nil} {
			key := store.IdempotencyKey{Provider: "emfa", WebhookID: id, Fingerprint: k.Fingerprint(provider.ResourceValidate, []byte(body))}
			if _, err := st.GetIdempotency(t.Context(), key); (err == nil) != (k != nil) {
				t.Errorf("the record under the key of %d bytes: %v", len(k), err)
			}
		}
	})
}

// TestReplicaDatabaseDown: with its database unreachable a replica answers 503 (so Verify
// retries elsewhere), never a business FAILED, and answers normally once it is back.
func TestReplicaDatabaseDown(t *testing.T) {
	sv := testdb.Connect(t)
	schemaDSN := sv.Migrated(t)
	u, err := url.Parse(schemaDSN)
	if err != nil {
		t.Fatal(err)
	}
	proxy := startProxy(t, u.Host)
	u.Host = proxy.addr()
	cfg := writeTestConfig(t, fmt.Sprintf("driver: postgres\n  dsn: %q", u.String()), `providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp]
    engine: builtin
`)
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	seed := []byte("12345678901234567890")
	var f struct{ ID string }
	json.Unmarshal([]byte(mustEmfa(t, "factors", "add", "totp", "--user", "alice", "--secret", builtin.EncodeSecret(seed), "--config", cfg)), &f)
	r := startReplica(t, "A", cfg)
	v := newHAVerify(t, r)

	if got := v.outcome(v.at(0, "POST", "validate", newWebhookID(), challengeJSON("totp", f.ID, "alice", "", wrongTOTP(t, builtin.EncodeSecret(seed), time.Now())))).Status; got != "FAILED" {
		t.Fatalf("wrong code with the database up: %s", got)
	}
	proxy.down()
	for _, tc := range []struct{ resource, body string }{
		{"validate", challengeJSON("totp", f.ID, "alice", "", totpAt(seed, time.Now()))},
		{"enrollments", `{"username":"alice"}`},
	} {
		code, data := v.at(0, "POST", tc.resource, newWebhookID(), tc.body)
		if code != http.StatusServiceUnavailable || !strings.Contains(string(data), `"messageId":"unavailable"`) {
			t.Errorf("%s with the database down: %d %s, want 503 unavailable", tc.resource, code, data)
		}
	}
	if resp, err := http.Get(r.base + "/readyz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz with the database down: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	proxy.up()
	// The pool reconnects on its own; the same validation, retried, now succeeds.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		code, data := v.at(0, "POST", "validate", newWebhookID(), challengeJSON("totp", f.ID, "alice", "", totpAt(seed, time.Now())))
		if code == 200 {
			if got := v.outcome(code, data).Status; got != "SUCCESS" {
				t.Errorf("validate once the database is back: %s", got)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("still %d %s 30 s after the database came back", code, data)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// totpAt is the RFC 6238 code (SHA-1, 6 digits, 30 s) of seed at t.
func totpAt(seed []byte, t time.Time) string {
	return builtin.HOTP(builtin.SHA1, seed, uint64(t.Unix()/30), 6)
}

// On SQLite one process serves a database file: a second `emfa serve` on it refuses to
// start and says why, while the first goes on serving.
func TestSecondServeOnSQLiteRefuses(t *testing.T) {
	cfg := writeConfig(t, "")
	first := startReplica(t, "first", cfg)
	cmd := selfCommand(t, "serve", "--config", cfg)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("a second serve on the same SQLite file started:\n%s", out)
	}
	if !strings.Contains(string(out), "another emfa process serves this SQLite database") ||
		!strings.Contains(string(out), "PostgreSQL") {
		t.Errorf("the refusal does not say why or what to do:\n%s", out)
	}
	resp, err := http.Get(first.base + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the first server after the refusal: %v %v", resp, err)
	}
	resp.Body.Close()
	// Once the first is gone (even killed), the file can be served again.
	first.kill(t)
	startReplica(t, "successor", cfg)
}

// Against one emfa on SQLite, as against three replicas: a lost answer's retry gets it
// again, a fresh call does not.
func TestOneServerRetries(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	seed := []byte("12345678901234567890")
	var f struct{ ID string }
	json.Unmarshal([]byte(mustEmfa(t, "factors", "add", "totp", "--user", "alice", "--secret", builtin.EncodeSecret(seed), "--config", cfg)), &f)
	v := newHAVerify(t, startReplica(t, "one", cfg))
	body := challengeJSON("totp", f.ID, "alice", "", totpAt(seed, time.Now()))
	id := newWebhookID()
	code, first := v.at(0, "POST", "validate", id, body)
	if v.outcome(code, first).Status != "SUCCESS" {
		t.Fatalf("first attempt: %s", first)
	}
	if code, again := v.at(0, "POST", "validate", id, body); code != 200 || string(again) != string(first) {
		t.Errorf("retry: %d %s, want %s", code, again, first)
	}
	if got := v.outcome(v.at(0, "POST", "validate", newWebhookID(), body)).Status; got != "FAILED" {
		t.Errorf("the same code in a new request: %s, want FAILED (a code is accepted once)", got)
	}
	if code, data := v.at(0, "POST", "validate", strings.Repeat("w", 257), body); code != 400 {
		t.Errorf("oversized X-Webhook-ID: %d %s", code, data)
	}
}
