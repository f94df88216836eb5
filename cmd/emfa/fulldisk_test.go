package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/emfa/emfa/provider/builtin"
)

// A disk that refuses writes (full, or a quota reached) while emfa serves on SQLite: every
// decision is answered 503, as the contract's retry needs, and none is lost. Once the disk
// takes writes again, Verify's retry of the same call (same X-Webhook-ID) decides it, the
// code it spent is refused a second time, and after a SIGKILL the restarted server still
// holds that decision and answers the retry as before.
//
// The disk is made to refuse by the process's file-size limit (fillDisk).
func TestOneServerFullDisk(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	token := strings.TrimSpace(mustEmfa(t, "tokens", "create", "--name", "idm", "--scope", "write", "--config", cfg))
	seeds := [][]byte{[]byte("12345678901234567890"), []byte("abcdefghijabcdefghij")}
	var factors [2]struct{ ID string }
	for i, seed := range seeds {
		out := mustEmfa(t, "factors", "add", "totp", "--user", "alice", "--name", []string{"first", "second"}[i],
			"--secret", builtin.EncodeSecret(seed), "--config", cfg)
		if err := json.Unmarshal([]byte(out), &factors[i]); err != nil || factors[i].ID == "" {
			t.Fatalf("factors add: %v %s", err, out)
		}
	}
	r := startReplica(t, "one", cfg)
	v := newHAVerify(t, r)
	api := adminClient{t: t, base: r.base + "/admin/v1", token: token}

	// A decision before the disk fills: the store has written since it opened.
	now := time.Now()
	if got := v.outcome(v.at(0, "POST", "validate", newWebhookID(), challengeJSON("totp", factors[0].ID, "alice", "", totpAt(seeds[0], now)))).Status; got != "SUCCESS" {
		t.Fatalf("validate before the disk fills: %s", got)
	}

	full := fillDisk(t, r)

	id := newWebhookID()
	body := challengeJSON("totp", factors[1].ID, "alice", "", totpAt(seeds[1], now))
	for i := range 3 { // not once by chance: each try meets the full disk again
		code, data := v.at(0, "POST", "validate", id, body)
		var e struct{ MessageID string }
		if code != 503 || json.Unmarshal(data, &e) != nil || e.MessageID != "unavailable" {
			t.Fatalf("try %d on a full disk: %d %s, want 503 unavailable", i, code, data)
		}
	}
	// Each is a store fault an operator is paged for (EmfaStoreErrors).
	if resp, err := http.Get(r.base + "/metrics"); err != nil {
		t.Error(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `emfa_store_errors_total{operation="contract"} 3`) {
			t.Errorf("the store faults are not counted:\n%s", grepLines(string(b), "store_errors"))
		}
	}
	// The database still answers a ping, but the replica can decide nothing: it is not
	// ready (a load balancer sends its traffic elsewhere), and says why; it is alive.
	readyz := func() (int, string) {
		resp, err := http.Get(r.base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := readyz(); code != 503 || !strings.Contains(body, "store refuses writes") {
		t.Errorf("/readyz on a full disk: %d %s, want 503 saying the store refuses writes", code, body)
	}
	if resp, err := http.Get(r.base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Errorf("/healthz on a full disk: %v %v, want 200", resp, err)
	} else {
		resp.Body.Close()
	}
	// The admin API's writes are refused alike, and leave nothing behind.
	if code, out := api.do("POST", "/users", "", []byte(`{"name":"bob"}`)); code != 503 {
		t.Errorf("create a user on a full disk: %d %v, want 503", code, out)
	} else if c, _ := errorOf(out); c != "unavailable" {
		t.Errorf("create a user on a full disk: error %q, want unavailable", c)
	}
	// The server goes on serving what needs no write.
	if code, data := v.at(0, "POST", "enrollments", newWebhookID(), `{"username":"alice"}`); code != 200 {
		t.Errorf("enrollments (a read) on a full disk: %d %s", code, data)
	}

	full.lift()
	if code, out := api.do("POST", "/users", "", []byte(`{"name":"bob"}`)); code != 201 {
		t.Errorf("create the user once the disk takes writes: %d %v", code, out)
	}
	code, first := v.at(0, "POST", "validate", id, body)
	if got := v.outcome(code, first).Status; got != "SUCCESS" {
		t.Fatalf("Verify's retry once the disk takes writes again: %s, want SUCCESS (the full disk must not have spent the code)", first)
	}
	// A decision written: ready again at once. (Without traffic, /readyz's own probe finds
	// it within 5 s: store/sqlstore's TestPingSeesWritesFailing.)
	if code, body := readyz(); code != 200 {
		t.Errorf("/readyz once a decision was written again: %d %s, want 200", code, body)
	}
	if got := v.outcome(v.at(0, "POST", "validate", newWebhookID(), body)).Status; got != "FAILED" {
		t.Errorf("the same code in a new call: %s, want FAILED (the decision was recorded)", got)
	}

	// What was answered is on disk: after a SIGKILL the retry gets the same answer, and the
	// audit trail holds the decision once.
	r.kill(t)
	// Its log, read to the end once it is gone, says what failed and what to look at.
	if logs := r.logs.String(); !strings.Contains(logs, "disk I/O error") || !strings.Contains(logs, "a full disk") || strings.Contains(logs, "panic") {
		t.Errorf("the log does not say what failed, or shows a panic:\n%s", logs)
	}
	r = startReplica(t, "restarted", cfg)
	v = newHAVerify(t, r)
	if code, again := v.at(0, "POST", "validate", id, body); code != 200 || string(again) != string(first) {
		t.Errorf("the retry after a restart: %d %s, want %s", code, again, first)
	}
	trail := mustEmfa(t, "audit", "--json", "--user", "alice", "--config", cfg)
	successes := 0
	for _, line := range strings.Split(strings.TrimSpace(trail), "\n") {
		var ev struct{ FactorID, Action, Outcome string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if ev.FactorID == factors[1].ID && ev.Action == "validate" && ev.Outcome == "SUCCESS" {
			successes++
		}
	}
	if successes != 1 {
		t.Errorf("the second factor's successes in the audit trail: %d, want 1\n%s", successes, trail)
	}
}

// A mediated initiate on a full disk: the call to the vendor waits for its record, so the
// full disk answers 503 before any push is sent; Verify's retry once the disk takes
// writes sends one push, and a further retry is answered from the record, with no second.
func TestMediatedInitiateFullDisk(t *testing.T) {
	duo := newDUO(t)
	cfg := writeTestConfig(t, "", "providers:\n"+duoProvider(t, duo.URL(), ""))
	r := startReplica(t, "duo", cfg)
	v := newHAVerify(t, r)
	v.provider = "duo"
	full := fillDisk(t, r)

	id, body := newWebhookID(), challengeJSON("push", aliceID, "alice", "", "")
	if code, data := v.at(0, "POST", "initiate", id, body); code != 503 {
		t.Fatalf("initiate on a full disk: %d %s, want 503", code, data)
	}
	if n := duo.Count("/auth/v2/auth"); n != 0 {
		t.Fatalf("%d pushes sent for a call that could not be recorded", n)
	}
	full.lift()
	code, first := v.at(0, "POST", "initiate", id, body)
	if a := v.outcome(code, first); a.Status != "PENDING" {
		t.Fatalf("Verify's retry once the disk takes writes: %s, want PENDING", first)
	}
	if code, again := v.at(0, "POST", "initiate", id, body); code != 200 || string(again) != string(first) {
		t.Errorf("a further retry: %d %s, want %s", code, again, first)
	}
	if n := duo.Count("/auth/v2/auth"); n != 1 {
		t.Errorf("pushes sent: %d, want 1", n)
	}
}

// fullDisk is a serving process whose file writes fail, as on a full disk, until lift.
type fullDisk struct {
	t      *testing.T
	pid    int
	before unix.Rlimit
	lifted bool
}

// fillDisk sets r's RLIMIT_FSIZE to 0 (prlimit(2) from outside; no privilege needed):
// every write to a file fails, while its log (a pipe) and its sockets go on working. The
// limit is lifted when the test ends, if not before.
func fillDisk(t *testing.T, r *replica) *fullDisk {
	t.Helper()
	f := &fullDisk{t: t, pid: r.cmd.Process.Pid}
	if err := unix.Prlimit(f.pid, unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: 0, Max: unix.RLIM_INFINITY}, &f.before); err != nil {
		t.Fatalf("prlimit: %v", err)
	}
	t.Cleanup(f.lift)
	return f
}

func (f *fullDisk) lift() {
	if f.lifted {
		return
	}
	f.lifted = true
	if err := unix.Prlimit(f.pid, unix.RLIMIT_FSIZE, &f.before, nil); err != nil {
		f.t.Errorf("prlimit: %v", err)
	}
}
