package adapter

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEnrollmentsBodyAllocs bounds the allocations of an enrollments call whose
// body is Verify's {"username": "..."} (the fake engine answering none): json.Unmarshal
// read it by reflection (its state, the escaping body, the string's pointer), five
// allocations more than reading the one field's string.
func TestEnrollmentsBodyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's build allocates more")
	}
	for _, body := range []string{`{"username":"alice"}`, `{"username": "alice@example.com"}`} {
		run := contractRun(t, "POST", "/v1/providers/acme/enrollments", body, slog.New(slog.DiscardHandler), nil)
		if status := run(); status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
		got := testing.AllocsPerRun(200, func() { run() })
		t.Logf("%s: %v allocations", body, got)
		if got > 16 {
			t.Errorf("enrollments of %s allocates %v times, want at most 16 (22 before)", body, got)
		}
	}
}

// TestBodyUsername: enrollments reads every body as decodePlain does: the same
// username, or the same refusal.
func TestBodyUsername(t *testing.T) {
	h := newHarness(t, nil)
	for _, body := range []string{
		`{"username":"alice"}`, `{"username": "alice@example.com"}`, " \t\r\n{ \"username\" : \"alice\" } \n", `{"username":""}`,
		`{"username":"a\"b"}`, `{"username":"a\\b"}`, `{"username":"a\u0041"}`, "{\"username\":\"a\x01\"}", "{\"username\":\"a\x7f\"}",
		`{"username":"jos` + "\xc3\xa9" + `"}`, "{\"username\":\"jos\xe9\"}", `{"Username":"alice"}`, `{"username":"alice","username":"bob"}`,
		`{"username":"alice"} x`, `{"username":"alice"}}`, `{"username":"alice"`, `{"username":"alice}`, `{"username":alice}`,
		"\v{\"username\":\"alice\"}", "{\"username\":\"alice\"}\f", `{"username" "alice"}`, `{"username":5}`, `{}`, ``, `{"user":"alice"}`,
		`{"username":"alice",}`, `{"username":"alice"]`, `["username","alice"]`, `{"username":"alice" "x":1}`,
	} {
		want := readUsername(h.srv.echo, body, decodePlain)
		if want == "<nil>" {
			want = "" // bodyUsername's for none
		}
		got := func() string {
			c := h.srv.echo.NewContext(httptest.NewRequest("POST", "/", strings.NewReader(body)), httptest.NewRecorder())
			u, err := bodyUsername(c)
			if err != nil {
				return "error: " + err.Error()
			}
			return u
		}()
		if got != want {
			t.Errorf("%q: bodyUsername %q, decodePlain %q", body, got, want)
		}
	}
}

// FuzzPlainUsername: a body plainUsername reads is one decodePlain reads to the
// same username.
func FuzzPlainUsername(f *testing.F) {
	for _, s := range []string{`{"username":"alice"}`, ` { "username" : "a b" } `, `{"username":"a\"}`, `{"username":""}`} {
		f.Add(s)
	}
	e := New(Options{}).echo
	f.Fuzz(func(t *testing.T, body string) {
		u, ok := plainUsername([]byte(body))
		if !ok {
			return
		}
		if want := readUsername(e, body, decodePlain); want != u {
			t.Errorf("%q: plainUsername %q, decodePlain %q", body, u, want)
		}
	})
}

// BenchmarkBodyUsername is enrollments' body read as decodePlain reads it and as
// bodyUsername does.
func BenchmarkBodyUsername(b *testing.B) {
	const body = `{"username":"alice@example.com"}`
	e := New(Options{}).echo
	req := httptest.NewRequest("POST", "/", nil)
	rd := strings.NewReader(body)
	c := e.NewContext(req, httptest.NewRecorder())
	b.Run("decodePlain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rd.Reset(body)
			req.Body, req.ContentLength = io.NopCloser(rd), int64(len(body))
			var v struct {
				Username *string `json:"username"`
			}
			if err := decodePlain(c, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bodyUsername", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rd.Reset(body)
			req.Body, req.ContentLength = io.NopCloser(rd), int64(len(body))
			if _, err := bodyUsername(c); err != nil {
				b.Fatal(err)
			}
		}
	})
}
