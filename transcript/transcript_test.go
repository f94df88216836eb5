package transcript

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMatch(t *testing.T) {
	cases := []struct {
		name      string
		want, got any
		wantPath  string // "" when it must match
	}{
		{"exact", map[string]any{"status": "SUCCESS"}, map[string]any{"status": "SUCCESS"}, ""},
		{"wrong value", map[string]any{"status": "SUCCESS"}, map[string]any{"status": "FAILED"}, "body.status"},
		{"missing field", map[string]any{"status": "PENDING", "transactionId": MatchAny}, map[string]any{"status": "PENDING"}, "body.transactionId"},
		{"unexpected field", map[string]any{"status": "FAILED"}, map[string]any{"status": "FAILED", "transactionId": "x"}, "body.transactionId"},
		{"absent ok", map[string]any{"status": "FAILED", "transactionId": MatchAbsent}, map[string]any{"status": "FAILED"}, ""},
		{"absent violated", map[string]any{"transactionId": MatchAbsent}, map[string]any{"transactionId": "x"}, "body.transactionId"},
		{"any", MatchAny, "abc", ""},
		{"any empty", MatchAny, "", "body"},
		{"regexp", "<re:^[a-z0-9]{26}$>", "jfw7ok7g6ow73s3knahgrwy4xu", ""},
		{"regexp no", "<re:^[a-z]+$>", "ABC", "body"},
		{"list length", []any{"a"}, []any{"a", "b"}, "body"},
		{"list element", []any{map[string]any{"id": "a"}}, []any{map[string]any{"id": "b"}}, "body[0].id"},
		{"numbers", map[string]any{"n": 7}, map[string]any{"n": json.Number("7")}, ""},
		{"number vs string", map[string]any{"n": 7}, map[string]any{"n": "7"}, "body.n"},
		// Above 2^53 two ids differ though their float64s are one.
		{"big ids", map[string]any{"n": 9007199254740993}, map[string]any{"n": json.Number("9007199254740992")}, "body.n"},
		{"big ids alike", map[string]any{"n": 9007199254740993}, map[string]any{"n": json.Number("9007199254740993")}, ""},
		{"whole number as a fraction", map[string]any{"n": 7}, map[string]any{"n": json.Number("7.0")}, ""},
		{"fractions", map[string]any{"n": 0.1}, map[string]any{"n": json.Number("0.1")}, ""},
		{"bool", true, true, ""},
		{"null", nil, nil, ""},
		{"object vs string", map[string]any{}, "x", "body"},
	}
	for _, c := range cases {
		sc := &scope{vars: map[string]string{}}
		m := sc.match("body", c.want, c.got)
		switch {
		case c.wantPath == "" && m != nil:
			t.Errorf("%s: unexpected mismatch %s", c.name, m)
		case c.wantPath != "" && m == nil:
			t.Errorf("%s: matched, want a mismatch at %s", c.name, c.wantPath)
		case c.wantPath != "" && m.Path != c.wantPath:
			t.Errorf("%s: mismatch at %s, want %s", c.name, m.Path, c.wantPath)
		}
	}
	sc := &scope{vars: map[string]string{}}
	if m := sc.match("body", map[string]any{"transactionId": "<capture:tx>"}, map[string]any{"transactionId": "abc"}); m != nil || sc.vars["tx"] != "abc" {
		t.Errorf("capture: %v %v", m, sc.vars)
	}
}

type clockEnv struct{ now time.Time }

func (e clockEnv) URL() string                                  { return "" }
func (e clockEnv) Provider() string                             { return "p" }
func (e clockEnv) Authorize(*http.Request, string)              {}
func (e clockEnv) Now() time.Time                               { return e.now }
func (e clockEnv) Advance(time.Duration) error                  { return ErrNotInProcess }
func (e clockEnv) Setup(context.Context, Setup) (string, error) { return "", ErrNotInProcess }
func (e clockEnv) Sent(to string) (string, error)               { return "123456", nil }
func (e clockEnv) Device(context.Context, DeviceAction) error   { return ErrNotInProcess }

func TestExpand(t *testing.T) {
	sc := &scope{vars: map[string]string{"tx": "abc"}, env: clockEnv{now: time.Unix(59, 0)}}
	for in, want := range map[string]string{
		"${tx}":      "abc",
		"id-${tx}-x": "id-abc-x",
		// RFC 6238 at 59 s, 8 digits: 94287082.
		"${totp(GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ, 8)}": "94287082",
		// RFC 4226 counter 1: 287082.
		"${hotp(GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ, 1)}": "287082",
		"${sent(+15550100)}":                           "123456",
	} {
		got, err := sc.expand(in)
		if err != nil || got != want {
			t.Errorf("expand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"${nope}", "${totp()}", "${frob(x)}", "${hotp(GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ, x)}"} {
		if _, err := sc.expand(bad); err == nil {
			t.Errorf("expand(%q): want an error", bad)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for src, want := range map[string]string{
		"name: x\nsteps: [{advance: 1m}]":                                 "exactly one of config and configFile",
		"name: x\nconfig: c\nsteps: []":                                   "at least one step",
		"name: x\nconfig: c\nsteps: [{advance: 1m, call: {resource: r}}]": "exactly one of call, advance, device",
		"name: x\nconfig: c\nsteps: [{advance: soon}]":                    "want a duration like 30s or 3m",
		"name: x\nconfig: c\nsteps: [{cal: {resource: r}}]":               `unknown key "cal" (did you mean "call"?)`,
	} {
		if _, err := Parse([]byte(src)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q): %v, want %q", src, err, want)
		}
	}
}

// stubEnv is an "emfa" that answers from a function and may call the vendor.
type stubEnv struct {
	clockEnv
	url string
}

func (e stubEnv) URL() string { return e.url }

func TestRunReportsVendorAndAnswerMismatches(t *testing.T) {
	src := `
name: vendor round trip
config: "irrelevant"
steps:
  - name: initiate
    call: {resource: initiate, body: {capability: push, id: d1, attributes: {username: alice}}}
    vendor:
      - request:
          method: POST
          path: /auth
          form: {username: alice, factor: push}
          headers: {Authorization: <any>}
        response: {body: {txid: "t-1"}}
    expect: {body: {status: PENDING, transactionId: "<capture:tx>"}}
  - name: result
    call: {resource: result, body: {transactionId: "${tx}"}}
    expect: {body: {status: SUCCESS}}
`
	tr, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	run := func(form string, answer string) error {
		return Run(context.Background(), tr, func(ctx context.Context, _ *Transcript, vendorURL string) (Env, func(), error) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if strings.HasSuffix(r.URL.Path, "/initiate") {
					req, _ := http.NewRequest("POST", vendorURL+"/auth", strings.NewReader(form))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("Authorization", "Basic x")
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					var v struct{ Txid string }
					json.NewDecoder(resp.Body).Decode(&v)
					resp.Body.Close()
					io.WriteString(w, `{"status":"PENDING","transactionId":"`+v.Txid+`"}`)
					return
				}
				if !strings.Contains(string(body), `"t-1"`) {
					t.Errorf("captured transactionId not reused: %s", body)
				}
				io.WriteString(w, answer)
			}))
			return stubEnv{url: srv.URL}, srv.Close, nil
		})
	}
	if err := run("factor=push&username=alice", `{"status":"SUCCESS"}`); err != nil {
		t.Errorf("matching run: %v", err)
	}
	err = run("factor=sms&username=alice", `{"status":"SUCCESS"}`)
	var se *StepError
	if !errors.As(err, &se) || se.Step != 1 || se.Mismatch == nil || se.Mismatch.Path != "vendor[0].request.form.factor" {
		t.Errorf("vendor mismatch: %v", err)
	}
	err = run("factor=push&username=alice", `{"status":"FAILED"}`)
	if !errors.As(err, &se) || se.Step != 2 || se.Mismatch.Path != "body.status" ||
		err.Error() != `step 2 (result): body.status: want "SUCCESS", got "FAILED"` {
		t.Errorf("answer mismatch: %v", err)
	}
}

// vendorCall is the vendor request a stub emfa makes while serving a call.
type vendorCall struct {
	method, target, contentType, body string
	header                            map[string]string
}

// runOneExchange replays a one-step transcript whose step lists the vendor request
// written as YAML (a flow mapping), against a stub emfa that sends call to the vendor and
// answers SUCCESS.
func runOneExchange(t *testing.T, request string, call vendorCall) error {
	t.Helper()
	src := `
name: one vendor exchange
config: "irrelevant"
steps:
  - name: the exchange
    call: {resource: initiate, body: {capability: push, id: d1, attributes: {username: alice}}}
    vendor:
      - request: ` + request + `
        response: {body: {stat: OK}}
    expect: {body: {status: SUCCESS}}
`
	tr, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return Run(context.Background(), tr, func(ctx context.Context, _ *Transcript, vendorURL string) (Env, func(), error) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var body io.Reader
			if call.body != "" {
				body = strings.NewReader(call.body)
			}
			req, _ := http.NewRequest(call.method, vendorURL+call.target, body)
			if call.contentType != "" {
				req.Header.Set("Content-Type", call.contentType)
			}
			for k, v := range call.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			status := "SUCCESS"
			if resp.StatusCode != http.StatusOK {
				status = "FAILED"
			}
			io.WriteString(w, `{"status":"`+status+`"}`)
		}))
		return stubEnv{url: srv.URL}, srv.Close, nil
	})
}

// A vendor request that gains a query parameter or a body the transcript does not have
// fails the replay, naming the step and the difference — and so does one that loses them.
func TestRunVendorRequestIsStrict(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	get := vendorCall{method: "GET", target: "/auth/v2/auth_status?txid=t-1"}
	post := vendorCall{method: "POST", target: "/auth/v2/auth", contentType: form, body: "factor=push&username=alice"}
	check := vendorCall{method: "GET", target: "/auth/v2/check"}
	with := func(c vendorCall, edit func(*vendorCall)) vendorCall { edit(&c); return c }
	for _, tc := range []struct {
		name, request string
		call          vendorCall
		wantErr       string // "" when it must pass
	}{
		{"same query", `{method: GET, path: /auth/v2/auth_status, query: {txid: t-1}}`, get, ""},
		{"an extra query parameter", `{method: GET, path: /auth/v2/auth_status, query: {txid: t-1}}`,
			with(get, func(c *vendorCall) { c.target += "&debug=1" }),
			`step 1 (the exchange): vendor[0].request.query.debug: want no such field, got "1"`},
		{"a query where the transcript has none", `{method: GET, path: /auth/v2/check}`,
			with(check, func(c *vendorCall) { c.target += "?debug=1" }),
			`step 1 (the exchange): vendor[0].request.query: want no query (the transcript has none), got {"debug":"1"}`},
		{"no query where the transcript has one", `{method: GET, path: /auth/v2/auth_status, query: {txid: t-1}}`,
			with(get, func(c *vendorCall) { c.target = "/auth/v2/auth_status" }),
			`step 1 (the exchange): vendor[0].request.query.txid: want "t-1", got nothing (field missing)`},
		{"same form", `{method: POST, path: /auth/v2/auth, form: {factor: push, username: alice}}`, post, ""},
		{"an extra form field", `{method: POST, path: /auth/v2/auth, form: {factor: push, username: alice}}`,
			with(post, func(c *vendorCall) { c.body += "&debug=1" }),
			`step 1 (the exchange): vendor[0].request.form.debug: want no such field, got "1"`},
		{"a body where the transcript has none", `{method: GET, path: /auth/v2/check}`,
			with(check, func(c *vendorCall) { c.contentType, c.body = "application/json", `{"debug":true}` }),
			`step 1 (the exchange): vendor[0].request.body: want no body (the transcript has none), got {"debug":true}`},
		{"a form where the transcript has none", `{method: POST, path: /auth/v2/auth}`, post,
			`step 1 (the exchange): vendor[0].request.body: want no body (the transcript has none), got "factor=push&username=alice"`},
		{"no body where the transcript has a form", `{method: POST, path: /auth/v2/auth, form: {factor: push, username: alice}}`,
			with(post, func(c *vendorCall) { c.body = "" }),
			`step 1 (the exchange): vendor[0].request.body: want {"factor":"push","username":"alice"}, got no body`},
		{"no body where the transcript has one", `{method: POST, path: /v1/push, body: {user: alice}}`,
			vendorCall{method: "POST", target: "/v1/push"},
			`step 1 (the exchange): vendor[0].request.body: want {"user":"alice"}, got no body`},
		{"a JSON body with an extra field", `{method: POST, path: /v1/push, body: {user: alice}}`,
			vendorCall{method: "POST", target: "/v1/push", contentType: "application/json", body: `{"user":"alice","debug":true}`},
			`step 1 (the exchange): vendor[0].request.body.debug: want no such field, got true`},
		{"any body", `{method: POST, path: /v1/push, body: <any>}`,
			vendorCall{method: "POST", target: "/v1/push", contentType: "text/plain", body: "anything"}, ""},
		{"any body, even JSON null", `{method: POST, path: /v1/push, body: <any>}`,
			vendorCall{method: "POST", target: "/v1/push", contentType: "application/json", body: "null"}, ""},
		{"any body, none sent", `{method: POST, path: /v1/push, body: <any>}`,
			vendorCall{method: "POST", target: "/v1/push"},
			`step 1 (the exchange): vendor[0].request.body: want "<any>", got no body`},
		{"body absent, none sent", `{method: GET, path: /auth/v2/check, body: <absent>}`, check, ""},
		{"body absent, one sent", `{method: POST, path: /v1/push, body: <absent>}`,
			vendorCall{method: "POST", target: "/v1/push", contentType: "text/plain", body: "x"},
			`step 1 (the exchange): vendor[0].request.body: want no body (the transcript has none), got "x"`},
		// Signatures and the Date they sign vary per run: <any> and <re:…> still match them.
		{"varying headers", `{method: GET, path: /auth/v2/check, headers: {Authorization: <any>, Date: "<re:^\\d\\d \\w{3}>"}}`,
			with(check, func(c *vendorCall) {
				c.header = map[string]string{"Authorization": "Basic c2lnbmVk", "Date": "01 Jan 26 00:00 +0000"}
			}), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := runOneExchange(t, tc.request, tc.call)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("want a pass, got %v", err)
			case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr):
				t.Errorf("got  %v\nwant %s", err, tc.wantErr)
			}
		})
	}
}

// <absent> as a header's value: the header must not be sent. It passes exactly when the
// header is not there, for a vendor request and for emfa's answer alike.
func TestRunAbsentHeader(t *testing.T) {
	check := vendorCall{method: "GET", target: "/auth/v2/check"}
	const request = `{method: GET, path: /auth/v2/check, headers: {X-Debug: <absent>}}`
	if err := runOneExchange(t, request, check); err != nil {
		t.Errorf("header not sent: %v", err)
	}
	check.header = map[string]string{"X-Debug": "1"}
	if err := runOneExchange(t, request, check); err == nil ||
		err.Error() != `step 1 (the exchange): vendor[0].request.headers.X-Debug: want no such header, got "1"` {
		t.Errorf("header sent: %v", err)
	}
	check.header = map[string]string{"X-Debug": ""} // sent, if empty
	if err := runOneExchange(t, request, check); err == nil {
		t.Error("an empty header sent: want a mismatch")
	}

	answer := func(header string) error {
		tr, err := Parse([]byte(`
name: answer headers
config: "irrelevant"
steps:
  - call: {resource: test, method: GET}
    expect: {headers: {X-Debug: <absent>, Content-Type: application/json}, body: {status: SUCCESS}}
`))
		if err != nil {
			t.Fatal(err)
		}
		return Run(context.Background(), tr, func(context.Context, *Transcript, string) (Env, func(), error) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if header != "" {
					w.Header().Set("X-Debug", header)
				}
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"status":"SUCCESS"}`)
			}))
			return stubEnv{url: srv.URL}, srv.Close, nil
		})
	}
	if err := answer(""); err != nil {
		t.Errorf("answer without the header: %v", err)
	}
	if err := answer("1"); err == nil || err.Error() != `step 1: headers.X-Debug: want no such header, got "1"` {
		t.Errorf("answer with the header: %v", err)
	}
}
