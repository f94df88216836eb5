package adapter

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// heldStore holds the first GetUser made while hold is set until gate closes, telling
// entered: an admin request that is still running.
type heldStore struct {
	store.Store
	hold    atomic.Bool
	entered chan struct{}
	gate    chan struct{}
}

func (s *heldStore) GetUser(ctx context.Context, name string) (store.User, error) {
	if s.hold.CompareAndSwap(true, false) {
		s.entered <- struct{}{}
		<-s.gate
	}
	return s.Store.GetUser(ctx, name)
}

// idemAdmin is an admin API served with Idempotency-Key on st, its answers sealed with
// keys; held is what its manager reads users through.
type idemAdmin struct {
	*harness
	manager *lifecycle.Manager
	held    *heldStore
}

var idemKeys = func() *builtin.Keyring {
	k, err := builtin.NewKeyring(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		panic(err)
	}
	return k
}()

func newIdemAdmin(t *testing.T, st store.Store, clock *fakeClock, mutate ...func(*Options)) *idemAdmin {
	t.Helper()
	held := &heldStore{Store: st, entered: make(chan struct{}, 1), gate: make(chan struct{})}
	engine, err := builtin.New(builtin.Options{Store: held, Keyring: idemKeys, Capabilities: []string{"totp"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := lifecycle.New(lifecycle.Options{Store: held, Engines: []*builtin.Engine{engine},
		Capabilities: map[string][]string{"acme": {"totp"}}})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *Options) {
		o.Admin = m
		o.MaxBodyBytes = 64 << 10
		// Long enough that only the short wait for a running first attempt answers a
		// duplicate while the first is held.
		o.RequestTimeout = time.Minute
		o.Idempotency = &provider.Idempotency{Store: st, TTL: time.Hour, Now: clock.Now, Poll: time.Millisecond, Wait: 50 * time.Millisecond}
		o.AnswerKeys = idemKeys
		for _, f := range mutate {
			f(o)
		}
	})
	return &idemAdmin{harness: h, manager: m, held: held}
}

// token creates a write token named name on the admin's store.
func (a *idemAdmin) token(t *testing.T, name string) string {
	t.Helper()
	tok, err := a.manager.CreateToken(context.Background(), "cli", name, lifecycle.ScopeWrite)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// post sends an admin POST with token and, unless key is "", Idempotency-Key.
func (a *idemAdmin) post(t *testing.T, token, key, path, body string) (int, string, http.Header) {
	t.Helper()
	hdr := []string{"Authorization", "Bearer " + token}
	if key != "" {
		hdr = append(hdr, HeaderIdempotencyKey, key)
	}
	return a.do(t, http.MethodPost, path, body, hdr...)
}

func (a *idemAdmin) factors(t *testing.T, user string) int {
	t.Helper()
	fs, err := a.manager.ListFactors(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return len(fs)
}

// secretOf is the TOTP seed of an enrollment's answer.
func secretOf(t *testing.T, body string) string {
	t.Helper()
	var out struct {
		Enrollment struct {
			Secret string `json:"secret"`
		} `json:"enrollment"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil || out.Enrollment.Secret == "" {
		t.Fatalf("no seed in %s (%v)", body, err)
	}
	return out.Enrollment.Secret
}

func eachStore(t *testing.T, run func(t *testing.T, st store.Store)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); run(t, testdb.SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); run(t, testdb.Postgres(t)) })
}

const (
	enrollPath = AdminPrefix + "/users/alice/factors"
	totpBody   = `{"type":"totp","label":"Phone"}`
)

// TestAdminIdempotencyKeyRetry: a retried TOTP enrollment gets the first answer, its seed
// included, and the user has one factor, not two; what is kept of the answer is sealed.
func TestAdminIdempotencyKeyRetry(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		clock := &fakeClock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
		a := newIdemAdmin(t, st, clock)
		tok := a.token(t, "idm")
		if code, body, _ := a.post(t, tok, "", AdminPrefix+"/users", `{"name":"alice"}`); code != 201 {
			t.Fatalf("create alice: %d %s", code, body)
		}
		code, first, hdr := a.post(t, tok, "enroll-alice-1", enrollPath, totpBody)
		if code != 201 || hdr.Get("Cache-Control") != "no-store" {
			t.Fatalf("first attempt: %d %s %v", code, first, hdr)
		}
		seed := secretOf(t, first)
		// The same request, its keys in another order: the recorded answer, byte for byte.
		for i := range 2 {
			code, again, hdr := a.post(t, tok, "enroll-alice-1", enrollPath, `{ "label":"Phone", "type":"totp" }`)
			if code != 201 || again != first || hdr.Get("Cache-Control") != "no-store" || hdr.Get("Content-Type") != "application/json" {
				t.Fatalf("retry %d: %d %s %v, want the first answer %s", i, code, again, hdr, first)
			}
		}
		if n := a.factors(t, "alice"); n != 1 {
			t.Fatalf("alice has %d factors after one enrollment and two retries", n)
		}
		if !strings.Contains(a.logs.String(), `"retry":true`) {
			t.Errorf("a replayed answer is not logged as a retry:\n%s", a.logs.String())
		}

		// What the store keeps is sealed: neither the seed nor the URI is in it, in clear
		// or in base64.
		rec, err := st.GetIdempotency(context.Background(), store.IdempotencyKey{Provider: "admin:idm", WebhookID: "enroll-alice-1", Fingerprint: adminFingerprintColumn})
		if err != nil {
			t.Fatal(err)
		}
		var env struct {
			KeyID  string `json:"keyId"`
			Sealed []byte `json:"sealed"`
		}
		if err := json.Unmarshal(rec.Body, &env); err != nil || env.KeyID != idemKeys.CurrentID() || len(env.Sealed) == 0 {
			t.Fatalf("the record's body is not a sealed answer: %q (%v)", rec.Body, err)
		}
		for _, clear := range [][]byte{rec.Body, env.Sealed} {
			for _, secret := range []string{seed, "otpauth://", base64.StdEncoding.EncodeToString([]byte(first))[:40]} {
				if bytes.Contains(clear, []byte(secret)) {
					t.Errorf("the stored answer holds %q in clear: %q", secret, clear)
				}
			}
		}

		// Sealed for its record alone: copied onto another client's, it does not open.
		now := clock.Now()
		copied := store.IdempotencyKey{Provider: "admin:helpdesk", WebhookID: "enroll-alice-1", Fingerprint: adminFingerprintColumn}
		if _, err := st.RecordIdempotency(context.Background(), copied, "copied", rec.Status, rec.Body, now, now.Add(time.Hour), now); err != nil {
			t.Fatal(err)
		}
		code, body, _ := a.post(t, a.token(t, "helpdesk"), "enroll-alice-1", enrollPath, totpBody)
		if code != 422 || !strings.Contains(body, "idempotency_key_unreadable") || strings.Contains(body, seed) {
			t.Errorf("an answer copied onto another client's record: %d %s, want 422 idempotency_key_unreadable", code, body)
		}
		if n := a.factors(t, "alice"); n != 1 {
			t.Errorf("alice has %d factors after a copied record was refused, want 1", n)
		}

		// Once the record expired, the key may be used again: a new request.
		clock.Advance(time.Hour + time.Second)
		code, later, _ := a.post(t, tok, "enroll-alice-1", enrollPath, totpBody)
		if code != 201 || secretOf(t, later) == seed {
			t.Fatalf("after the record expired: %d %s, want a new enrollment", code, later)
		}
		if n := a.factors(t, "alice"); n != 2 {
			t.Errorf("alice has %d factors after an expired key was used again, want 2", n)
		}
	})
}

// TestAdminIdempotencyKeyOtherRequest: the same key with another body, path or query is
// refused 422 and runs nothing; another admin client's same key is its own.
func TestAdminIdempotencyKeyOtherRequest(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		clock := &fakeClock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
		a := newIdemAdmin(t, st, clock)
		tok, other := a.token(t, "idm"), a.token(t, "helpdesk")
		for _, u := range []string{"alice", "bob"} {
			if code, body, _ := a.post(t, tok, "", AdminPrefix+"/users", `{"name":"`+u+`"}`); code != 201 {
				t.Fatalf("create %s: %d %s", u, code, body)
			}
		}
		code, first, _ := a.post(t, tok, "k1", enrollPath, totpBody)
		if code != 201 {
			t.Fatalf("first: %d %s", code, first)
		}
		for _, tc := range []struct{ name, path, body string }{
			{"another body", enrollPath, `{"type":"totp","label":"Tablet"}`},
			{"another user", AdminPrefix + "/users/bob/factors", totpBody},
			{"another route", AdminPrefix + "/users", `{"name":"carol"}`},
		} {
			code, body, _ := a.post(t, tok, "k1", tc.path, tc.body)
			var out map[string]any
			json.Unmarshal([]byte(body), &out)
			if got, field := errorCode(out); code != 422 || got != "idempotency_key_reused" || field != HeaderIdempotencyKey {
				t.Errorf("%s: %d %s, want 422 idempotency_key_reused", tc.name, code, body)
			}
		}
		if n := a.factors(t, "alice") + a.factors(t, "bob"); n != 1 {
			t.Errorf("%d factors, want the first request's alone", n)
		}
		if _, err := a.manager.GetUser(context.Background(), "carol"); err == nil {
			t.Error("a key reused on another route created carol")
		}
		// An import's query is part of its request: a dry run's key does not apply it.
		importReq := func(query string) (int, string) {
			code, body, _ := a.do(t, http.MethodPost, AdminPrefix+"/import"+query, "username\nzoe\n",
				"Authorization", "Bearer "+tok, HeaderIdempotencyKey, "k-import", "Content-Type", "text/csv")
			return code, body
		}
		if code, body := importReq("?dryRun=true"); code != 200 {
			t.Fatalf("dry run: %d %s", code, body)
		}
		if code, body := importReq(""); code != 422 || !strings.Contains(body, "idempotency_key_reused") {
			t.Errorf("the dry run's key on the import itself: %d %s, want 422 idempotency_key_reused", code, body)
		}
		if _, err := a.manager.GetUser(context.Background(), "zoe"); err == nil {
			t.Error("a dry run's key applied an import")
		}
		// Another client's key of the same name is not the first client's.
		code, theirs, _ := a.post(t, other, "k1", enrollPath, totpBody)
		if code != 201 || secretOf(t, theirs) == secretOf(t, first) {
			t.Fatalf("another client's k1: %d %s, want an enrollment of its own", code, theirs)
		}
		if code, again, _ := a.post(t, tok, "k1", enrollPath, totpBody); code != 201 || again != first {
			t.Errorf("the first client's retry after another's: %d %s", code, again)
		}
	})
}

// TestAdminIdempotencyKeyConcurrent: a retry while the first attempt runs waits briefly,
// then is refused 409, and nothing runs twice; once the first ends, the retry gets its
// answer. Duplicates sent at once run once.
func TestAdminIdempotencyKeyConcurrent(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		clock := &fakeClock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
		a := newIdemAdmin(t, st, clock)
		tok := a.token(t, "idm")
		if code, body, _ := a.post(t, tok, "", AdminPrefix+"/users", `{"name":"alice"}`); code != 201 {
			t.Fatalf("create alice: %d %s", code, body)
		}
		a.held.hold.Store(true)
		type answer struct {
			code int
			body string
		}
		firstDone := make(chan answer, 1)
		go func() {
			code, body, _ := a.post(t, tok, "k-held", enrollPath, totpBody)
			firstDone <- answer{code, body}
		}()
		testwait.Recv(t, "the first attempt to reach the store", a.held.entered) // and be held there
		code, body, hdr := a.post(t, tok, "k-held", enrollPath, totpBody)
		var out map[string]any
		json.Unmarshal([]byte(body), &out)
		if got, _ := errorCode(out); code != 409 || got != "idempotency_key_in_use" || hdr.Get("Retry-After") == "" {
			t.Errorf("a retry while the first runs: %d %s %v, want 409 idempotency_key_in_use with Retry-After", code, body, hdr)
		}
		close(a.held.gate)
		first := testwait.Recv(t, "the first attempt's answer", firstDone)
		if first.code != 201 {
			t.Fatalf("the first attempt: %d %s", first.code, first.body)
		}
		if code, again, _ := a.post(t, tok, "k-held", enrollPath, totpBody); code != 201 || again != first.body {
			t.Errorf("the retry once the first ended: %d %s", code, again)
		}

		// Four at once: one runs, the others get its answer (or 409, while it runs).
		var wg sync.WaitGroup
		answers := make([]answer, 4)
		for i := range answers {
			wg.Go(func() {
				code, body, _ := a.post(t, tok, "k-burst", enrollPath, totpBody)
				answers[i] = answer{code, body}
			})
		}
		wg.Wait()
		created := ""
		for _, ans := range answers {
			switch {
			case ans.code == 201 && (created == "" || created == ans.body):
				created = ans.body
			case ans.code == 409 && strings.Contains(ans.body, "idempotency_key_in_use"):
			default:
				t.Errorf("a duplicate sent at once: %d %s (another answered %s)", ans.code, ans.body, created)
			}
		}
		if created == "" {
			t.Error("none of four duplicates was answered 201")
		}
		if n := a.factors(t, "alice"); n != 2 {
			t.Errorf("alice has %d factors after two keys' requests, want 2", n)
		}
	})
}

// TestAdminIdempotencyKeyReplicas: a retry that reaches another replica gets the answer
// the first recorded, with the headers that matter.
func TestAdminIdempotencyKeyReplicas(t *testing.T) {
	sv := testdb.Connect(t)
	st := sv.Open(t)
	clock := &fakeClock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	one, two := newIdemAdmin(t, st, clock), newIdemAdmin(t, st, clock)
	tok := one.token(t, "idm")
	code, created, hdr := one.post(t, tok, "create-dana", AdminPrefix+"/users", `{"name":"dana"}`)
	if code != 201 || hdr.Get("Location") == "" || hdr.Get("ETag") == "" {
		t.Fatalf("create on one: %d %s %v", code, created, hdr)
	}
	code, again, hdr2 := two.post(t, tok, "create-dana", AdminPrefix+"/users", `{"name":"dana"}`)
	if code != 201 || again != created || hdr2.Get("Location") != hdr.Get("Location") || hdr2.Get("ETag") != hdr.Get("ETag") {
		t.Fatalf("the retry on two: %d %s %v, want %s %v", code, again, hdr2, created, hdr)
	}
	code, first, _ := two.post(t, tok, "enroll-dana", AdminPrefix+"/users/dana/factors", totpBody)
	if code != 201 {
		t.Fatalf("enroll on two: %d %s", code, first)
	}
	if code, again, _ := one.post(t, tok, "enroll-dana", AdminPrefix+"/users/dana/factors", totpBody); code != 201 || again != first {
		t.Fatalf("the retry on one: %d %s, want %s", code, again, first)
	}
	if n := one.factors(t, "dana"); n != 1 {
		t.Errorf("dana has %d factors, want 1", n)
	}
}

// TestAdminIdempotencyKeyBadInput: a malformed key is refused 400 and runs nothing.
func TestAdminIdempotencyKeyBadInput(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	a := newIdemAdmin(t, testdb.SQLite(t), clock)
	tok := a.token(t, "idm")
	for _, tc := range []struct{ name, key string }{
		{"too long", strings.Repeat("k", 257)},
		{"control character", "k\x01y"},
		{"a tab", "k\ty"},
		{"not ASCII", "clé"},
		{"an unterminated quote", `"abc`},
		{"an empty quoted key", `""`},
	} {
		code, body, _ := a.post(t, tok, tc.key, AdminPrefix+"/users", `{"name":"eve"}`)
		var out map[string]any
		json.Unmarshal([]byte(body), &out)
		if got, field := errorCode(out); code != 400 || got != "invalid_header" || field != HeaderIdempotencyKey {
			t.Errorf("%s: %d %s, want 400 invalid_header", tc.name, code, body)
		}
	}
	if _, err := a.manager.GetUser(context.Background(), "eve"); err == nil {
		t.Error("a request with a malformed key ran")
	}
	// Twice in one request: which one applies?
	req := httptest.NewRequest(http.MethodPost, AdminPrefix+"/users", strings.NewReader(`{"name":"frank"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Add(HeaderIdempotencyKey, "a")
	req.Header.Add(HeaderIdempotencyKey, "b")
	rec := httptest.NewRecorder()
	a.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "invalid_header") {
		t.Errorf("two keys: %d %s, want 400 invalid_header", rec.Code, rec.Body)
	}
	if _, err := a.manager.GetUser(context.Background(), "frank"); err == nil {
		t.Error("a request with two keys ran")
	}
	// A key at the limit, and one quoted as the draft writes it, are keys.
	if code, body, _ := a.post(t, tok, strings.Repeat("k", 256), AdminPrefix+"/users", `{"name":"gina"}`); code != 201 {
		t.Errorf("a 256-character key: %d %s", code, body)
	}
	code, first, _ := a.post(t, tok, `"8e03978e-40d5"`, AdminPrefix+"/users", `{"name":"hugo"}`)
	if code != 201 {
		t.Fatalf("a quoted key: %d %s", code, first)
	}
	if code, again, _ := a.post(t, tok, `8e03978e-40d5`, AdminPrefix+"/users", `{"name":"hugo"}`); code != 201 || again != first {
		t.Errorf("the same key unquoted: %d %s, want the quoted one's answer", code, again)
	}
}

// TestAdminIdempotencyKeyUnavailable: a server that cannot seal what it records refuses
// the header rather than keep answers in clear, or run the request without the promise.
func TestAdminIdempotencyKeyUnavailable(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	for name, mutate := range map[string]func(*Options){
		"no keyring":           func(o *Options) { o.AnswerKeys = nil },
		"no idempotency store": func(o *Options) { o.Idempotency = nil },
	} {
		t.Run(name, func(t *testing.T) {
			a := newIdemAdmin(t, testdb.SQLite(t), clock, mutate)
			tok := a.token(t, "idm")
			code, body, _ := a.post(t, tok, "k", AdminPrefix+"/users", `{"name":"ivan"}`)
			if code != http.StatusNotImplemented || !strings.Contains(body, "idempotency_key_unavailable") {
				t.Errorf("%d %s, want 501 idempotency_key_unavailable", code, body)
			}
			if _, err := a.manager.GetUser(context.Background(), "ivan"); err == nil {
				t.Error("the request ran")
			}
			if code, body, _ := a.post(t, tok, "", AdminPrefix+"/users", `{"name":"ivan"}`); code != 201 {
				t.Errorf("without the header: %d %s", code, body)
			}
		})
	}
}

// TestAdminIdempotencyKeyNotRecorded: an answer that says "nothing was done, try again"
// is not kept; any other is.
func TestAdminIdempotencyKeyNotRecorded(t *testing.T) {
	a := newIdemAdmin(t, testdb.SQLite(t), &fakeClock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)})
	tok := a.token(t, "idm")
	// A refusal is recorded: the same request with the same key is refused the same way,
	// even once what refused it has changed.
	code, first, _ := a.post(t, tok, "k-refused", enrollPath, totpBody)
	if code != 404 {
		t.Fatalf("enroll for nobody: %d %s", code, first)
	}
	if code, body, _ := a.post(t, tok, "", AdminPrefix+"/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create alice: %d %s", code, body)
	}
	if code, again, _ := a.post(t, tok, "k-refused", enrollPath, totpBody); code != 404 || again != first {
		t.Errorf("the retry of a refusal: %d %s, want the recorded %s", code, again, first)
	}
	for _, tc := range []struct {
		status int
		err    error
		want   bool
	}{
		{201, nil, true},
		{404, &lifecycle.Error{Kind: lifecycle.NotFound, Code: "not_found"}, true},
		{422, &lifecycle.Error{Kind: lifecycle.Refused, Code: "invalid_passcode"}, true},
		{429, &lifecycle.Error{Kind: lifecycle.Refused, Code: "activation_not_sent", RetryAfter: time.Minute}, false},
		{422, &lifecycle.Error{Kind: lifecycle.Refused, Code: "activation_not_sent"}, false},
		{422, &lifecycle.Error{Kind: lifecycle.Refused, Code: "link_not_sent"}, false},
		{503, unavailable(context.DeadlineExceeded), false},
		{500, nil, false},
	} {
		if got := recordable(tc.status, tc.err); got != tc.want {
			t.Errorf("recordable(%d, %v) = %v, want %v", tc.status, tc.err, got, tc.want)
		}
	}
}

// TestAdminOpenAPIIdempotencyKey: every POST of the admin API documents the header and
// its refusals.
func TestAdminOpenAPIIdempotencyKey(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Ref string `json:"$ref"`
			} `json:"parameters"`
			Responses map[string]json.RawMessage `json:"responses"`
		} `json:"paths"`
		Components struct {
			Parameters map[string]struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(adminOpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	if p := doc.Components.Parameters["idempotencyKey"]; p.Name != HeaderIdempotencyKey || p.In != "header" {
		t.Fatalf("components.parameters.idempotencyKey = %+v", p)
	}
	posts := 0
	for path, item := range doc.Paths {
		op, ok := item["post"]
		if !ok {
			continue
		}
		posts++
		has := false
		for _, p := range op.Parameters {
			has = has || p.Ref == "#/components/parameters/idempotencyKey"
		}
		if !has {
			t.Errorf("POST %s does not take Idempotency-Key", path)
		}
		for _, status := range []string{"409", "422"} {
			if _, ok := op.Responses[status]; !ok {
				t.Errorf("POST %s does not document %s", path, status)
			}
		}
	}
	if posts < 15 {
		t.Errorf("only %d POST operations", posts)
	}
}
