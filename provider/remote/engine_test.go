package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/transform"
)

// seen is one request the vendor received.
type seen struct {
	Method, Path, Query, Body string
	Header                    http.Header
}

// vendor is a scripted loopback vendor: answer decides each response.
type vendor struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []seen
	answer func(r *http.Request, body string) (int, string)
}

func newVendor(t *testing.T, answer func(r *http.Request, body string) (int, string)) *vendor {
	v := &vendor{answer: answer}
	v.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		v.mu.Lock()
		v.reqs = append(v.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, string(b), r.Header.Clone()})
		v.mu.Unlock()
		status, body := v.answer(r, string(b))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(v.srv.Close)
	return v
}

func (v *vendor) requests() []seen {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]seen(nil), v.reqs...)
}

func newEngine(t *testing.T, w *Webhook) *Engine {
	t.Helper()
	e, err := New(Options{Webhook: w, Provider: "acme", Store: testdb.SQLite(t), ChallengeLifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func req(capability, txid, passvalue string) provider.Request {
	return provider.Request{Capability: capability, ID: "dev-1", TransactionID: txid, Username: "alice",
		Passvalue: passvalue, Attributes: map[string]any{"username": "alice", "number": json.Number("7")}}
}

func TestResourceSelection(t *testing.T) {
	v := newVendor(t, func(*http.Request, string) (int, string) { return 200, `{"status":"SUCCESS"}` })
	e := newEngine(t, &Webhook{URLs: []string{v.srv.URL + "/api"}, Resources: map[string]Resource{
		"validate": {Suffix: "/validate"},
		"hotp_1":   {Suffix: "/hotp"},
		"smsotp_2": {Suffix: "/sms-check"},
		"initiate": {Suffix: "/start", Transform: Transform{Incoming: `{"body": {"status": "PENDING", "transactionId": "tx-1"}}`}},
	}})
	ctx := context.Background()
	e.Validate(ctx, req("HOTP", "", "123")) // capability-specific, any case
	e.Validate(ctx, req("totp", "", "123")) // generic
	started, _ := e.Initiate(ctx, req("smsotp", "", ""))
	if started.Status != provider.StatusPending {
		t.Fatalf("initiate: %+v", started)
	}
	e.Validate(ctx, req("smsotp", started.TransactionID, "123")) // step 2: smsotp_2
	var paths []string
	for _, r := range v.requests() {
		paths = append(paths, r.Path)
	}
	if diff := cmp.Diff([]string{"/api/hotp", "/api/validate", "/api/start", "/api/sms-check"}, paths); diff != "" {
		t.Errorf("paths (-want +got):\n%s", diff)
	}
	// Without an outgoing transform, Verify's payload is sent as JSON.
	var sent map[string]any
	json.Unmarshal([]byte(v.requests()[0].Body), &sent)
	want := map[string]any{"capability": "HOTP", "id": "dev-1", "attributes": map[string]any{"username": "alice", "passvalue": "123", "number": float64(7)}}
	if diff := cmp.Diff(want, sent); diff != "" {
		t.Errorf("default body (-want +got):\n%s", diff)
	}
}

// TestSuffixWithAnEscapeSentVerbatim: verify-contract.md §9, "the outbound URL is base
// URL + suffix, concatenated verbatim". A suffix holding a percent-escape reaches the
// vendor as written; before, it went out escaped twice (%3A as %253A).
func TestSuffixWithAnEscapeSentVerbatim(t *testing.T) {
	v := newTypedVendor(t)
	v.answer(200, "application/json", `{"status": "SUCCESS"}`)
	e := newEngine(t, &Webhook{URLs: []string{v.srv.URL + "/api"}, Resources: map[string]Resource{
		"test": {Suffix: "/v1/factors%3Acheck", Method: "GET"},
	}})
	if _, err := e.Test(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, uris := v.calls(); len(uris) != 1 || uris[0] != "/api/v1/factors%3Acheck" {
		t.Errorf("the vendor was sent %q, want /api/v1/factors%%3Acheck", uris)
	}
}

func TestOutgoingResultKeys(t *testing.T) {
	v := newVendor(t, func(*http.Request, string) (int, string) { return 200, `{"ok": true}` })
	e := newEngine(t, &Webhook{
		URLs:           []string{v.srv.URL},
		Authentication: Authentication{Type: AuthBasic, Basic: BasicAuth{Username: "u", Password: "p"}},
		Headers:        []Header{{Key: "X-Static", Value: "s"}},
		Resources: map[string]Resource{
			"validate": {Suffix: "/v", Transform: Transform{
				Outgoing: `{"body": "a=1&b=" + body.attributes.passvalue, "method": "put", "path": "/other",
					"query": {"q": "x y", "multi": ["1", "2"]},
					"header": header.put("content-type", "application/x-www-form-urlencoded").put("authorization", "bearer abc"),
					"skip_authentication": true, "title_case_bearer": true}`,
				// request and header, which are built only for a transform that reads them.
				// request is what the outgoing transform was given (cel-dialect.md), not
				// what it made of it.
				Incoming: `{"body": {"status": body.ok ? "SUCCESS" : "FAILED", "attributes": {"code": status_code,
					"sentMethod": request.method, "sentPath": request.path, "sentType": request.header["Content-Type"][0],
					"sentStatic": request.header["X-Static"][0], "sentHost": request.host,
					"sentCode": request.body.attributes.passvalue, "answerType": header["Content-Type"][0]}}}`,
			}},
		},
	})
	out, err := e.Validate(context.Background(), req("totp", "", "42"))
	if err != nil || out.Status != provider.StatusSuccess {
		t.Fatalf("validate: %+v %v", out, err)
	}
	if diff := cmp.Diff(map[string]any{"code": int64(200), "sentMethod": "POST", "sentPath": "/v",
		"sentType": "application/json", "sentStatic": "s", "sentHost": strings.TrimPrefix(v.srv.URL, "http://"),
		"sentCode": "42", "answerType": "application/json"}, out.Attributes); diff != "" {
		t.Errorf("incoming variables (-want +got):\n%s", diff)
	}
	r := v.requests()[0]
	if r.Method != "PUT" || r.Path != "/other" || r.Body != "a=1&b=42" {
		t.Errorf("request %+v", r)
	}
	if r.Query != "multi=1&multi=2&q=x+y" {
		t.Errorf("query %q", r.Query)
	}
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.Header.Get("X-Static") != "s" {
		t.Errorf("headers %v", r.Header)
	}
	// skip_authentication dropped Basic; title_case_bearer fixed the transform's own value.
	if got := r.Header.Get("Authorization"); got != "Bearer abc" {
		t.Errorf("Authorization %q", got)
	}
}

func TestGETHasNoBody(t *testing.T) {
	v := newVendor(t, func(*http.Request, string) (int, string) { return 200, `{"status":"SUCCESS"}` })
	e := newEngine(t, &Webhook{
		URLs:           []string{v.srv.URL},
		Authentication: Authentication{Type: AuthBasic, Basic: BasicAuth{Username: "u", Password: "p"}},
		Resources:      map[string]Resource{"test": {Suffix: "/ping", Method: "get"}},
	})
	if out, _ := e.Test(context.Background()); out.Status != provider.StatusSuccess {
		t.Fatalf("test: %+v", out)
	}
	r := v.requests()[0]
	if r.Method != "GET" || r.Body != "" || !strings.HasPrefix(r.Header.Get("Authorization"), "Basic ") {
		t.Errorf("request %+v", r)
	}
}

func TestFailuresAnswerFailed(t *testing.T) {
	status := atomic.Int32{}
	status.Store(200)
	v := newVendor(t, func(*http.Request, string) (int, string) { return int(status.Load()), `{"result": "x"}` })
	e := newEngine(t, &Webhook{URLs: []string{v.srv.URL}, Resources: map[string]Resource{
		"validate":    {Suffix: "/v", ExpectedStatus: []int{201}, Transform: Transform{Incoming: `{"body": {"status": "SUCCESS"}}`}},
		"initiate":    {Suffix: "/i", Transform: Transform{Incoming: `{"body": {"status": body.nope.deeper}}`}},
		"result":      {Suffix: "/r", Transform: Transform{Incoming: `{"body": {"status": "MAYBE"}}`}},
		"enrollments": {Suffix: "/e", Transform: Transform{Incoming: `{"body": {"not": "a list"}}`}},
	}})
	ctx := context.Background()
	if out, _ := e.Validate(ctx, req("totp", "", "1")); out.Status != provider.StatusFailed {
		t.Errorf("status outside the resource's expectedStatus: %+v", out)
	}
	status.Store(201)
	if out, _ := e.Validate(ctx, req("totp", "", "1")); out.Status != provider.StatusSuccess {
		t.Errorf("status inside expectedStatus: %+v", out)
	}
	status.Store(200)
	if out, err := e.Initiate(ctx, req("push", "", "")); out.Status != provider.StatusFailed || err != nil {
		t.Errorf("transform runtime error: %+v %v", out, err)
	}
	if list, err := e.Enrollments(ctx, "alice"); len(list) != 0 || err != nil {
		t.Errorf("enrollments answer not a list: %+v %v", list, err)
	}
	if got := e.Stats(); got.UnexpectedStatus.Load() != 1 || got.TransformErrors.Load() != 2 {
		t.Errorf("counted %d unexpected statuses, %d transform errors", got.UnexpectedStatus.Load(), got.TransformErrors.Load())
	}
	if out, _ := e.Test(ctx); out.Status != provider.StatusFailed || out.Attributes["reason"] == nil {
		t.Errorf("no test resource: %+v", out)
	}
}

// A vendor refusing the cached OAuth token gets one retry with a fresh token.
func TestOAuthRetryOnce(t *testing.T) {
	var tokens atomic.Int32
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := tokens.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"tok-`+string(rune('0'+n))+`","token_type":"bearer","expires_in":3600}`)
	}))
	t.Cleanup(tokenSrv.Close)
	v := newVendor(t, func(r *http.Request, _ string) (int, string) {
		if r.Header.Get("Authorization") == "Bearer tok-1" {
			return 401, `{"error":"expired"}`
		}
		return 200, `{"status":"SUCCESS"}`
	})
	e := newEngine(t, &Webhook{
		URLs: []string{v.srv.URL},
		Authentication: Authentication{Type: AuthOAuth, OAuth: OAuth{
			TokenEndpoint: tokenSrv.URL, ClientID: "c", ClientSecret: "s"}},
		Resources: map[string]Resource{"validate": {Suffix: "/v"}},
	})
	if out, _ := e.Validate(context.Background(), req("totp", "", "1")); out.Status != provider.StatusSuccess {
		t.Errorf("after refresh: %+v", out)
	}
	if tokens.Load() != 2 || len(v.requests()) != 2 || e.Stats().TokenRetries.Load() != 1 {
		t.Errorf("tokens %d, vendor calls %d, retries %d; want 2, 2, 1", tokens.Load(), len(v.requests()), e.Stats().TokenRetries.Load())
	}

	// A vendor that refuses every token: one retry, then FAILED.
	v.answer = func(*http.Request, string) (int, string) { return 403, `{}` }
	if out, _ := e.Validate(context.Background(), req("totp", "", "1")); out.Status != provider.StatusFailed {
		t.Errorf("always refused: %+v", out)
	}
	if len(v.requests()) != 4 {
		t.Errorf("vendor calls %d, want 4 (one retry only)", len(v.requests()))
	}
}

// Of many concurrent validations of one transaction, one succeeds.
func TestTransactionOneSuccess(t *testing.T) {
	v := newVendor(t, func(r *http.Request, _ string) (int, string) {
		if strings.HasSuffix(r.URL.Path, "/start") {
			return 200, `{"txid":"vendor-tx"}`
		}
		return 200, `{"status":"SUCCESS"}`
	})
	e := newEngine(t, &Webhook{URLs: []string{v.srv.URL}, Resources: map[string]Resource{
		"initiate": {Suffix: "/start", Transform: Transform{Incoming: `{"body": {"status": "PENDING", "transactionId": body.txid}}`}},
		"validate": {Suffix: "/check"},
	}})
	ctx := context.Background()
	out, err := e.Initiate(ctx, req("smsotp", "", ""))
	if err != nil || out.Status != provider.StatusPending {
		t.Fatalf("initiate: %+v %v", out, err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if out, _ := e.Validate(ctx, req("smsotp", out.TransactionID, "1")); out.Status == provider.StatusSuccess {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d successes, want 1", wins.Load())
	}
}

func TestCompileErrorsNameResourceAndDirection(t *testing.T) {
	_, err := Compile(&Webhook{Resources: map[string]Resource{
		"enrollments": {Transform: Transform{Outgoing: `{"body": body.username +}`}},
		"validate":    {Transform: Transform{Incoming: `"just a string"`}},
		"result":      {Transform: Transform{Incoming: `{"body": nosuchvar}`}},
	}})
	var es config.Errors
	if !errors.As(err, &es) || len(es) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}
	for _, want := range []string{"resources.enrollments.transform.outgoing: 1:25: Syntax error", "resources.result.transform.incoming: 1:10: undeclared reference", "undeclared reference", "resources.validate.transform.incoming: 1:1: result is string, want a map"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
	if !strings.Contains(err.Error(), "1:25") && !strings.Contains(err.Error(), ":1:") {
		t.Errorf("no CEL position in:\n%v", err)
	}
}

// Transforms are compiled in parallel; errors and warnings still come in the order of the
// resources by name, outgoing before incoming, and each program lands on its own resource.
func TestCompileInParallelKeepsOrder(t *testing.T) {
	resources := map[string]Resource{}
	var want []string
	for i := range 12 {
		name := fmt.Sprintf("r%02d", i)
		tr := Transform{Outgoing: fmt.Sprintf(`{"body": {"n": %d}}`, i), Incoming: fmt.Sprintf(`{"body": {"n": %d}}`, 100+i)}
		if i%3 == 0 {
			tr.Outgoing = `{"body": ` + name + `}` // undeclared
			want = append(want, "resources."+name+".transform.outgoing")
		}
		if i%4 == 0 {
			tr.Incoming = `"` + name + `"` // not a map
			want = append(want, "resources."+name+".transform.incoming")
		}
		resources[name] = Resource{Transform: tr}
	}
	for range 20 {
		_, err := Compile(&Webhook{Resources: resources})
		var es config.Errors
		if !errors.As(err, &es) {
			t.Fatalf("want config.Errors, got %v", err)
		}
		var got []string
		for _, e := range es {
			got = append(got, e.(*config.FieldError).Path)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("error paths (-want +got):\n%s", diff)
		}
	}
	for name, r := range resources { // now all valid
		if strings.HasPrefix(r.Transform.Outgoing, `{"body": r`) {
			r.Transform.Outgoing = ""
		}
		if strings.HasPrefix(r.Transform.Incoming, `"`) {
			r.Transform.Incoming = ""
		}
		resources[name] = r
	}
	compiled, err := Compile(&Webhook{Resources: resources})
	if err != nil {
		t.Fatal(err)
	}
	for name, def := range resources {
		r := compiled[name]
		for _, c := range []struct {
			src string
			prg *transform.Program
			dir transform.Direction
		}{{def.Transform.Outgoing, r.outgoing, transform.Outgoing}, {def.Transform.Incoming, r.incoming, transform.Incoming}} {
			if c.src == "" {
				if c.prg != nil {
					t.Errorf("%s %s: a program for no transform", name, c.dir)
				}
				continue
			}
			if c.prg == nil {
				t.Errorf("%s %s: no program", name, c.dir)
				continue
			}
			out, err := c.prg.Eval(context.Background(), transform.Vars{})
			if want := strings.TrimPrefix(strings.TrimSuffix(c.src, "}}"), `{"body": {"n": `); err != nil || fmt.Sprint(out["body"].(map[string]any)["n"]) != want {
				t.Errorf("%s %s: evaluates to %v, %v; want n = %s", name, c.dir, out, err, want)
			}
		}
	}
}

func TestLoadWebhook(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "wh.json"), []byte(`{"name": "x", "urls": ["{{url}}"],
		"authentication": {"type": "header", "header": {"values": [{"key": "k", "value": "{{ secret }}"}]}},
		"resources": {"test": {"suffix": "/t"}}}`), 0o600)

	w, source, err := LoadWebhook(map[string]any{"webhookFile": "wh.json", "values": map[string]any{"url": "https://v.example.com", "secret": `a"b`}, "timeout": "3s"}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if source != filepath.Join(dir, "wh.json") || w.URLs[0] != "https://v.example.com" || w.Authentication.Header.Values[0].Value.Reveal() != `a"b` || time.Duration(w.Timeout) != 3*time.Second {
		t.Errorf("webhook %+v from %s", w, source)
	}
	if _, _, err := LoadWebhook(map[string]any{"webhookFile": "wh.json", "values": map[string]any{"url": "u"}}, dir); err == nil || !strings.Contains(err.Error(), "secret") {
		t.Errorf("missing placeholder: %v", err)
	}
	if _, _, err := LoadWebhook(map[string]any{"webhookFile": "missing.json"}, dir); err == nil {
		t.Error("missing file accepted")
	}
	inline, _, err := LoadWebhook(map[string]any{"urls": []any{"https://a"}, "resources": map[string]any{"mobileOTP_1": map[string]any{"suffix": "/m"}}}, dir)
	if err != nil || inline.Resources["mobileOTP_1"].Suffix != "/m" {
		t.Errorf("inline: %+v %v", inline, err)
	}
	// The operator's own section: a typo is an error, at any depth, naming the key alone.
	for _, section := range []map[string]any{
		{"urls": []any{"https://a"}, "timeot": "5s"},
		{"webhookFile": "wh.json", "values": map[string]any{"url": "u", "secret": "s"}, "timeot": "5s"},
		{"urls": []any{"https://a"}, "resources": map[string]any{"x": map[string]any{"sufix": "/m"}}},
	} {
		if _, _, err := LoadWebhook(section, dir); err == nil || !strings.Contains(err.Error(), "unknown key") {
			t.Errorf("a typo in %v: %v", section, err)
		}
	}
}

func TestEvalTransform(t *testing.T) {
	w := &Webhook{URLs: []string{"https://api.example.com:8443/base"},
		Authentication: Authentication{Type: AuthHeader, Header: HeaderAuth{Values: []HeaderValue{{Key: "ikey", Value: "I"}}}},
		Resources: map[string]Resource{"initiate": {Suffix: "/start", Transform: Transform{
			Outgoing: `{"body": {"who": body.username, "at": formatTime(now, "2006"), "sig": authentication_header.ikey, "p": path, "h": host, "m": method}}`,
			Incoming: `{"body": {"status": status_code == 200 ? "PENDING" : "FAILED", "user": request.body.username}}`,
		}}}}
	out, err := EvalTransform(context.Background(), w, "initiate", transform.Outgoing, map[string]any{"body": map[string]any{"username": "alice"}}, time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC))
	want := map[string]any{"body": map[string]any{"who": "alice", "at": "2031", "sig": "I", "p": "/base/start", "h": "api.example.com:8443", "m": "POST"}}
	if diff := cmp.Diff(want, out); err != nil || diff != "" {
		t.Errorf("outgoing (-want +got):\n%s %v", diff, err)
	}
	out, err = EvalTransform(context.Background(), w, "initiate", transform.Incoming, map[string]any{"body": map[string]any{}, "request": map[string]any{"body": map[string]any{"username": "bob"}}}, time.Now())
	if diff := cmp.Diff(map[string]any{"body": map[string]any{"status": "PENDING", "user": "bob"}}, out); err != nil || diff != "" {
		t.Errorf("incoming (-want +got):\n%s %v", diff, err)
	}
	if _, err := EvalTransform(context.Background(), w, "nope", transform.Outgoing, map[string]any{"body": map[string]any{}}, time.Now()); err == nil {
		t.Error("unknown resource accepted")
	}
}

// A transform several resources share (a YAML anchor) is compiled once, and each
// resource still gets it, or its error under its own name.
func TestSharedTransformCompiledOnce(t *testing.T) {
	shared := Transform{Outgoing: `{"body": {"passcode": body.attributes.passvalue}}`, Incoming: `{"body": {"status": "SUCCESS"}}`}
	resources, err := Compile(&Webhook{Resources: map[string]Resource{"validate": {Transform: shared}, "hotp_1": {Transform: shared}}})
	if err != nil {
		t.Fatal(err)
	}
	v, h := resources["validate"], resources["hotp_1"]
	if v.outgoing == nil || v.outgoing != h.outgoing || v.incoming != h.incoming || v.outgoing == v.incoming {
		t.Errorf("programs: validate %p %p, hotp_1 %p %p; want the same two", v.outgoing, v.incoming, h.outgoing, h.incoming)
	}
	// The same source in the other direction is compiled in that direction's environment.
	both := `{"body": {"n": 1}}`
	resources, err = Compile(&Webhook{Resources: map[string]Resource{"a": {Transform: Transform{Outgoing: both, Incoming: both}}}})
	if err != nil || resources["a"].outgoing == resources["a"].incoming {
		t.Errorf("one program for both directions (%v)", err)
	}
	broken := Transform{Outgoing: `{"body": nosuchvar}`}
	_, err = Compile(&Webhook{Resources: map[string]Resource{"validate": {Transform: broken}, "hotp_1": {Transform: broken}}})
	var es config.Errors
	if !errors.As(err, &es) || len(es) != 2 || es[0].(*config.FieldError).Path != "resources.hotp_1.transform.outgoing" ||
		es[1].(*config.FieldError).Path != "resources.validate.transform.outgoing" {
		t.Errorf("errors: %v, want one for each resource", err)
	}
}

// New builds on what CheckCompiled compiled for the same webhook (start-up and reload
// check every provider, then build it), and compiles afresh for any other.
func TestNewUsesCheckCompiled(t *testing.T) {
	webhook := func() *Webhook {
		return &Webhook{URLs: []string{"http://127.0.0.1:9"}, Resources: map[string]Resource{
			"initiate": {Suffix: "/start", Transform: Transform{Incoming: `{"body": {"status": "PENDING"}}`}},
		}}
	}
	w := webhook()
	compiled, _, err := CheckCompiled(w)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		w     *Webhook
		reuse bool
	}{{"same webhook", w, true}, {"another webhook", webhook(), false}} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(Options{Webhook: tc.w, Compiled: compiled, Provider: "acme", Store: testdb.SQLite(t), ChallengeLifetime: time.Minute})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			// The resource, not its program: transform.Compile gives the program compiled
			// before for the same source, whichever webhook it is compiled for.
			got := e.resources["initiate"]
			if reused := got == compiled.c.resources["initiate"]; reused != tc.reuse || got == nil || got.incoming == nil {
				t.Errorf("compiled resource reused: %v, want %v", reused, tc.reuse)
			}
		})
	}
	if c, _, err := CheckCompiled(&Webhook{}); c != nil || err == nil {
		t.Errorf("an invalid webhook: compiled %v, error %v; want nil and an error", c, err)
	}
}

// TestValidateAfterTheDeadlineWhileTheVendorAnswered: a transaction loaded in time whose
// vendor answers SUCCESS after its deadline is TIMEOUT (contract §6, emfa's rule: an
// expired transaction answers TIMEOUT; the deadline is the adapter's own).
func TestValidateAfterTheDeadlineWhileTheVendorAnswered(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	v := newVendor(t, func(r *http.Request, _ string) (int, string) {
		if strings.HasSuffix(r.URL.Path, "/start") {
			return 200, `{"txid":"vendor-tx"}`
		}
		mu.Lock()
		now = now.Add(2 * time.Minute) // the vendor answers after the deadline
		mu.Unlock()
		return 200, `{"status":"SUCCESS"}`
	})
	e, err := New(Options{Webhook: &Webhook{URLs: []string{v.srv.URL}, Resources: map[string]Resource{
		"initiate": {Suffix: "/start", Transform: Transform{Incoming: `{"body": {"status": "PENDING", "transactionId": body.txid}}`}},
		"validate": {Suffix: "/check"},
	}}, Provider: "acme", Store: testdb.SQLite(t), ChallengeLifetime: time.Minute, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := context.Background()
	started, err := e.Initiate(ctx, req("smsotp", "", ""))
	if err != nil || started.Status != provider.StatusPending {
		t.Fatalf("initiate: %+v %v", started, err)
	}
	out, err := e.Validate(ctx, req("smsotp", started.TransactionID, "1"))
	tx, _ := e.store.GetTransaction(ctx, e.txs.Key(started.TransactionID))
	if err != nil || out.Status != provider.StatusTimeout || tx.Status != string(provider.StatusTimeout) {
		t.Errorf("validate decided after the deadline: %+v %v; transaction %s", out, err, tx.Status)
	}
}

// TestInitiateAnswersPendingOrFailed: initiate answers PENDING with a transaction emfa
// recorded, or FAILED without a transactionId (contract §5, emfa's rule), whatever the
// vendor's transform makes of its answer; validate answers SUCCESS, FAILED or TIMEOUT (§6).
func TestInitiateAnswersPendingOrFailed(t *testing.T) {
	for _, tc := range []struct{ name, initiate, validate string }{
		{"SUCCESS with a transactionId", `{"body": {"status": "SUCCESS", "transactionId": "tx-s"}}`, `{"body": {"status": "PENDING"}}`},
		{"PENDING without a transactionId", `{"body": {"status": "PENDING"}}`, `{"body": {"status": "CANCELED"}}`},
		{"FAILED with a transactionId", `{"body": {"status": "FAILED", "transactionId": "tx-f"}}`, `{"body": {"status": "PENDING", "transactionId": "tx-f"}}`},
		{"CANCELED", `{"body": {"status": "CANCELED", "transactionId": "tx-c"}}`, `{"body": {"status": "CANCELED"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newVendor(t, func(*http.Request, string) (int, string) { return 200, `{}` })
			e := newEngine(t, &Webhook{URLs: []string{v.srv.URL}, Resources: map[string]Resource{
				"initiate": {Suffix: "/start", Transform: Transform{Incoming: tc.initiate}},
				"validate": {Suffix: "/check", Transform: Transform{Incoming: tc.validate}},
			}})
			ctx := context.Background()
			out, err := e.Initiate(ctx, req("smsotp", "", ""))
			if err != nil || out.Status != provider.StatusFailed || out.TransactionID != "" || len(v.reqs) != 1 {
				t.Errorf("initiate: %+v %v, want FAILED without a transactionId", out, err)
			}
			out, err = e.Validate(ctx, req("smsotp", "", "123456"))
			if err != nil || out.Status != provider.StatusFailed || out.TransactionID != "" || !strings.Contains(out.Reason, "the vendor's answer") {
				t.Errorf("validate: %+v %v, want FAILED without a transactionId", out, err)
			}
		})
	}
}

// TestResultAfterTheDeadlineWhileTheVendorAnswered: the deadline is emfa's own (contract
// §7): a poll whose vendor answers after it, approved or still pending, is TIMEOUT, and
// so is the transaction from then on.
func TestResultAfterTheDeadlineWhileTheVendorAnswered(t *testing.T) {
	for _, vendorSays := range []string{"SUCCESS", "PENDING"} {
		t.Run(vendorSays, func(t *testing.T) {
			var mu sync.Mutex
			now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			v := newVendor(t, func(r *http.Request, _ string) (int, string) {
				if strings.HasSuffix(r.URL.Path, "/start") {
					return 200, `{"txid":"vendor-tx"}`
				}
				mu.Lock()
				now = now.Add(2 * time.Minute) // the vendor answers after the deadline
				mu.Unlock()
				return 200, `{"status":"` + vendorSays + `"}`
			})
			e, err := New(Options{Webhook: &Webhook{URLs: []string{v.srv.URL}, Resources: map[string]Resource{
				"initiate": {Suffix: "/start", Transform: Transform{Incoming: `{"body": {"status": "PENDING", "transactionId": body.txid}}`}},
				"result":   {Suffix: "/status", Method: "GET"},
			}}, Provider: "acme", Store: testdb.SQLite(t), ChallengeLifetime: time.Minute, Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			ctx := context.Background()
			started, err := e.Initiate(ctx, req("push", "", ""))
			if err != nil || started.Status != provider.StatusPending {
				t.Fatalf("initiate: %+v %v", started, err)
			}
			out, err := e.Result(ctx, req("push", started.TransactionID, ""))
			tx, _ := e.store.GetTransaction(ctx, e.txs.Key(started.TransactionID))
			if err != nil || out.Status != provider.StatusTimeout || tx.Status != string(provider.StatusTimeout) {
				t.Errorf("result decided after the deadline: %+v %v; transaction %s", out, err, tx.Status)
			}
		})
	}
}

// TestLifecycleIncomingSeesRequestBody: a lifecycle step's incoming transform sees the
// contract transforms' variables, request among them: what the outgoing transform was
// given, the event as its body.
func TestLifecycleIncomingSeesRequestBody(t *testing.T) {
	v := newVendor(t, func(r *http.Request, _ string) (int, string) { return 200, `{"ok":true}` })
	e := newEngine(t, &Webhook{URLs: []string{v.srv.URL}, Lifecycle: map[string][]LifecycleStep{
		"user.delete": {
			{Name: "del", Resource: Resource{Suffix: "/u", Method: "POST", Transform: Transform{
				Outgoing: `{"method": "DELETE", "path": "/u/" + event.username, "header": {"X-Other": "1"}}`,
				Incoming: `{"body": {"user": request.body.username, "method": request.method, "path": request.path,
					"type": request.header["Content-Type"][0]}}`}}},
			{Name: "check", Resource: Resource{Suffix: "/c", Method: "GET", Transform: Transform{
				Outgoing: `{"query": {"seen": [steps.del.body.user, steps.del.body.method, steps.del.body.path, steps.del.body.type]}}`}}},
		},
	}})
	if err := e.Propagate(context.Background(), provider.LifecycleEvent{ID: "1", Type: "user.delete", Username: "alice"}); err != nil {
		t.Fatalf("an incoming transform reading request: %v", err)
	}
	reqs := v.requests()
	if len(reqs) != 2 || reqs[0].Method != "DELETE" || reqs[0].Path != "/u/alice" {
		t.Fatalf("requests %+v", reqs)
	}
	if want := "seen=alice&seen=POST&seen=%2Fu&seen=application%2Fjson"; reqs[1].Query != want {
		t.Errorf("request as the incoming transform saw it: %q, want %q", reqs[1].Query, want)
	}
}

// TestCanceledCallsEjectNoURL: calls whose caller hung up (Verify gave up) say nothing of
// the vendor's URLs: however many there are, no URL is taken out of rotation.
func TestCanceledCallsEjectNoURL(t *testing.T) {
	v := newVendor(t, func(*http.Request, string) (int, string) { return 200, `{"status":"SUCCESS"}` })
	e := newEngine(t, &Webhook{URLs: []string{v.srv.URL + "/a", v.srv.URL + "/b"}, Resources: map[string]Resource{
		"validate": {Suffix: "/v"},
	}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 6 {
		e.Validate(ctx, req("totp", "", "1"))
	}
	for i := range e.urls.state {
		if e.urls.state[i].ejectedUntil.Load() != 0 {
			t.Errorf("url %d ejected after calls their caller canceled", i)
		}
	}
}

// TestTokenFailuresEjectNoURL: a token endpoint that fails says nothing of the vendor's
// URLs (none was called): they all stay in rotation for when the token endpoint is back.
func TestTokenFailuresEjectNoURL(t *testing.T) {
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(tokenSrv.Close)
	v := newVendor(t, func(*http.Request, string) (int, string) { return 200, `{"status":"SUCCESS"}` })
	e := newEngine(t, &Webhook{URLs: []string{v.srv.URL + "/a", v.srv.URL + "/b"},
		Authentication: Authentication{Type: AuthOAuth, OAuth: OAuth{TokenEndpoint: tokenSrv.URL, ClientID: "c", ClientSecret: "s"}},
		Resources:      map[string]Resource{"validate": {Suffix: "/v"}},
	})
	for range 6 {
		if out, err := e.Validate(context.Background(), req("totp", "", "1")); err == nil && out.Status == provider.StatusSuccess {
			t.Fatal("validated without a token")
		}
	}
	if n := len(v.requests()); n != 0 {
		t.Fatalf("the vendor was called %d times without a token", n)
	}
	for i := range e.urls.state {
		if e.urls.state[i].ejectedUntil.Load() != 0 {
			t.Errorf("url %d ejected for the token endpoint's failures", i)
		}
	}
}
