package adapter

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/internal/rusage"
	"github.com/emfa/emfa/provider"
)

// enrollmentsRun is one enrollments call through the whole handler, as
// contractAllocs makes it, with log as the server's logger and the fake engine answering
// one enrollment.
func enrollmentsRun(tb testing.TB, log *slog.Logger) func() {
	tb.Helper()
	run := contractRun(tb, "POST", "/v1/providers/acme/enrollments", `{"username":"alice"}`, log,
		[]provider.Enrollment{{Capability: "totp", ID: "f1", Attributes: map[string]any{"authExecutionFlow": "validate"}}})
	return func() {
		if status := run(); status != http.StatusOK {
			tb.Fatalf("status %d", status)
		}
	}
}

func BenchmarkEnrollmentsChain(b *testing.B) {
	for _, c := range []struct {
		name string
		log  *slog.Logger
	}{
		{"discard", slog.New(slog.DiscardHandler)},
		{"json-info", slog.New(slog.NewJSONHandler(io.Discard, nil))},
		{"emfa-json-info", slog.New(NewLogHandler(io.Discard, nil))}, // emfa serve's: the access line written directly
		{"text-info", slog.New(slog.NewTextHandler(io.Discard, nil))},
	} {
		b.Run(c.name, func(b *testing.B) {
			run := enrollmentsRun(b, c.log)
			b.ReportAllocs()
			cpu0 := int64(rusage.Process())
			for b.Loop() {
				run()
			}
			b.ReportMetric(float64(int64(rusage.Process())-cpu0)/1e3/float64(b.N), "cpu-µs/op")
		})
	}
}

// TestBasicCheckAllocations: checking Basic credentials allocates nothing: the
// header is decoded into a buffer of the call's own, not by r.BasicAuth (its decoded
// bytes and their string, two allocations on every contract call), and the digests are
// taken of those bytes (a []byte of a secret longer than 32 bytes is one more).
func TestBasicCheckAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's build allocates more")
	}
	long := strings.Repeat("p", 48)
	for _, pw := range []string{"pw-secret", long} {
		a := newAuthenticator(Auth{BasicUsername: "verify", BasicPassword: pw})
		for _, sent := range []string{pw, "wrong"} {
			req, _ := http.NewRequest("POST", "http://emfa.test/", nil)
			req.SetBasicAuth("verify", sent)
			wantOK := sent == pw
			if ok, _, _ := a.check(req); ok != wantOK {
				t.Fatalf("password %q sent %q: ok %v", pw, sent, ok)
			}
			if n := testing.AllocsPerRun(100, func() { a.check(req) }); n != 0 {
				t.Errorf("Basic check (password of %d bytes, right %v) allocates %v times, want 0", len(pw), wantOK, n)
			}
		}
	}
}

// TestBasicParseAsNetHTTP: the Basic credentials check reads every Authorization
// header as r.BasicAuth does: the same user and password, or none.
func TestBasicParseAsNetHTTP(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	long := strings.Repeat("x", 600)
	for _, h := range []string{
		"", "Basic", "Basic ", "Basic " + b64("verify:pw"), "basic " + b64("verify:pw"), "BASIC " + b64("verify:pw"),
		"Basic  " + b64("verify:pw"), "Basic " + b64("verify:pw") + " ", "Basic " + b64("verifypw"), "Basic " + b64(":"),
		"Basic " + b64("verify:pw:more"), "Basic " + b64("verify:"), "Basic " + b64(":pw"), "Basic " + b64("verify:pw")[:5],
		"Basic " + strings.TrimRight(b64("verify:p"), "="), "Basic " + b64("verify:pw")[:4] + "\r\n" + b64("verify:pw")[4:],
		"Basic !!!!", "Bearer " + b64("verify:pw"), "Basic\t" + b64("verify:pw"), "Basic " + b64("v\xffrify:p\x00w"),
		"Basic " + b64("verify:"+long), "Basic " + b64(long+":pw"), "Basic " + b64(long+":"+long) + "=", "Basicx" + b64("a:b"),
	} {
		req, _ := http.NewRequest("GET", "http://emfa.test/", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		wu, wp, wok := req.BasicAuth()
		u, p, gok := basicCredentials(req, make([]byte, 0, 64))
		if gu, gp := string(u), string(p); gu != wu || gp != wp || gok != wok {
			t.Errorf("%q: got %q %q %v, want %q %q %v", h, u, p, gok, wu, wp, wok)
		}
	}
}

// BenchmarkBasicCheck is one Basic credentials check, right ones.
func BenchmarkBasicCheck(b *testing.B) {
	a := newAuthenticator(Auth{BasicUsername: "verify", BasicPassword: "sim-password-0123"})
	req, _ := http.NewRequest("POST", "http://emfa.test/", nil)
	req.SetBasicAuth("verify", "sim-password-0123")
	b.ReportAllocs()
	cpu0 := int64(rusage.Process())
	for b.Loop() {
		a.check(req)
	}
	b.ReportMetric(float64(int64(rusage.Process())-cpu0)/1e3/float64(b.N), "cpu-µs/op")
}

// TestErrorTargetsOnErrorOnly: the targets errors.As fills (refuseOptions'
// *echo.HTTPError, unmarshal's *json.SyntaxError) escape to the heap: declared where an
// error is in hand, a call that has none allocates nothing for them (they were one
// allocation each on every contract call).
func TestErrorTargetsOnErrorOnly(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's build allocates more")
	}
	s := New(Options{})
	h := s.refuseOptions(func(echo.Context) error { return nil })
	c := s.echo.NewContext(httptest.NewRequest("POST", "/", nil), httptest.NewRecorder())
	if n := testing.AllocsPerRun(100, func() { h(c) }); n != 0 {
		t.Errorf("refuseOptions, the handler answering, allocates %v times, want 0", n)
	}
	data := []byte(`{"username":"alice"}`)
	var body struct {
		Username *string `json:"username"`
	}
	base := testing.AllocsPerRun(100, func() { json.Unmarshal(data, &body) })
	if n := testing.AllocsPerRun(100, func() { unmarshal(data, &body, true) }); n > base {
		t.Errorf("unmarshal of a valid body allocates %v times, json.Unmarshal %v", n, base)
	}
}

// TestReadBodySized: a body of known length is read into a buffer of its size, not
// into io.ReadAll's 512 bytes (most of them garbage on every contract call: Verify's
// bodies are tens of bytes), and reads as before, whatever its length says.
func TestReadBodySized(t *testing.T) {
	e := echo.New()
	for _, c := range []struct {
		body string
		cl   int64
	}{
		{`{"username":"alice"}`, 20}, {"", 0}, {"abc", -1}, {"abc", 1}, {"abcdef", 3}, {strings.Repeat("x", 2000), 2000},
		{strings.Repeat("y", 700), 10}, {"ab", 100},
	} {
		req := httptest.NewRequest("POST", "/", strings.NewReader(c.body))
		req.ContentLength = c.cl
		got, err := readBody(e.NewContext(req, httptest.NewRecorder()))
		if err != nil || string(got) != c.body {
			t.Errorf("body %d bytes, length %d: read %d bytes, %v", len(c.body), c.cl, len(got), err)
		}
	}
	if raceEnabled {
		return // the race detector's build allocates more
	}
	const body, runs = `{"username":"alice"}`, 1000
	req := httptest.NewRequest("POST", "/", nil)
	rd := strings.NewReader(body)
	req.Body, req.ContentLength = io.NopCloser(rd), int64(len(body))
	c := e.NewContext(req, httptest.NewRecorder())
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		rd.Reset(body)
		readBody(c)
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 64 {
		t.Errorf("reading a %d-byte body allocates %d bytes, want at most 64", len(body), per)
	}
}

// BenchmarkAccessLogLine is the access log's line for one answered call, at info
// as emfa logs by default, JSON to io.Discard.
func BenchmarkAccessLogLine(b *testing.B) {
	s := New(Options{Log: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	h := s.accessLog(func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	req := httptest.NewRequest("POST", "/v1/providers/acme/enrollments", nil)
	req.RemoteAddr = "127.0.0.1:40000"
	w := &discardWriter{h: http.Header{"X-Request-Id": {"df768d35e37b86c720c1ecbb"}}}
	c := s.echo.NewContext(req, w)
	b.ReportAllocs()
	cpu0 := int64(rusage.Process())
	for b.Loop() {
		c.Response().Committed = false
		h(c)
	}
	b.ReportMetric(float64(int64(rusage.Process())-cpu0)/1e3/float64(b.N), "cpu-µs/op")
}

// pcHandler keeps the records it is handed.
type pcHandler struct{ records *[]slog.Record }

func (h pcHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h pcHandler) Handle(_ context.Context, r slog.Record) error {
	*h.records = append(*h.records, r)
	return nil
}
func (h pcHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h pcHandler) WithGroup(string) slog.Handler      { return h }

// TestAccessLogNoCallers: the access log's line is handed to the handler without
// the caller's program counter, which slog.Logger finds by walking the stack
// (runtime.Callers, a seventh of the line's cost, BenchmarkAccessLogLine) for a
// source no emfa handler shows (none sets AddSource); the line is the same.
func TestAccessLogNoCallers(t *testing.T) {
	var records []slog.Record
	run := enrollmentsRun(t, slog.New(pcHandler{&records}))
	run()
	if len(records) != 1 {
		t.Fatalf("%d records, want the access log's one", len(records))
	}
	r := records[0]
	var keys []string
	r.Attrs(func(a slog.Attr) bool { keys = append(keys, a.Key); return true })
	if got, want := strings.Join(keys, ","), "method,path,status,duration_ms,bytes,remote,request_id,provider"; r.Message != "request" || r.Level != slog.LevelInfo || got != want || r.Time.IsZero() {
		t.Errorf("access log: %q %v %s %v, want %q INFO %s and a time", r.Message, r.Level, got, r.Time, "request", want)
	}
	if r.PC != 0 {
		t.Errorf("the access log's record has a PC (%#x): the stack was walked for it", r.PC)
	}
}
