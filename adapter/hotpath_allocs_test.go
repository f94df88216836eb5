package adapter

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/provider"
)

// discardWriter is a ResponseWriter that allocates nothing once its header map exists.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }

// contractAllocs is the allocations of one contract call through the whole handler: the
// echo middleware chain, authentication, decode and the answer (the fake engine's
// Enrollments allocates nothing).
func contractAllocs(t *testing.T, method, path, body string) float64 {
	t.Helper()
	run := contractRun(t, method, path, body, slog.New(slog.DiscardHandler), nil)
	if status := run(); status != http.StatusOK {
		t.Fatalf("%s %s: status %d", method, path, status)
	}
	return testing.AllocsPerRun(200, func() { run() })
}

// contractRun is one contract call through the whole handler, again each time it is
// called, with log as the server's and the providers' logger and the fake engine
// answering enrolls; it returns the answer's status.
func contractRun(tb testing.TB, method, path, body string, log *slog.Logger, enrolls []provider.Enrollment) func() int {
	tb.Helper()
	h := newHarness(tb, func(o *Options) {
		o.Log = log
		for _, p := range o.Providers {
			p.Log = log
		}
	})
	h.engine.enrolls = enrolls
	handler := h.srv.Handler()
	req, _ := http.NewRequest(method, "http://emfa.test"+path, nil)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "allocs-1")
	req.SetBasicAuth("verify", "pw-secret")
	req.RemoteAddr = "127.0.0.1:40000"
	w := &discardWriter{h: http.Header{}}
	rd := strings.NewReader(body)
	return func() int {
		rd.Reset(body)
		r := *req
		r.Body = io.NopCloser(rd)
		r.ContentLength = int64(len(body))
		clear(w.h)
		w.status = 0
		handler.ServeHTTP(w, &r)
		return w.status
	}
}

// TestContractCallAllocations bounds what a contract call allocates through the whole
// handler (the fake engine allocating nothing). echo applied the global middleware and a
// route's own (authentication, the form refusal, the idempotency check) to the handler
// on every request, a closure each (44 an enrollments call); composed once at New, the
// chains allocate nothing of their own (36). Enrollments' body read by json.Unmarshal
// (34 with a Decoder), the provider in the echo context unboxed (32 with its prefix
// boxed) and no absent query string parsed (31) made 30; later work made it 24, and the
// context's values kept without echo's map (callContext) 22; enrollments' body read and its
// answer written without encoding/json, and the X-Webhook-ID unboxed, 16, and a
// challenge's body read without encoding/json took initiate's from 40 to 22. Not under
// the race detector, whose build allocates more.
func TestContractCallAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's build allocates more")
	}
	for _, c := range []struct {
		path, body string
		max        float64
	}{
		{"/v1/providers/acme/enrollments", `{"username":"alice"}`, 16},
		{"/v1/providers/acme/initiate", `{"capability":"totp","id":"f1","attributes":{"username":"alice"}}`, 22}, // 57, 42, 40 before
	} {
		got := contractAllocs(t, "POST", c.path, c.body)
		t.Logf("%s: %v", c.path, got)
		if got > c.max {
			t.Errorf("POST %s allocates %v times, want at most %v", c.path, got, c.max)
		}
	}
}

// TestEnrollmentsDecodePlain: enrollments' body is read by json.Unmarshal, with no
// Decoder (TestContractCallAllocations), and answers every body as the Decoder did:
// the same username, the same refusal for bad JSON, trailing data, a duplicate key,
// bytes that are not UTF-8 and a field of the wrong type.
func TestEnrollmentsDecodePlain(t *testing.T) {
	h := newHarness(t, nil)
	for _, body := range []string{
		`{"username":"alice"}`, ` {"username":"alice","extra":[1,2.5e3,{"a":null}]} `, `{"Username":"bob"}`,
		`{"username":"alice"} x`, `{"username":"alice"}{}`, `{"username":"alice"`, `{"username":alice}`,
		`{"username":"a","username":"b"}`, `{"username":"a","USERNAME":"b"}`, "{\"username\":\"jos\xe9\"}",
		`{"username":5}`, `{"username":{"a":1}}`, `{"username":["a"]}`, `{"username":true}`, `{"username":null}`,
		`{"username":5} x`, `{"username":5,"username":"a"}`, `5`, `"alice"`, `[]`, `null`, `{}`, `{"username":""}`,
		`{"username":"\ud800"}`, `{"username":"a\u0000b"}`, "  ", `{"username":"alice"}]`, `{"username":"x",}`,
	} {
		want := func() string {
			c := h.srv.echo.NewContext(httptest.NewRequest("POST", "/", strings.NewReader(body)), httptest.NewRecorder())
			var b struct {
				Username *string `json:"username"`
			}
			if err := decode(c, &b); err != nil {
				return err.Error()
			}
			if b.Username == nil {
				return "<nil>"
			}
			return *b.Username
		}()
		c := h.srv.echo.NewContext(httptest.NewRequest("POST", "/", strings.NewReader(body)), httptest.NewRecorder())
		var b struct {
			Username *string `json:"username"`
		}
		got := "<nil>"
		if err := decodePlain(c, &b); err != nil {
			got = err.Error()
		} else if b.Username != nil {
			got = *b.Username
		}
		if got != want {
			t.Errorf("%q: decodePlain %q, decode %q", body, got, want)
		}
	}
}

// FuzzDecodePlain: decodePlain answers every body as decode does.
func FuzzDecodePlain(f *testing.F) {
	for _, s := range []string{`{"username":"alice"}`, `{"username":5} x`, `{"username":"a","username":"b"}`, `{"username":"alice"`} {
		f.Add(s)
	}
	e := New(Options{}).echo
	f.Fuzz(func(t *testing.T, body string) {
		if got, want := readUsername(e, body, decodePlain), readUsername(e, body, decode); got != want {
			t.Errorf("%q: decodePlain %q, decode %q", body, got, want)
		}
	})
}

// TestProviderInContextUnboxed: the provider a contract call names goes into the
// echo context as a pointer, not as its prefix boxed into an any (an allocation a call,
// TestContractCallAllocations); the access log still names the prefix.
func TestProviderInContextUnboxed(t *testing.T) {
	h := newHarness(t, nil)
	h.do(t, "POST", "/v1/providers/ACME/enrollments", `{"username":"alice"}`)
	if !strings.Contains(h.logs.String(), `"provider":"acme"`) {
		t.Errorf("the access log lacks the provider's prefix:\n%s", h.logs.String())
	}
}

// TestEnrollmentsAnswerNoQueryParse: enrollments answers as c.JSON did, bytes and
// Content-Type, indented to ?pretty, without parsing an absent query string for ?pretty
// (an allocation a call, TestContractCallAllocations).
func TestEnrollmentsAnswerNoQueryParse(t *testing.T) {
	h := newHarness(t, nil)
	h.engine.enrolls = []provider.Enrollment{{ID: "f1", Capability: "totp"}}
	for _, c := range []struct{ method, path, body, want string }{
		{"POST", "/v1/providers/acme/enrollments", `{"username":"alice"}`, `[{"capability":"totp","id":"f1","attributes":null}]`},
		{"POST", "/v1/providers/acme/enrollments?pretty", `{"username":"alice"}`, "[\n  {\n    \"capability\": \"totp\",\n    \"id\": \"f1\""},
		{"GET", "/v1/providers/acme/enrollments?username=alice", ``, `[{"capability":"totp","id":"f1","attributes":null}]`},
	} {
		code, body, hdr := h.do(t, c.method, c.path, c.body)
		if code != 200 || !strings.HasPrefix(body, c.want) || hdr.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %s %q, want 200 application/json %q…", c.method, c.path, code, hdr.Get("Content-Type"), body, c.want)
		}
	}
}

// readUsername is what dec reads of enrollments' body: the username, "<nil>" for none, or
// "error: " and the refusal.
func readUsername(e *echo.Echo, body string, dec func(echo.Context, any) error) string {
	c := e.NewContext(httptest.NewRequest("POST", "/", strings.NewReader(body)), httptest.NewRecorder())
	var b struct {
		Username *string `json:"username"`
	}
	if err := dec(c, &b); err != nil {
		return "error: " + err.Error()
	}
	if b.Username == nil {
		return "<nil>"
	}
	return *b.Username
}
