package duofake_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/internal/duofake"
)

const (
	ikey = "DIWJ8X6AEYOR5OMC6TQ1"
	skey = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"
	// ibmLayout is the Date layout IBM's DUO webhook signs with.
	ibmLayout = "02 Jan 06 15:04 -0700"
)

// now is the fake's fixed clock, so Date checks never depend on wall time.
var now = time.Date(2026, 3, 10, 9, 41, 27, 0, time.UTC)

var phone = duofake.Device{
	ID: "DPFZRS9FB0D46QFTM891", Type: "phone", Name: "iPhone", Number: "XXX-XXX-0100",
	Capabilities: []string{"auto", "push", "sms", "phone", "mobile_otp"},
}

func newFake(t *testing.T) *duofake.Server {
	t.Helper()
	s := duofake.New(t, duofake.Options{
		IntegrationKey: ikey,
		SecretKey:      skey,
		Clock:          func() time.Time { return now },
	})
	s.AddUser("alice", phone)
	return s
}

// canonParams is written from DUO's official Go client, independently of the fake: values
// sorted, url.Values.Encode (keys sorted), + turned into %20.
func canonParams(params url.Values) string {
	sorted := url.Values{}
	for k, v := range params {
		sorted[k] = slices.Sorted(slices.Values(v))
	}
	return strings.ReplaceAll(sorted.Encode(), "+", "%20")
}

// sign returns the Authorization header value for DUO's v2 canonical string.
func sign(ikey, skey, date, method, host, path, params string) string {
	canon := strings.Join([]string{date, strings.ToUpper(method), strings.ToLower(host), path, params}, "\n")
	mac := hmac.New(sha1.New, []byte(skey))
	mac.Write([]byte(canon))
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(ikey+":"+hex.EncodeToString(mac.Sum(nil))))
}

// call is one request; zero knobs mean "sign correctly".
type call struct {
	method, path string
	params       url.Values

	ikey, skey  string
	date        string // default: now in IBM's layout
	noDate      bool
	noAuth      bool
	signMethod  string     // default: method
	signHost    string     // default: the fake's Host
	signParams  url.Values // default: params
	signRaw     string     // overrides the signed parameter line verbatim
	contentType string     // default for POST: the form type
	rawBody     string     // overrides the encoded form body
}

func (c call) request(ctx context.Context, s *duofake.Server) *http.Request {
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	date := or(c.date, now.Format(ibmLayout))
	target := s.URL() + c.path
	var body io.Reader
	if c.method == http.MethodGet {
		if len(c.params) > 0 {
			target += "?" + c.params.Encode()
		}
	} else {
		body = strings.NewReader(or(c.rawBody, strings.ReplaceAll(c.params.Encode(), "+", "%20")))
	}
	req, err := http.NewRequestWithContext(ctx, c.method, target, body)
	if err != nil {
		panic(err)
	}
	if c.method != http.MethodGet {
		req.Header.Set("Content-Type", or(c.contentType, "application/x-www-form-urlencoded"))
	}
	if !c.noDate {
		req.Header.Set("Date", date)
	}
	signParams := c.params
	if c.signParams != nil {
		signParams = c.signParams
	}
	if !c.noAuth {
		req.Header.Set("Authorization", sign(or(c.ikey, ikey), or(c.skey, skey), date,
			or(c.signMethod, c.method), or(c.signHost, s.Host()), c.path, or(c.signRaw, canonParams(signParams))))
	}
	return req
}

// do sends c and decodes the JSON answer.
func do(t *testing.T, s *duofake.Server, c call) (int, map[string]any) {
	t.Helper()
	resp, err := s.Client().Do(c.request(t.Context(), s))
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", c.method, c.path, ct)
	}
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatalf("%s %s: decode: %v", c.method, c.path, err)
	}
	return resp.StatusCode, got
}

func post(path string, kv ...string) call {
	return call{method: http.MethodPost, path: path, params: values(kv...)}
}

func get(path string, kv ...string) call {
	return call{method: http.MethodGet, path: path, params: values(kv...)}
}

func values(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// okResponse sends c and returns the "response" object of its OK answer.
func okResponse(t *testing.T, s *duofake.Server, c call) map[string]any {
	t.Helper()
	status, body := do(t, s, c)
	if status != http.StatusOK || body["stat"] != "OK" {
		t.Fatalf("answer %d %v, want 200 stat OK", status, body)
	}
	r, _ := body["response"].(map[string]any)
	return r
}

func startPush(t *testing.T, s *duofake.Server, factor string) string {
	t.Helper()
	r := okResponse(t, s, post("/auth/v2/auth",
		"username", "alice", "factor", factor, "device", phone.ID, "async", "1"))
	txid, _ := r["txid"].(string)
	if txid == "" {
		t.Fatalf("auth answered %v, want a txid", r)
	}
	return txid
}

func poll(t *testing.T, s *duofake.Server, txid string) map[string]any {
	t.Helper()
	return okResponse(t, s, get("/auth/v2/auth_status", "txid", txid))
}

func TestSignedCallsAccepted(t *testing.T) {
	t.Parallel()
	layouts := map[string]string{
		"ibm":      ibmLayout,
		"rfc1123z": time.RFC1123Z,
		"utc zone": "Mon, 02 Jan 2006 15:04:05 -0000",
	}
	for name, layout := range layouts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newFake(t)
			s.SetPasscode("alice", "123456")
			date := now.Add(-90 * time.Second).Format(layout)
			calls := []call{
				get("/auth/v2/check"),
				post("/auth/v2/preauth", "username", "alice"),
				// Every encoding class: unreserved, space, reserved, quote, multi-byte UTF-8.
				post("/auth/v2/preauth", "username", "o'neil+test@example.com ~é/ü*_.-", "b", "2", "a", "1", "a", "0"),
				post("/auth/v2/auth", "username", "alice", "factor", "passcode", "passcode", "123456"),
				post("/auth/v2/auth", "username", "alice", "factor", "push", "device", "auto", "async", "1"),
			}
			for _, c := range calls {
				c.date = date
				okResponse(t, s, c)
			}
			txid := startPush(t, s, "push")
			c := get("/auth/v2/auth_status", "txid", txid)
			c.date = date
			okResponse(t, s, c)
		})
	}
}

func TestCheckTime(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	r := okResponse(t, s, get("/auth/v2/check"))
	if got, want := r["time"], float64(now.Unix()); got != want {
		t.Errorf("time = %v, want %v", got, want)
	}
}

func TestRejected(t *testing.T) {
	t.Parallel()
	preauth := func(mod func(*call)) call {
		c := post("/auth/v2/preauth", "username", "alice")
		mod(&c)
		return c
	}
	tests := []struct {
		name       string
		call       call
		wantStatus int
		wantCode   float64
	}{
		{"wrong integration key", preauth(func(c *call) { c.ikey = "DIXXXXXXXXXXXXXXXXXX" }), 401, 40102},
		{"wrong secret key", preauth(func(c *call) { c.skey = "not-the-secret" }), 401, 40103},
		{"tampered param", preauth(func(c *call) { c.signParams = values("username", "bob") }), 401, 40103},
		{"missing Date", preauth(func(c *call) { c.noDate = true }), 401, 40101},
		{"unparseable Date", preauth(func(c *call) { c.date = "yesterday" }), 401, 40101},
		{"stale Date", preauth(func(c *call) { c.date = now.Add(-10 * time.Minute).Format(ibmLayout) }), 401, 40101},
		{"future Date", preauth(func(c *call) { c.date = now.Add(10 * time.Minute).Format(time.RFC1123Z) }), 401, 40101},
		{"no Authorization", preauth(func(c *call) { c.noAuth = true }), 401, 40101},
		{"host signed without port", preauth(func(c *call) { c.signHost = "127.0.0.1" }), 401, 40103},
		{"space signed as +", func() call {
			// A form encoder's "+" for a space is fine on the wire but not in the signature.
			c := post("/auth/v2/preauth", "username", "alice smith")
			c.rawBody = "username=alice+smith"
			c.signRaw = "username=alice+smith"
			return c
		}(), 401, 40103},
		{"signed as POST, sent as GET", func() call {
			c := get("/auth/v2/auth_status", "txid", "x")
			c.signMethod = http.MethodPost
			return c
		}(), 401, 40103},
		{"GET query left unsigned", func() call {
			c := get("/auth/v2/check", "extra", "1")
			c.signParams = url.Values{}
			return c
		}(), 401, 40103},
		{"POST without form Content-Type", preauth(func(c *call) { c.contentType = "application/json" }), 400, 40002},
		{"right signature, wrong method", get("/auth/v2/preauth", "username", "alice"), 405, 40501},
		{"unknown path", get("/auth/v2/nope"), 404, 40401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newFake(t)
			status, body := do(t, s, tt.call)
			if status != tt.wantStatus || body["stat"] != "FAIL" || body["code"] != tt.wantCode {
				t.Errorf("answer %d %v, want %d stat FAIL code %v", status, body, tt.wantStatus, tt.wantCode)
			}
			if reqs := s.Requests(); len(reqs) != 1 || reqs[0].Reject == "" || reqs[0].Status != tt.wantStatus {
				t.Errorf("recorded %+v, want one refused request", reqs)
			}
		})
	}
}

func TestMissingParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		call       call
		wantDetail string
	}{
		{"preauth username", post("/auth/v2/preauth"), "username"},
		{"auth username", post("/auth/v2/auth", "factor", "push", "device", "auto"), "username"},
		{"auth factor", post("/auth/v2/auth", "username", "alice"), "factor"},
		{"unknown factor", post("/auth/v2/auth", "username", "alice", "factor", "carrier-pigeon"), "factor"},
		{"unknown user", post("/auth/v2/auth", "username", "mallory", "factor", "passcode", "passcode", "1"), "username"},
		{"passcode", post("/auth/v2/auth", "username", "alice", "factor", "passcode"), "passcode"},
		{"push device", post("/auth/v2/auth", "username", "alice", "factor", "push", "async", "1"), "device"},
		{"foreign device", post("/auth/v2/auth", "username", "alice", "factor", "push", "device", "DOTHER", "async", "1"), "device"},
		{"txid", get("/auth/v2/auth_status"), "txid"},
		{"unknown txid", get("/auth/v2/auth_status", "txid", "00000000-0000-4000-8000-000000000000"), "txid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newFake(t)
			status, body := do(t, s, tt.call)
			want := map[string]any{
				"stat": "FAIL", "code": float64(40002),
				"message": "Invalid request parameters", "message_detail": tt.wantDetail,
			}
			if status != http.StatusBadRequest {
				t.Errorf("status %d, want 400", status)
			}
			if diff := cmp.Diff(want, body); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeviceWithoutCapability(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	s.AddUser("bob", duofake.Device{ID: "DTOKEN", Type: "token", Name: "0"})
	status, body := do(t, s, post("/auth/v2/auth", "username", "bob", "factor", "push", "device", "DTOKEN", "async", "1"))
	if status != http.StatusBadRequest || body["message_detail"] != "device" {
		t.Errorf("answer %d %v, want 400 device", status, body)
	}
}

func TestPreauth(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	token := duofake.Device{ID: "DHEKH0JJIYC1LX3AZWO4", Type: "token", Name: "0"}
	s.AddUser("bob", phone, token)
	s.AddUser("carol")
	s.LockOut("dave")

	tests := []struct {
		username string
		want     map[string]any
	}{
		{"nobody", map[string]any{
			"result": "enroll", "status_msg": "Enroll an authentication device to proceed",
			"enroll_portal_url": s.URL() + "/portal?code=enroll",
		}},
		{"carol", map[string]any{
			"result": "enroll", "status_msg": "Enroll an authentication device to proceed",
			"enroll_portal_url": s.URL() + "/portal?code=enroll",
		}},
		{"dave", map[string]any{"result": "deny", "status_msg": "Your account is disabled."}},
		{"bob", map[string]any{
			"result": "auth", "status_msg": "Account is active",
			"devices": []any{
				map[string]any{
					"device": phone.ID, "type": "phone", "name": "iPhone", "number": "XXX-XXX-0100",
					"capabilities": []any{"auto", "push", "sms", "phone", "mobile_otp"},
				},
				// DUO lists tokens without number or capabilities.
				map[string]any{"device": token.ID, "type": "token", "name": "0"},
			},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.username, func(t *testing.T) {
			got := okResponse(t, s, post("/auth/v2/preauth", "username", tt.username))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("preauth (-want +got):\n%s", diff)
			}
		})
	}
}

func stepMap(st duofake.Step) map[string]any {
	return map[string]any{"result": st.Result, "status": st.Status, "status_msg": st.StatusMsg}
}

func TestPushFlow(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	s.SetPushOutcome("alice", duofake.Waiting, duofake.Waiting, duofake.Allow)
	txid := startPush(t, s, "push")

	want := []duofake.Step{duofake.Waiting, duofake.Waiting, duofake.Allow, duofake.Allow}
	for i, st := range want {
		if diff := cmp.Diff(stepMap(st), poll(t, s, txid)); diff != "" {
			t.Errorf("poll %d (-want +got):\n%s", i, diff)
		}
	}
	if got := s.Polls(txid); got != len(want) {
		t.Errorf("Polls = %d, want %d", got, len(want))
	}
	if got := s.Count("/auth/v2/auth_status"); got != len(want) {
		t.Errorf("Count = %d, want %d", got, len(want))
	}
	// The script was used up: the next push answers the default Allow at once.
	if diff := cmp.Diff(stepMap(duofake.Allow), poll(t, s, startPush(t, s, "push"))); diff != "" {
		t.Errorf("unscripted push (-want +got):\n%s", diff)
	}
}

func TestPushOutcomes(t *testing.T) {
	t.Parallel()
	for _, st := range []duofake.Step{duofake.Deny, duofake.Fraud, duofake.Timeout, duofake.PushFailed} {
		t.Run(st.Status, func(t *testing.T) {
			t.Parallel()
			s := newFake(t)
			s.SetPushOutcome("alice", duofake.Waiting, st)
			txid := startPush(t, s, "push")
			poll(t, s, txid)
			got := poll(t, s, txid)
			if got["result"] != "deny" || got["status"] != st.Status {
				t.Errorf("auth_status = %v, want deny/%s", got, st.Status)
			}
		})
	}
}

func TestQueuedScriptsAndPhone(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	s.SetPushOutcome("alice", duofake.Deny)
	s.SetPushOutcome("alice", duofake.Calling, duofake.Answered, duofake.Allow)
	if got := poll(t, s, startPush(t, s, "push")); got["status"] != "deny" {
		t.Errorf("first transaction = %v, want deny", got)
	}
	txid := startPush(t, s, "phone")
	for _, want := range []string{"calling", "answered", "allow"} {
		if got := poll(t, s, txid); got["status"] != want {
			t.Errorf("phone poll = %v, want status %s", got, want)
		}
	}
}

func TestSynchronousPush(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	s.SetPushOutcome("alice", duofake.Waiting, duofake.Fraud)
	got := okResponse(t, s, post("/auth/v2/auth", "username", "alice", "factor", "push", "device", phone.ID))
	if diff := cmp.Diff(stepMap(duofake.Fraud), got); diff != "" {
		t.Errorf("sync push (-want +got):\n%s", diff)
	}
}

func TestPasscode(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	s.SetPasscode("alice", "123456", "654321")
	tests := []struct {
		passcode, want string
	}{
		{"000000", "deny"},
		{"123456", "allow"},
		{"123456", "deny"}, // single-use
		{"654321", "allow"},
	}
	for _, tt := range tests {
		got := okResponse(t, s, post("/auth/v2/auth", "username", "alice", "factor", "passcode", "passcode", tt.passcode))
		if got["result"] != tt.want || got["status"] != tt.want || got["status_msg"] == "" {
			t.Errorf("passcode %s = %v, want result and status %s", tt.passcode, got, tt.want)
		}
	}
}

func TestSMS(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	txid := startPush(t, s, "sms")
	for range 2 {
		if diff := cmp.Diff(stepMap(duofake.SMSSent), poll(t, s, txid)); diff != "" {
			t.Errorf("auth_status after sms (-want +got):\n%s", diff)
		}
	}
	code, sent := s.SentPasscode("alice")
	if !sent || len(code) != 6 {
		t.Fatalf("SentPasscode = %q, %v", code, sent)
	}
	got := okResponse(t, s, post("/auth/v2/auth", "username", "alice", "factor", "passcode", "passcode", code))
	if got["result"] != "allow" {
		t.Errorf("passcode with the sent code = %v, want allow", got)
	}
}

func TestLockedOut(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	s.SetPasscode("alice", "123456")
	s.LockOut("alice")
	want := stepMap(duofake.LockedOut)
	got := okResponse(t, s, post("/auth/v2/auth", "username", "alice", "factor", "passcode", "passcode", "123456"))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("passcode (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, poll(t, s, startPush(t, s, "push"))); diff != "" {
		t.Errorf("push (-want +got):\n%s", diff)
	}
}

func TestRequestsRecorded(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	do(t, s, post("/auth/v2/preauth", "username", "alice smith"))
	do(t, s, get("/auth/v2/check"))
	reqs := s.Requests()
	if len(reqs) != 2 {
		t.Fatalf("recorded %d requests, want 2", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/auth/v2/preauth" || r.Form.Get("username") != "alice smith" ||
		string(r.Body) != "username=alice%20smith" || r.Header.Get("Date") == "" || r.Status != http.StatusOK {
		t.Errorf("recorded %+v", r)
	}
	// Copies: changing them must not change the fake's record.
	r.Form.Set("username", "x")
	if s.Requests()[0].Form.Get("username") != "alice smith" {
		t.Error("Requests returned shared state")
	}
}

func TestStatusFault(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	s.SetFault("/auth/v2/check", duofake.Status(http.StatusInternalServerError, "<html><body>oops</body></html>").Times(1))
	resp, err := s.Client().Do(get("/auth/v2/check").request(t.Context(), s))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "oops") {
		t.Errorf("fault answered %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	// Times(1): the next call is served normally.
	okResponse(t, s, get("/auth/v2/check"))
}

func TestHangFault(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	s.SetFault("/auth/v2/auth_status", duofake.Hang())
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := s.Client().Do(get("/auth/v2/auth_status", "txid", "x").request(ctx, s))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	waitIdle(t, s)
	if got := s.Count("/auth/v2/auth_status"); got != 1 {
		t.Errorf("Count = %d, want 1", got)
	}
}

func TestHangFaultReleasedOnShutdown(t *testing.T) {
	t.Parallel()
	// A client that never gives up must not keep the fake's Cleanup waiting.
	var done sync.WaitGroup
	t.Run("inner", func(t *testing.T) {
		s := newFake(t)
		s.SetFault("/auth/v2/check", duofake.Hang())
		req := get("/auth/v2/check").request(context.Background(), s)
		client := s.Client()
		done.Go(func() {
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
			}
		})
		// Spin (bounded) until the request is in the handler, so Cleanup meets a hang.
		deadline := time.Now().Add(5 * time.Second)
		for s.Count("/auth/v2/check") == 0 && time.Now().Before(deadline) {
			runtime.Gosched()
		}
	})
	done.Wait()
}

func TestDripFault(t *testing.T) {
	t.Parallel()
	t.Run("client deadline", func(t *testing.T) {
		t.Parallel()
		s := newFake(t)
		s.SetFault("/auth/v2/check", duofake.Drip(time.Hour))
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		resp, err := s.Client().Do(get("/auth/v2/check").request(ctx, s))
		if err != nil {
			t.Fatal(err) // headers arrive at once; the body is what drips
		}
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("read err = %v, want deadline exceeded", err)
		}
		waitIdle(t, s)
	})
	t.Run("patient client gets the real answer", func(t *testing.T) {
		t.Parallel()
		s := newFake(t)
		s.SetFault("/auth/v2/check", duofake.Drip(time.Microsecond))
		okResponse(t, s, get("/auth/v2/check"))
	})
}

func TestTruncateFault(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	s.SetFault("/auth/v2/preauth", duofake.Truncate())
	resp, err := s.Client().Do(post("/auth/v2/preauth", "username", "alice").request(t.Context(), s))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("read %d: %v", resp.StatusCode, err)
	}
	if json.Valid(body) || !strings.HasPrefix(string(body), `{"`) {
		t.Errorf("body %q, want a cut-off JSON object", body)
	}
}

func TestOversizeFault(t *testing.T) {
	t.Parallel()
	const n = 1 << 20
	s := newFake(t)
	s.SetFault("/auth/v2/check", duofake.Oversize(n))
	resp, err := s.Client().Do(get("/auth/v2/check").request(t.Context(), s))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || len(body) != n || !json.Valid(body) {
		t.Errorf("read %d bytes (valid JSON %v): %v; want %d", len(body), json.Valid(body), err, n)
	}

	// A client that stops reading early lets the handler go.
	ctx, cancel := context.WithCancel(t.Context())
	resp, err = s.Client().Do(get("/auth/v2/check").request(ctx, s))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = resp.Body.Read(make([]byte, 10))
	cancel()
	resp.Body.Close()
	waitIdle(t, s)
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := newFake(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			user := "user" + string(rune('a'+i))
			s.AddUser(user, phone)
			s.SetPushOutcome(user, duofake.Waiting, duofake.Allow)
			c := post("/auth/v2/auth", "username", user, "factor", "push", "device", "auto", "async", "1")
			resp, err := s.Client().Do(c.request(t.Context(), s))
			if err != nil {
				t.Error(err)
				return
			}
			var body struct{ Response struct{ Txid string } }
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if err != nil || body.Response.Txid == "" {
				t.Errorf("auth: %v %+v", err, body)
				return
			}
			for range 3 {
				resp, err := s.Client().Do(get("/auth/v2/auth_status", "txid", body.Response.Txid).request(t.Context(), s))
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
			_ = s.Requests()
			_ = s.Polls(body.Response.Txid)
		})
	}
	wg.Wait()
	if got := s.Count("/auth/v2/auth_status"); got != 16*3 {
		t.Errorf("Count = %d, want %d", got, 16*3)
	}
}

func waitIdle(t *testing.T, s *duofake.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	s := duofake.New(t, duofake.Options{IntegrationKey: ikey, SecretKey: skey, Clock: func() time.Time { return now }, TLS: true})
	if !strings.HasPrefix(s.URL(), "https://") {
		t.Fatalf("URL = %s, want https", s.URL())
	}
	got := okResponse(t, s, post("/auth/v2/preauth", "username", "nobody"))
	if got["result"] != "enroll" {
		t.Errorf("preauth = %v, want enroll", got)
	}
}
