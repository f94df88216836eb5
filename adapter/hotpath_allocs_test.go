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

// reviewWriter is a ResponseWriter that allocates nothing once its header map exists.
type reviewWriter struct {
	h      http.Header
	status int
}

func (w *reviewWriter) Header() http.Header         { return w.h }
func (w *reviewWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *reviewWriter) WriteHeader(code int)        { w.status = code }

// reviewAllocs is the allocations of one contract call through the whole handler: the
// echo middleware chain, authentication, decode and the answer (the fake engine's
// Enrollments allocates nothing).
func reviewAllocs(t *testing.T, method, path, body string) float64 {
	t.Helper()
	h := newHarness(t, func(o *Options) { o.Log = slog.New(slog.DiscardHandler) })
	h.engine.enrolls = nil
	handler := h.srv.Handler()
	req, _ := http.NewRequest(method, "http://emfa.test"+path, nil)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "review-1")
	req.SetBasicAuth("verify", "pw-secret")
	w := &reviewWriter{h: http.Header{}}
	rd := strings.NewReader(body)
	run := func() {
		rd.Reset(body)
		r := *req
		r.Body = io.NopCloser(rd)
		r.ContentLength = int64(len(body))
		clear(w.h)
		w.status = 0
		handler.ServeHTTP(w, &r)
	}
	run()
	if w.status != http.StatusOK {
		t.Fatalf("%s %s: status %d", method, path, w.status)
	}
	return testing.AllocsPerRun(200, run)
}

// TestMiddlewareChainComposedOnce: echo applies e.Use's middleware and a route's
// middleware to the handler on every request, one closure per middleware (eleven a
// contract call: the eight global ones, authentication, the form refusal and the
// idempotency check); composed once at New, the chain allocates nothing of its own.
func TestMiddlewareChainComposedOnce(t *testing.T) {
	got := reviewAllocs(t, "POST", "/v1/providers/acme/enrollments", `{"username":"alice"}`)
	// 44 with echo composing the eight global middlewares per request.
	if got > 36 {
		t.Errorf("an enrollments call allocates %v times, want at most 36", got)
	}
}

// TestRouteMiddlewareComposedOnce: a contract route's own middleware
// (authentication, the form refusal, the idempotency check) was composed by echo around
// its handler on every request, a closure each; composed once when the route is added,
// it allocates nothing of its own.
func TestRouteMiddlewareComposedOnce(t *testing.T) {
	for _, c := range []struct {
		path, body string
		max        float64
	}{
		{"/v1/providers/acme/enrollments", `{"username":"alice"}`, 34},                                           // 36 before
		{"/v1/providers/acme/initiate", `{"capability":"totp","id":"f1","attributes":{"username":"alice"}}`, 54}, // 57 before
	} {
		got := reviewAllocs(t, "POST", c.path, c.body)
		t.Logf("%s: %v", c.path, got)
		if got > c.max {
			t.Errorf("POST %s allocates %v times, want at most %v", c.path, got, c.max)
		}
	}
}

// TestEnrollmentsDecodePlain: enrollments' body is read by json.Unmarshal, with no
// Decoder (three allocations fewer a call), and answers every body as the Decoder did:
// the same username, the same refusal for bad JSON, trailing data, a duplicate key,
// bytes that are not UTF-8 and a field of the wrong type.
func TestEnrollmentsDecodePlain(t *testing.T) {
	if got := reviewAllocs(t, "POST", "/v1/providers/acme/enrollments", `{"username":"alice"}`); got > 32 {
		t.Errorf("an enrollments call allocates %v times, want at most 32 (34 with a Decoder)", got)
	}
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
	read := func(body string, dec func(echo.Context, any) error) string {
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
	f.Fuzz(func(t *testing.T, body string) {
		if got, want := read(body, decodePlain), read(body, decode); got != want {
			t.Errorf("%q: decodePlain %q, decode %q", body, got, want)
		}
	})
}

// TestProviderInContextUnboxed: the provider a contract call names goes into the
// echo context as a pointer, not as its prefix boxed into an any (an allocation a call);
// the access log still names the prefix.
func TestProviderInContextUnboxed(t *testing.T) {
	if got := reviewAllocs(t, "POST", "/v1/providers/acme/enrollments", `{"username":"alice"}`); got > 31 {
		t.Errorf("an enrollments call allocates %v times, want at most 31 (32 with the prefix boxed)", got)
	}
	h := newHarness(t, nil)
	h.do(t, "POST", "/v1/providers/ACME/enrollments", `{"username":"alice"}`)
	if !strings.Contains(h.logs.String(), `"provider":"acme"`) {
		t.Errorf("the access log lacks the provider's prefix:\n%s", h.logs.String())
	}
}

// TestEnrollmentsAnswerNoQueryParse: enrollments answers as c.JSON did, bytes and
// Content-Type, indented to ?pretty, without parsing an absent query string for ?pretty
// (an allocation a call).
func TestEnrollmentsAnswerNoQueryParse(t *testing.T) {
	if got := reviewAllocs(t, "POST", "/v1/providers/acme/enrollments", `{"username":"alice"}`); got > 30 {
		t.Errorf("an enrollments call allocates %v times, want at most 30 (31 parsing the query)", got)
	}
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
