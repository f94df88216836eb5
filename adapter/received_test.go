package adapter

import (
	"bytes"
	"log/slog"
	gosync "sync"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// receivedObserver records what SyncReceived counts, by source/outcome.
type receivedObserver struct {
	countingObserver
	mu gosync.Mutex
	n  map[string]int
}

func (o *receivedObserver) SyncReceived(source, outcome string, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n[source+"/"+outcome] += n
}

// newReceivedHarness is a sync harness (Okta, Verify and Auth0 on) whose Observer
// records what SyncReceived counts.
func newReceivedHarness(t *testing.T) (*syncHarness, *receivedObserver) {
	st := testdb.SQLite(t)
	m, err := lifecycle.New(lifecycle.Options{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	sq := st.(store.SyncQueue)
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	q := (&sync.Queue{Store: sq, Applier: &sync.Applier{M: m, Groups: sq}, Log: log}).Init()
	obs := &receivedObserver{n: map[string]int{}}
	srv := New(Options{Log: log, Observer: obs, Sync: &Sync{Queue: q, Manager: m,
		Okta:   SecretHeader{Name: "X-Okta-Secret", Value: testSecret},
		Verify: SecretHeader{Name: "X-Verify-Secret", Value: testSecret},
		Auth0:  SecretHeader{Name: "Authorization", Value: testSecret}}})
	return &syncHarness{t: t, h: srv.Handler(), srv: srv, logs: logs, m: m, q: q, st: st}, obs
}

// TestSyncReceivedCounted: an event a source sent that emfa could not read is
// lost (Okta sends no batch answered 4xx again, Auth0 gives up after its retries), and
// it was told to an operator only by a log line: no metric counted what the sources
// delivered, so no alert could fire on events refused at the door. Each event received
// is counted by source and outcome (emfa_sync_events_received_total: queued, duplicate,
// ignored, refused), a body refused whole too: its events when they are known, else one.
func TestSyncReceivedCounted(t *testing.T) {
	h, obs := newReceivedHarness(t)
	ok := okEv("o1", "user.lifecycle.create", "alice@example.com", 1)
	for _, tc := range []struct {
		path, body, hdr string
		code            int
	}{
		{OktaPath, oktaBatch(ok, `{"uuid":"o2"}`, okEv("o3", "user.session.start", "a@example.com", 1)), "X-Okta-Secret", 204},
		{OktaPath, oktaBatch(ok), "X-Okta-Secret", 204},                               // a duplicate
		{OktaPath, oktaBatch(`{"uuid":"o4"}`, `{"uuid":"o5"}`), "X-Okta-Secret", 400}, // every event refused
		{OktaPath, `{"data":`, "X-Okta-Secret", 400},                                  // no events to tell
		{Auth0Path, `{"log_id":"a1","data":null}`, "Authorization", 400},
	} {
		if code, out, _ := h.do("POST", tc.path, tc.body, tc.hdr, testSecret); code != tc.code {
			t.Fatalf("%.60s: %d %v, want %d", tc.body, code, out, tc.code)
		}
	}
	want := map[string]int{"okta/queued": 1, "okta/duplicate": 1, "okta/ignored": 1, "okta/refused": 4, "auth0/refused": 1}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	for k, v := range want {
		if obs.n[k] != v {
			t.Errorf("%s: %d, want %d (all: %v)", k, obs.n[k], v, obs.n)
		}
	}
	if len(obs.n) != len(want) {
		t.Errorf("counted %v, want %v", obs.n, want)
	}
}
