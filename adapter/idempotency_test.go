package adapter

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
)

// countingEngine counts executions and can hold them until released.
type countingEngine struct {
	fakeEngine
	calls atomic.Int64
	gate  chan struct{} // when set, each call waits for it to close
	fail  atomic.Bool   // answer with a server fault
	// deferred: the last call's writes were deferred to the answer's record (store.DeferSync)
	deferred atomic.Bool
	during   func() // when set, run in each call
}

func (e *countingEngine) Validate(ctx context.Context, r provider.Request) (provider.Outcome, error) {
	n := e.calls.Add(1)
	e.deferred.Store(store.SyncDeferred(ctx))
	if e.during != nil {
		e.during()
	}
	e.mu.Lock()
	e.last = r
	e.mu.Unlock()
	if e.gate != nil {
		<-e.gate
	}
	if e.fail.Load() {
		return provider.Outcome{}, errors.New("store down")
	}
	return provider.Outcome{Status: provider.StatusSuccess, Attributes: map[string]any{"execution": n}}, nil
}

func (e *countingEngine) Initiate(ctx context.Context, r provider.Request) (provider.Outcome, error) {
	return e.Validate(ctx, r)
}

func (e *countingEngine) Result(ctx context.Context, r provider.Request) (provider.Outcome, error) {
	return e.Validate(ctx, r)
}

func idemHarness(t *testing.T) (*harness, *countingEngine, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	eng := &countingEngine{}
	h := newHarness(t, func(o *Options) {
		o.Providers[0].Engine = eng
		o.Idempotency = &provider.Idempotency{Store: st, TTL: time.Minute, Lease: 5 * time.Second, Poll: time.Millisecond}
	})
	return h, eng, st
}

const validateBody = `{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":"123456"}}`

func TestRetryGetsTheFirstAnswer(t *testing.T) {
	h, eng, st := idemHarness(t)
	path := "/v1/providers/acme/validate"
	basic := func(extra ...string) []string {
		return append([]string{"Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA=="}, extra...)
	}
	code, first, hdr := h.do(t, "POST", path, validateBody, basic("X-Webhook-ID", "wh-1")...)
	if code != 200 || !strings.Contains(first, `"execution":1`) || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("first attempt: %d %s %v", code, first, hdr)
	}
	if eng.last.WebhookID != "wh-1" {
		t.Errorf("the engine's request carries webhook id %q, want wh-1", eng.last.WebhookID)
	}
	// The same request, its keys reordered and spaced otherwise: the recorded answer.
	reordered := `{ "attributes": {"passvalue":"123456", "username":"alice"}, "id":"f1", "capability":"totp" }`
	for i := range 3 {
		code, again, hdr := h.do(t, "POST", path, reordered, basic("X-Webhook-ID", "wh-1")...)
		if code != 200 || again != first || hdr.Get("Content-Type") != "application/json" {
			t.Fatalf("retry %d: %d %s, want 200 %s", i, code, again, first)
		}
	}
	if n := eng.calls.Load(); n != 1 {
		t.Fatalf("the engine ran %d times for one request and three retries", n)
	}
	if h.srv.Retries() != 3 {
		t.Errorf("Retries() = %d, want 3", h.srv.Retries())
	}
	logs := h.logs.String()
	if !strings.Contains(logs, `"msg":"retry answered from its first attempt's record"`) ||
		!strings.Contains(logs, `"webhook_id":"wh-1","retry":true`) {
		t.Errorf("retries are not logged as such:\n%s", logs)
	}

	// The same ID with another body is another request: it runs, and is logged.
	other := strings.Replace(validateBody, "123456", "654321", 1)
	if code, body, _ := h.do(t, "POST", path, other, basic("X-Webhook-ID", "wh-1")...); code != 200 || !strings.Contains(body, `"execution":2`) {
		t.Errorf("same ID, other body: %d %s, want a second execution", code, body)
	}
	if !strings.Contains(h.logs.String(), "X-Webhook-ID reused with a different request") {
		t.Error("a reused X-Webhook-ID with another body is not logged")
	}
	// The same body on another resource is another request too.
	if code, body, _ := h.do(t, "POST", "/v1/providers/acme/initiate", validateBody, basic("X-Webhook-ID", "wh-1")...); code != 200 || !strings.Contains(body, `"execution":3`) {
		t.Errorf("same ID and body on initiate: %d %s, want an execution", code, body)
	}
	// Without the header, every call executes, as before.
	for i := range 2 {
		if code, body, _ := h.do(t, "POST", path, validateBody); code != 200 || !strings.Contains(body, fmt.Sprintf(`"execution":%d`, 4+i)) {
			t.Errorf("call %d without X-Webhook-ID: %d %s", i, code, body)
		}
	}
	// An outsider who knows the ID gets nothing: authentication comes first.
	if code, body, _ := h.do(t, "POST", path, validateBody, "X-Webhook-ID", "wh-1"); code != 401 || strings.Contains(body, "SUCCESS") {
		t.Errorf("unauthenticated retry: %d %s", code, body)
	}
	if _, err := st.GetIdempotency(t.Context(), storeKey("acme", "wh-1", "validate", validateBody)); err != nil {
		t.Errorf("the first attempt's record is not in the store: %v", err)
	}
}

func storeKey(prefix, id, resource, body string) store.IdempotencyKey {
	return store.IdempotencyKey{Provider: prefix, WebhookID: id, Fingerprint: provider.FingerprintKey(nil).Fingerprint(resource, []byte(body))}
}

func TestWebhookIDBadInput(t *testing.T) {
	h, eng, _ := idemHarness(t)
	auth := []string{"Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA=="}
	long := strings.Repeat("x", 257)
	code, body, _ := h.do(t, "POST", "/v1/providers/acme/validate", validateBody, append(auth, "X-Webhook-ID", long)...)
	if code != 400 || !strings.Contains(body, `"messageId":"invalid_request"`) || !strings.Contains(body, "256") {
		t.Errorf("257-character X-Webhook-ID: %d %s, want 400 JSON", code, body)
	}
	if code, _, _ := h.do(t, "POST", "/v1/providers/acme/validate", validateBody, append(auth, "X-Webhook-ID", strings.Repeat("x", 256))...); code != 200 {
		t.Errorf("256-character X-Webhook-ID: %d, want 200", code)
	}
	if code, body, _ := h.do(t, "POST", "/v1/providers/acme/validate", validateBody, append(auth, "X-Webhook-ID", "a\x01b")...); code != 400 {
		t.Errorf("X-Webhook-ID with a control character: %d %s, want 400", code, body)
	}
	if n := eng.calls.Load(); n != 1 {
		t.Errorf("%d executions, want 1 (refused requests never run)", n)
	}
}

// A retry that arrives while the first attempt still runs waits for its answer; the engine
// runs once.
func TestRetryWaitsForTheRunningAttempt(t *testing.T) {
	h, eng, _ := idemHarness(t)
	eng.gate = make(chan struct{})
	auth := []string{"Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA==", "X-Webhook-ID", "wh-wait"}
	type result struct {
		code int
		body string
	}
	results := make(chan result, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			code, body, _ := h.do(t, "POST", "/v1/providers/acme/validate", validateBody, auth...)
			results <- result{code, body}
		})
	}
	// Let the first attempt start; the others find its record running and wait.
	testwait.Until(t, "the first attempt to reach the engine", time.Millisecond, func() bool { return eng.calls.Load() != 0 })
	close(eng.gate)
	wg.Wait()
	close(results)
	var bodies []string
	for r := range results {
		if r.code != 200 {
			t.Errorf("attempt: %d %s", r.code, r.body)
		}
		bodies = append(bodies, r.body)
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("attempts answered differently: %q vs %q", b, bodies[0])
		}
	}
	if n := eng.calls.Load(); n != 1 {
		t.Errorf("the engine ran %d times for four concurrent attempts", n)
	}
}

// A server fault is not recorded: Verify's retry executes afresh (and the fault is a 503,
// so that the retry goes to another replica).
func TestFaultIsNotRecorded(t *testing.T) {
	h, eng, _ := idemHarness(t)
	auth := []string{"Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA==", "X-Webhook-ID", "wh-fault"}
	eng.fail.Store(true)
	if code, body, _ := h.do(t, "POST", "/v1/providers/acme/validate", validateBody, auth...); code != 503 || !strings.Contains(body, `"messageId":"unavailable"`) {
		t.Fatalf("engine fault: %d %s, want 503 unavailable", code, body)
	}
	eng.fail.Store(false)
	if code, body, _ := h.do(t, "POST", "/v1/providers/acme/validate", validateBody, auth...); code != 200 || !strings.Contains(body, `"execution":2`) {
		t.Fatalf("retry after a fault: %d %s, want a second execution", code, body)
	}
}

// With the store gone, a call with X-Webhook-ID answers 503 without executing.
func TestStoreDownAnswers503(t *testing.T) {
	h, eng, st := idemHarness(t)
	st.Close()
	auth := []string{"Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA==", "X-Webhook-ID", "wh-down"}
	code, body, _ := h.do(t, "POST", "/v1/providers/acme/validate", validateBody, auth...)
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, `{"messageId":"unavailable"`) {
		t.Errorf("store down: %d %s, want 503 JSON", code, body)
	}
	if eng.calls.Load() != 0 {
		t.Error("the engine ran although its answer could not be recorded")
	}
}

// A call's writes are deferred to the record of its answer, which makes them durable; if
// that record cannot be written, the answer is not sent either (it would announce writes
// a power loss could take back): 503, and Verify retries. Without X-Webhook-ID nothing is
// deferred.
func TestAnswerNotSentUnlessRecorded(t *testing.T) {
	h, eng, st := idemHarness(t)
	auth := []string{"Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA=="}
	if code, body, _ := h.do(t, "POST", "/v1/providers/acme/validate", validateBody, auth...); code != 200 || eng.deferred.Load() {
		t.Fatalf("without X-Webhook-ID: %d %s, deferred %v; want 200, not deferred", code, body, eng.deferred.Load())
	}
	auth = append(auth, "X-Webhook-ID", "wh-lost")
	if code, body, _ := h.do(t, "POST", "/v1/providers/acme/validate", validateBody, auth...); code != 200 || !eng.deferred.Load() {
		t.Fatalf("with X-Webhook-ID: %d %s, deferred %v; want 200, deferred", code, body, eng.deferred.Load())
	}
	eng.during = func() { st.Close() } // the store goes between the claim and the record
	auth[len(auth)-1] = "wh-lost-2"
	code, body, _ := h.do(t, "POST", "/v1/providers/acme/validate", validateBody, auth...)
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, `{"messageId":"unavailable"`) || strings.Contains(body, "SUCCESS") {
		t.Errorf("answer not recorded: %d %s, want 503 unavailable and no answer", code, body)
	}
}

// result is served on GET as IBM's samples send it: from the query string, or a body.
func TestResultOverGET(t *testing.T) {
	h, eng, _ := idemHarness(t)
	auth := []string{"Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA=="}
	code, body, _ := h.do(t, "GET", "/v1/providers/acme/result?transactionId=tx1&capability=totp&id=f1&username=alice", "", auth...)
	if code != 200 || !strings.Contains(body, "SUCCESS") {
		t.Fatalf("GET result: %d %s", code, body)
	}
	if l := eng.last; l.TransactionID != "tx1" || l.Capability != "totp" || l.ID != "f1" || l.Username != "alice" {
		t.Errorf("GET result decoded as %+v", l)
	}
	code, _, _ = h.do(t, "GET", "/v1/providers/acme/result", `{"capability":"totp","id":"f2","transactionId":"tx2","attributes":{"username":"bob"}}`, auth...)
	if code != 200 || eng.last.TransactionID != "tx2" || eng.last.Username != "bob" {
		t.Errorf("GET result with a body: %d %+v", code, eng.last)
	}
	if code, body, _ := h.do(t, "GET", "/v1/providers/acme/result?capability=totp&id=f1&username=alice", "", auth...); code != 400 || !strings.Contains(body, "transactionId") {
		t.Errorf("GET result without transactionId: %d %s, want 400", code, body)
	}
	// Retries of a GET are recognised by their query.
	q := "/v1/providers/acme/result?transactionId=tx9&capability=totp&id=f1&username=alice"
	_, first, _ := h.do(t, "GET", q, "", append(auth, "X-Webhook-ID", "wh-get")...)
	_, again, _ := h.do(t, "GET", q, "", append(auth, "X-Webhook-ID", "wh-get")...)
	if first != again {
		t.Errorf("GET retry answered %s, first %s", again, first)
	}
	calls := eng.calls.Load()
	if code, _, _ := h.do(t, "GET", "/v1/providers/acme/validate", "", auth...); code != 405 {
		t.Errorf("GET validate: %d, want 405", code)
	}
	if eng.calls.Load() != calls {
		t.Error("a refused GET reached the engine")
	}
}

// Contract §12: "a same ID with a different body is a different request".
// Two bodies whose passvalue differs (as emfa itself reads it) must both execute.
func TestIdempotencyNumbersKeepTheirDigits(t *testing.T) {
	h, eng, _ := idemHarness(t)
	auth := []string{"Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA==", "X-Webhook-ID", "wh-num"}
	path := "/v1/providers/acme/validate"
	first := `{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":12345678901234567}}`
	second := `{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":12345678901234568}}`
	code, b1, _ := h.do(t, "POST", path, first, auth...)
	if code != 200 || eng.last.Passvalue != "12345678901234567" {
		t.Fatalf("first: %d %s passvalue %q", code, b1, eng.last.Passvalue)
	}
	code, b2, _ := h.do(t, "POST", path, second, auth...)
	if n := eng.calls.Load(); n != 2 {
		t.Errorf("different passvalue (12345678901234568 vs ...567) with the same X-Webhook-ID: engine ran %d time(s), want 2; second answer %d %s (first %s), engine last saw passvalue %q",
			n, code, b2, b1, eng.last.Passvalue)
	}
	// The same with short numbers written two ways: 1e6 and 1000000 are different passvalues to emfa.
	auth[len(auth)-1] = "wh-num2"
	a := `{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":1e6}}`
	b := `{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":1000000}}`
	h.do(t, "POST", path, a, auth...)
	seen := eng.last.Passvalue
	before := eng.calls.Load()
	code, body, _ := h.do(t, "POST", path, b, auth...)
	if eng.calls.Load() == before {
		t.Errorf("passvalue %q then 1000000 with one X-Webhook-ID: second not executed, answered %d %s from the record", seen, code, body)
	}
}

// A 400 recorded for a body with a duplicate key is replayed to a well-formed body.
func TestIdempotencyDuplicateKeyIsItsOwnRequest(t *testing.T) {
	h, eng, _ := idemHarness(t)
	auth := []string{"Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA==", "X-Webhook-ID", "wh-dup"}
	path := "/v1/providers/acme/validate"
	dup := `{"capability":"totp","id":"zzz","id":"f1","attributes":{"username":"alice","passvalue":"123456"}}`
	code, b1, _ := h.do(t, "POST", path, dup, auth...)
	if code != 400 {
		t.Fatalf("duplicate key: %d %s, want 400", code, b1)
	}
	code, b2, _ := h.do(t, "POST", path, validateBody, auth...)
	if code != 200 || eng.calls.Load() != 1 {
		t.Errorf("well-formed body after a refused one with the same X-Webhook-ID: %d %s, engine ran %d time(s); want 200 and 1", code, b2, eng.calls.Load())
	}
}

// GET result from its query: transactionId=a&transactionId=b and transactionId=a,b are
// different requests to emfa (the first a 400, a value given twice; the second "a,b")
// but one fingerprint: the second is not answered from the first's record.
func TestIdempotencyQueryValuesApart(t *testing.T) {
	h, eng, _ := idemHarness(t)
	auth := []string{"Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA==", "X-Webhook-ID", "wh-q"}
	if code, body, _ := h.do(t, "GET", "/v1/providers/acme/result?capability=totp&id=f1&username=alice&transactionId=tx-a&transactionId=tx-b", "", auth...); code != 400 {
		t.Errorf("transactionId given twice: %d %s, want 400", code, body)
	}
	code, body, _ := h.do(t, "GET", "/v1/providers/acme/result?capability=totp&id=f1&username=alice&transactionId=tx-a,tx-b", "", auth...)
	if code != 200 || eng.calls.Load() != 1 || eng.last.TransactionID != "tx-a,tx-b" {
		t.Errorf("transactionId given twice, then %q, same X-Webhook-ID: second answered %d %s, engine ran %d time(s) (last %q); want it run once, for tx-a,tx-b",
			"tx-a,tx-b", code, body, eng.calls.Load(), eng.last.TransactionID)
	}
}
