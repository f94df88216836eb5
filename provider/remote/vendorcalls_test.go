package remote

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
)

// typedVendor is a loopback vendor that answers every request with one status, content
// type ("" sends none: Go's server then sniffs none either, as the header is set empty)
// and body, and keeps the paths it was asked for.
type typedVendor struct {
	srv                *httptest.Server
	mu                 sync.Mutex
	status             int
	contentType, body  string
	paths, escapedURIs []string
}

func newTypedVendor(t *testing.T) *typedVendor {
	v := &typedVendor{status: 200, contentType: "application/json", body: "{}"}
	v.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		v.mu.Lock()
		v.paths = append(v.paths, r.URL.Path)
		v.escapedURIs = append(v.escapedURIs, r.RequestURI)
		status, ct, body := v.status, v.contentType, v.body
		v.mu.Unlock()
		w.Header()["Content-Type"] = []string{ct}
		if ct == "" {
			w.Header()["Content-Type"] = nil // no sniffing, no header
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(v.srv.Close)
	return v
}

func (v *typedVendor) answer(status int, contentType, body string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.status, v.contentType, v.body = status, contentType, body
}

func (v *typedVendor) calls() (paths, uris []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.paths...), append([]string(nil), v.escapedURIs...)
}

// newLoggedEngine is newEngine with the engine's log and its observer's outcomes kept.
func newLoggedEngine(t *testing.T, w *Webhook) (*Engine, *lockedBuffer, *outcomes) {
	t.Helper()
	var logs lockedBuffer
	obs := &outcomes{}
	e, err := New(Options{Webhook: w, Provider: "acme", Store: testdb.SQLite(t), ChallengeLifetime: time.Minute,
		Log: slog.New(slog.NewJSONHandler(&logs, nil)), Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, &logs, obs
}

// A 2xx body that is an HTML page, or that says it is JSON and does not parse, is a failed
// vendor call: FAILED with the vendor's reason, logged with its kind, counted as a vendor
// error with the outcome error. A body in another content type stays text for the
// incoming transform (cel-dialect.md: "the raw string when not JSON"), an empty one is
// {}, and JSON sent under a wrong content type is still JSON.
func TestVendorBodiesThatAreNotJSON(t *testing.T) {
	v := newTypedVendor(t)
	e, logs, obs := newLoggedEngine(t, &Webhook{URLs: []string{v.srv.URL}, Resources: map[string]Resource{
		"validate": {Suffix: "/v", Transform: Transform{Incoming: `{"body": {"status":
			type(body) == string ? body : size(body) == 0 ? "SUCCESS" : body.status}}`}},
	}})
	for _, c := range []struct {
		name, contentType, body string
		want                    provider.Status
		kind                    string // the failure's kind in the log, "" when the call answered
	}{
		{"HTML page under a JSON type", "application/json", "<html><body>maintenance</body></html>", provider.StatusFailed, "html"},
		{"HTML page", "text/html; charset=utf-8", "<!DOCTYPE html><html>maintenance</html>", provider.StatusFailed, "html"},
		{"HTML page without a type", "", "<html>maintenance</html>", provider.StatusFailed, "html"},
		{"HTML error page as text/plain", "text/plain", "<html><title>502</title></html>", provider.StatusFailed, "html"},
		{"truncated JSON", "application/json", `{"status": "SUCC`, provider.StatusFailed, "malformed"},
		{"JSON with trailing data", "application/json; charset=utf-8", `{"status": "SUCCESS"} x`, provider.StatusFailed, "malformed"},
		{"problem+json that does not parse", "application/problem+json", `{"title"`, provider.StatusFailed, "malformed"},
		{"truncated JSON without a type", "", `{"status": "SUCC`, provider.StatusFailed, "malformed"},
		{"text", "text/plain", "SUCCESS", provider.StatusSuccess, ""},
		{"form encoding", "application/x-www-form-urlencoded", "FAILED", provider.StatusFailed, ""},
		{"empty JSON body", "application/json", "", provider.StatusSuccess, ""},
		{"JSON under an HTML type", "text/html", `{"status": "SUCCESS"}`, provider.StatusSuccess, ""},
		{"JSON", "application/json", `{"status": "SUCCESS"}`, provider.StatusSuccess, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			v.answer(200, c.contentType, c.body)
			before, logged, seen := e.Stats().VendorErrors.Load(), len(logs.String()), len(obs.list())
			out, err := e.Validate(context.Background(), req("totp", "", "1"))
			if err != nil || out.Status != c.want {
				t.Fatalf("validate: %+v %v, want %s", out, err, c.want)
			}
			log := logs.String()[logged:]
			outcome := obs.list()[seen:]
			if c.kind == "" {
				if n := e.Stats().VendorErrors.Load() - before; n != 0 || strings.Contains(log, "vendor call failed") {
					t.Errorf("an answered call counted %d vendor errors; log:\n%s", n, log)
				}
				if len(outcome) != 1 || outcome[0] != "validate ok" {
					t.Errorf("outcomes %v, want [validate ok]", outcome)
				}
				return
			}
			if out.Reason != "vendor call failed (see log)" {
				t.Errorf("reason %q", out.Reason)
			}
			if n := e.Stats().VendorErrors.Load() - before; n != 1 {
				t.Errorf("counted %d vendor errors, want 1", n)
			}
			if len(outcome) != 1 || outcome[0] != "validate error" {
				t.Errorf("outcomes %v, want [validate error]", outcome)
			}
			if !strings.Contains(log, `"msg":"vendor call failed"`) || !strings.Contains(log, `"kind":"`+c.kind+`"`) {
				t.Errorf("log does not say vendor call failed, kind %s:\n%s", c.kind, log)
			}
			if strings.Contains(log, "maintenance") || strings.Contains(log, "SUCC") {
				t.Errorf("the body reached the log:\n%s", log)
			}
		})
	}
	// A status outside expectedStatus is still that, whatever its body.
	v.answer(503, "text/html", "<html>down</html>")
	before := e.Stats().UnexpectedStatus.Load()
	if out, _ := e.Validate(context.Background(), req("totp", "", "1")); out.Status != provider.StatusFailed ||
		e.Stats().UnexpectedStatus.Load() != before+1 {
		t.Errorf("503 with HTML: %+v, unexpected statuses %d", out, e.Stats().UnexpectedStatus.Load()-before)
	}
}

// Enrollments from a vendor that answers an HTML page are none, the call logged and counted;
// a lifecycle step so answered fails its propagation, naming the kind.
func TestHTMLBodyEnrollmentsAndLifecycle(t *testing.T) {
	v := newTypedVendor(t)
	v.answer(200, "text/html", "<html>login</html>")
	e, logs, obs := newLoggedEngine(t, &Webhook{URLs: []string{v.srv.URL}, Resources: map[string]Resource{
		"enrollments": {Suffix: "/e", Transform: Transform{Incoming: `{"body": type(body) == string ? [{"id": "x", "capability": "totp"}] : []}`}},
	}, Lifecycle: map[string][]LifecycleStep{
		"user.delete": {{Name: "del", Resource: Resource{Suffix: "/u", Method: "DELETE"}}},
	}})
	list, err := e.Enrollments(context.Background(), "alice")
	if err != nil || len(list) != 0 {
		t.Errorf("enrollments: %+v %v, want none", list, err)
	}
	if !strings.Contains(logs.String(), `"kind":"html"`) {
		t.Errorf("log:\n%s", logs.String())
	}
	err = e.Propagate(context.Background(), provider.LifecycleEvent{ID: "1", Type: "user.delete", Username: "alice"})
	if err == nil || !strings.Contains(err.Error(), "html") {
		t.Errorf("propagation: %v, want an html failure", err)
	}
	if got := obs.list(); len(got) != 2 || got[0] != "enrollments error" || got[1] != "lifecycle:user.delete:del error" {
		t.Errorf("outcomes %v", got)
	}
	if n := e.Stats().VendorErrors.Load(); n != 2 {
		t.Errorf("vendor errors %d, want 2", n)
	}
}

// A path an outgoing transform builds from a value it was given cannot climb out of the
// segment the value was put in: a dot segment ("." or "..", percent-encoded too) is
// refused before any request leaves, logged and counted as a transform error.
// pathSegment(value) refuses a value that is not one segment (a slash in it, say).
func TestBuiltPathDotSegments(t *testing.T) {
	v := newTypedVendor(t)
	v.answer(200, "application/json", `{"devices": [{"id": "d1", "capability": "totp"}]}`)
	e, logs, obs := newLoggedEngine(t, &Webhook{URLs: []string{v.srv.URL + "/v1"}, Resources: map[string]Resource{
		"enrollments": {Suffix: "/users", Method: "GET", Transform: Transform{
			Outgoing: `{"path": path + "/" + body.username + "/enrollments"}`,
			Incoming: `{"body": body.devices}`}},
		"validate": {Suffix: "/users", Transform: Transform{
			Outgoing: `{"path": path + "/" + pathSegment(body.attributes.username) + "/check"}`,
			Incoming: `{"body": {"status": "SUCCESS"}}`}},
	}})
	for _, c := range []struct {
		username string
		refused  bool
		wantPath string // as the vendor decoded it
		wantURI  string // as sent, when it says more
	}{
		{username: "bob/../alice", refused: true},
		{username: "..", refused: true},
		{username: ".", refused: true},
		{username: "bob/./alice", refused: true},
		{username: "bob/%2e%2e/alice", refused: true},
		{username: "bob/%2E./alice", refused: true},
		{username: "bob%2f..%2falice", refused: true},
		{username: "bob/%252e%252e/alice", refused: true},
		{username: `bob\..\alice`, refused: true},
		{username: "alice", wantPath: "/v1/users/alice/enrollments"},
		{username: "bob.smith", wantPath: "/v1/users/bob.smith/enrollments"},
		{username: "...", wantPath: "/v1/users/.../enrollments"},
		{username: "a..b", wantPath: "/v1/users/a..b/enrollments"},
		{username: "a b?c#d%", wantPath: "/v1/users/a b?c#d%/enrollments", wantURI: "/v1/users/a%20b%3Fc%23d%25/enrollments"},
	} {
		t.Run(c.username, func(t *testing.T) {
			before, errs, logged := len(obs.list()), e.Stats().TransformErrors.Load(), len(logs.String())
			calls, _ := v.calls()
			list, err := e.Enrollments(context.Background(), c.username)
			if err != nil {
				t.Fatal(err)
			}
			paths, uris := v.calls()
			if c.refused {
				if len(paths) != len(calls) {
					t.Fatalf("the vendor was asked for %s", paths[len(paths)-1])
				}
				if len(list) != 0 {
					t.Errorf("enrollments %+v", list)
				}
				if got := obs.list()[before:]; len(got) != 1 || got[0] != "enrollments transform_error" {
					t.Errorf("outcomes %v", got)
				}
				if e.Stats().TransformErrors.Load() != errs+1 {
					t.Error("not counted as a transform error")
				}
				if log := logs.String()[logged:]; !strings.Contains(log, "dot segment") {
					t.Errorf("log does not say why:\n%s", log)
				}
				return
			}
			if len(paths) != len(calls)+1 || paths[len(paths)-1] != c.wantPath || len(list) != 1 {
				t.Fatalf("paths %v, enrollments %+v; want %s", paths[len(calls):], list, c.wantPath)
			}
			if c.wantURI != "" && uris[len(uris)-1] != c.wantURI {
				t.Errorf("sent %s, want %s", uris[len(uris)-1], c.wantURI)
			}
		})
	}

	for _, c := range []struct {
		username string
		refused  bool
	}{
		{"bob/../alice", true},
		{"bob/alice", true},
		{`bob\alice`, true},
		{"bob%2Falice", true},
		{"..", true},
		{"%2e", true},
		{"", true},
		{"alice", false},
		{"bob.smith@example.com", false},
	} {
		t.Run("pathSegment "+c.username, func(t *testing.T) {
			calls, _ := v.calls()
			logged := len(logs.String())
			r := req("totp", "", "1")
			r.Username, r.Attributes["username"] = c.username, c.username
			out, err := e.Validate(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			paths, _ := v.calls()
			if !c.refused {
				if out.Status != provider.StatusSuccess || paths[len(paths)-1] != "/v1/users/"+c.username+"/check" {
					t.Errorf("%+v; paths %v", out, paths[len(calls):])
				}
				return
			}
			if out.Status != provider.StatusFailed || len(paths) != len(calls) {
				t.Errorf("%+v; the vendor was asked for %v", out, paths[len(calls):])
			}
			if out.Reason != "transform failed (see log)" {
				t.Errorf("reason %q", out.Reason)
			}
			log := logs.String()[logged:]
			if !strings.Contains(log, "not one path segment") {
				t.Errorf("log does not say why:\n%s", log)
			}
			if len(c.username) > 3 && strings.Contains(log, c.username) { // not "..", which the message has
				t.Errorf("the value reached the log:\n%s", log)
			}
		})
	}
}

// A lifecycle step's built path is held to the same rule.
func TestLifecyclePathDotSegments(t *testing.T) {
	v := newTypedVendor(t)
	e := newEngine(t, &Webhook{URLs: []string{v.srv.URL}, Lifecycle: map[string][]LifecycleStep{
		"user.delete": {{Name: "del", Resource: Resource{Method: "DELETE", Transform: Transform{
			Outgoing: `{"path": "/u/" + event.username}`}}}},
	}})
	err := e.Propagate(context.Background(), provider.LifecycleEvent{ID: "1", Type: "user.delete", Username: "../admin"})
	if err == nil || !strings.Contains(err.Error(), "dot segment") {
		t.Errorf("propagation: %v, want a dot segment refused", err)
	}
	if paths, _ := v.calls(); len(paths) != 0 {
		t.Errorf("the vendor was asked for %v", paths)
	}
}

// An outgoing transform's result key that the dialect does not have is an error: at load
// (emfa check) when the result is a map literal, or a conditional of map literals; else
// when the transform runs, which then answers FAILED without calling the vendor.
func TestOutgoingUnknownKeys(t *testing.T) {
	t.Run("at load", func(t *testing.T) {
		w := &Webhook{URLs: []string{"https://vendor.example"}, Resources: map[string]Resource{
			"validate":    {Transform: Transform{Outgoing: `{"quer": {"a": "b"}, "body": "x"}`}},
			"initiate":    {Transform: Transform{Outgoing: `body.id == "" ? {"method": "GET"} : {"methd": "PUT"}`}},
			"enrollments": {Transform: Transform{Outgoing: `{"body": {"quer": 1}, "query": {"skip": "1"}, "skip_authentication": true}`}},
		}, Lifecycle: map[string][]LifecycleStep{
			"user.delete": {
				{Name: "a", Resource: Resource{Transform: Transform{Outgoing: `{"skip": true, "path": "/x"}`}}},
				{Name: "b", Resource: Resource{Transform: Transform{Outgoing: `{"skipp": true}`}}},
			},
		}}
		_, err := Check(w)
		if err == nil {
			t.Fatal("no error")
		}
		msg := err.Error()
		for _, want := range []string{
			`resources.validate.transform.outgoing: 1:2: unknown key "quer" in the outgoing transform's result; want one of body, header, method, path, query, skip_authentication, title_case_bearer`,
			`resources.initiate.transform.outgoing: 1:38: unknown key "methd"`,
			`lifecycle.user.delete[1].transform.outgoing: 1:2: unknown key "skipp" in the outgoing transform's result; want one of body, header, method, path, query, skip, skip_authentication, title_case_bearer`,
		} {
			if !strings.Contains(msg, want) {
				t.Errorf("missing %q in:\n%s", want, msg)
			}
		}
		for _, not := range []string{"enrollments", "user.delete[0]"} {
			if strings.Contains(msg, not) {
				t.Errorf("%s refused:\n%s", not, msg)
			}
		}
	})
	t.Run("at run time", func(t *testing.T) {
		v := newTypedVendor(t)
		e, logs, obs := newLoggedEngine(t, &Webhook{URLs: []string{v.srv.URL}, Resources: map[string]Resource{
			"validate": {Suffix: "/v", Transform: Transform{Outgoing: `{"query": {"a": "b"}}.put("quer", {"c": "d"})`}},
		}, Lifecycle: map[string][]LifecycleStep{
			"user.delete": {{Name: "del", Resource: Resource{Transform: Transform{Outgoing: `{"path": "/u"}.put("skip", false)`}}}},
		}})
		out, err := e.Validate(context.Background(), req("totp", "", "1"))
		if err != nil || out.Status != provider.StatusFailed || out.Reason != "transform failed (see log)" {
			t.Fatalf("validate: %+v %v", out, err)
		}
		if paths, _ := v.calls(); len(paths) != 0 {
			t.Errorf("the vendor was asked for %v", paths)
		}
		if got := obs.list(); len(got) != 1 || got[0] != "validate transform_error" {
			t.Errorf("outcomes %v", got)
		}
		if want := `unknown key \"quer\" in the outgoing transform's result; want one of body, header, method, path, query, skip_authentication, title_case_bearer`; !strings.Contains(logs.String(), want) {
			t.Errorf("log does not say %s:\n%s", want, logs.String())
		}
		// skip is a lifecycle key.
		if err := e.Propagate(context.Background(), provider.LifecycleEvent{ID: "1", Type: "user.delete", Username: "alice"}); err != nil {
			t.Errorf("lifecycle skip false: %v", err)
		}
	})
}

// A transform that fails is audited as that, not as the vendor's failure: the vendor may
// well have answered. Over its cost limit, or reading a key the answer lacks.
func TestTransformFailureReason(t *testing.T) {
	v := newTypedVendor(t)
	list := strings.TrimSuffix(strings.Repeat("1,", 1100), ",")
	v.answer(200, "application/json", fmt.Sprintf(`{"list": [%s]}`, list))
	e, logs, _ := newLoggedEngine(t, &Webhook{URLs: []string{v.srv.URL}, Resources: map[string]Resource{
		"validate": {Suffix: "/v", Transform: Transform{
			Incoming: `{"body": {"status": size(body.list.map(x, body.list.map(y, x + y))) > 0 ? "SUCCESS" : "FAILED"}}`}},
		"initiate": {Suffix: "/i", Transform: Transform{Incoming: `{"body": {"status": body.nope}}`}},
		// A computed key: a literal map without body is refused at load.
		"test": {Suffix: "/t", Transform: Transform{Incoming: `{"an" + "swer": "x"}`}},
	}})
	ctx := context.Background()
	for _, c := range []struct {
		name string
		call func() (provider.Outcome, error)
		log  string
	}{
		{"cost limit", func() (provider.Outcome, error) { return e.Validate(ctx, req("totp", "", "1")) }, "cost limit"},
		{"missing key", func() (provider.Outcome, error) { return e.Initiate(ctx, req("push", "", "")) }, "transform failed"},
		{"no body", func() (provider.Outcome, error) { return e.Test(ctx) }, "incoming transform returned no body"},
	} {
		t.Run(c.name, func(t *testing.T) {
			logged := len(logs.String())
			out, err := c.call()
			if err != nil || out.Status != provider.StatusFailed {
				t.Fatalf("%+v %v", out, err)
			}
			if out.Reason != "transform failed (see log)" {
				t.Errorf("reason %q, want transform failed (see log)", out.Reason)
			}
			if log := logs.String()[logged:]; !strings.Contains(log, c.log) {
				t.Errorf("log does not say %s:\n%s", c.log, log)
			}
		})
	}
}
