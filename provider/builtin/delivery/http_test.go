package delivery

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/config"
)

const gatewayKey = "gw-api-key-0123456789"

// gatewayRequest is what a fake gateway received.
type gatewayRequest struct {
	Method      string
	Path        string
	ContentType string
	Headers     map[string][]string // the ones a test asked about
	Body        string
}

// gatewayFake records requests and answers with status (200 when 0), or runs respond.
type gatewayFake struct {
	mu       sync.Mutex
	requests []gatewayRequest
	watch    []string
	status   int
	respond  http.HandlerFunc
}

func startGateway(t testing.TB, f *gatewayFake) *httptest.Server {
	t.Helper()
	if f == nil {
		f = &gatewayFake{}
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv
}

func (f *gatewayFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	req := gatewayRequest{
		Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"),
		Headers: map[string][]string{}, Body: string(b),
	}
	for _, h := range f.watch {
		req.Headers[h] = r.Header.Values(h)
	}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	if f.respond != nil {
		f.respond(w, r)
		return
	}
	status := f.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
}

func (f *gatewayFake) received() []gatewayRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]gatewayRequest(nil), f.requests...)
}

func TestHTTPSend(t *testing.T) {
	t.Parallel()
	msg := Message{To: "+15551230123", Text: "Your code is 123456 <valid 5 min> & secret", Code: "123456", User: "alice"}
	tests := []struct {
		name   string
		o      HTTPOptions
		status int
		watch  []string
		want   gatewayRequest
	}{
		{
			name: "map as json",
			o:    HTTPOptions{Body: `{"to": to, "text": message, "code": code, "user": user, "n": 1}`},
			want: gatewayRequest{
				Method: "POST", Path: "/send", ContentType: "application/json",
				Body: `{"code":"123456","n":1,"text":"Your code is 123456 <valid 5 min> & secret","to":"+15551230123","user":"alice"}`,
			},
		},
		{
			name: "string as is",
			o:    HTTPOptions{Body: `to + ":" + code`},
			want: gatewayRequest{Method: "POST", Path: "/send", ContentType: "text/plain; charset=utf-8", Body: "+15551230123:123456"},
		},
		{
			name: "form with its content type",
			o: HTTPOptions{
				Body:    `jsonToFormURLEncoded({"To": to, "Body": message}, true)`,
				Headers: []Header{{Name: "content-type", Value: "application/x-www-form-urlencoded"}},
			},
			want: gatewayRequest{
				Method: "POST", Path: "/send", ContentType: "application/x-www-form-urlencoded",
				Body: "Body=Your%20code%20is%20123456%20%3Cvalid%205%20min%3E%20%26%20secret&To=%2B15551230123",
			},
		},
		{
			name: "headers and method",
			o: HTTPOptions{
				Method: "put",
				Body:   `{"to": to}`,
				Headers: []Header{
					{Name: "Authorization", Value: "Bearer " + gatewayKey},
					{Name: "X-Tag", Value: "a"},
					{Name: "x-tag", Value: "b"},
				},
			},
			watch: []string{"Authorization", "X-Tag", "User-Agent"},
			want: gatewayRequest{
				Method: "PUT", Path: "/send", ContentType: "application/json", Body: `{"to":"+15551230123"}`,
				Headers: map[string][]string{"Authorization": {"Bearer " + gatewayKey}, "X-Tag": {"a", "b"}, "User-Agent": {"emfa"}},
			},
		},
		{
			name:   "expected status",
			o:      HTTPOptions{Body: `{"to": to}`, ExpectedStatus: []int{202}},
			status: http.StatusAccepted,
			want:   gatewayRequest{Method: "POST", Path: "/send", ContentType: "application/json", Body: `{"to":"+15551230123"}`},
		},
		{
			name: "multi-line expression with a comment",
			o: HTTPOptions{Body: `{
				"to": to, // E.164
				"text": message.size() > 10 ? code : message
			}`},
			want: gatewayRequest{Method: "POST", Path: "/send", ContentType: "application/json", Body: `{"text":"123456","to":"+15551230123"}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := &gatewayFake{status: tt.status, watch: tt.watch}
			srv := startGateway(t, fake)
			tt.o.URL = srv.URL + "/send?key=in-the-query"
			h, err := NewHTTP(tt.o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(h.Close)
			if err := h.Send(t.Context(), msg); err != nil {
				t.Fatal(err)
			}
			if tt.want.Headers == nil {
				tt.want.Headers = map[string][]string{}
			}
			if diff := cmp.Diff([]gatewayRequest{tt.want}, fake.received()); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHTTPSendErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		o       HTTPOptions
		fake    *gatewayFake
		user    string // "alice" when unset
		timeout time.Duration
		want    *StatusError
		check   func(t *testing.T, err error)
	}{
		{
			name: "server error",
			o:    HTTPOptions{Body: `{"to": to, "code": code}`},
			fake: &gatewayFake{respond: func(w http.ResponseWriter, r *http.Request) {
				// An answer that echoes the request must not reach the error.
				b, _ := io.ReadAll(r.Body)
				w.WriteHeader(http.StatusBadGateway)
				w.Write(b)
			}},
			want: &StatusError{Status: 502},
		},
		{
			name: "status not the expected one",
			o:    HTTPOptions{Body: `{"to": to}`, ExpectedStatus: []int{202}},
			fake: &gatewayFake{status: http.StatusOK},
			want: &StatusError{Status: 200},
		},
		{
			name: "redirect not followed",
			o:    HTTPOptions{Body: `{"to": to}`, Headers: []Header{{Name: "X-Key", Value: gatewayKey}}},
			fake: &gatewayFake{respond: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
			}},
			want: &StatusError{Status: 302},
		},
		{
			name:    "hangs past the deadline",
			o:       HTTPOptions{Body: `{"to": to}`, Timeout: time.Minute},
			fake:    &gatewayFake{respond: func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
			timeout: 200 * time.Millisecond,
			check:   wantDeadline,
		},
		{
			name:  "hangs past the sender's timeout",
			o:     HTTPOptions{Body: `{"to": to}`, Timeout: 200 * time.Millisecond},
			fake:  &gatewayFake{respond: func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
			check: wantDeadline,
		},
		{
			name:  "body of the wrong type at run time",
			o:     HTTPOptions{Body: `user == "mallory" ? dyn(1) : dyn({"to": to})`},
			user:  "mallory",
			check: wantErrorContaining("result is a number, want a map or a string"),
		},
		{
			name:  "evaluation error",
			o:     HTTPOptions{Body: `{"n": int(user)}`},
			user:  "not-a-number",
			check: wantErrorContaining("eval"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startGateway(t, tt.fake)
			tt.o.URL = srv.URL + "/send?key=" + gatewayKey
			h, err := NewHTTP(tt.o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(h.Close)
			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			if tt.user == "" {
				tt.user = "alice"
			}
			start := time.Now()
			err = h.Send(ctx, Message{To: "+15551230123", Text: "Your code is 445566", Code: "445566", User: tt.user})
			if err == nil {
				t.Fatal("no error")
			}
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("error after %s", elapsed)
			}
			checkErrorHygiene(t, err, "http: ", "445566", gatewayKey, "+15551230123")
			if tt.check != nil {
				tt.check(t, err)
			}
			if tt.want != nil {
				var got *StatusError
				if !errors.As(err, &got) {
					t.Fatalf("error %v, want a *StatusError", err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("status error (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestNewHTTP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		o        HTTPOptions
		wantErrs []string
	}{
		{name: "minimal", o: HTTPOptions{URL: "https://sms.example.com/send", Body: `{"to": to}`}},
		{name: "plain http", o: HTTPOptions{URL: "http://10.0.0.7:8080/send", Body: `message`}},
		{name: "no url", o: HTTPOptions{Body: `{"to": to}`}, wantErrs: []string{"url"}},
		{name: "relative url", o: HTTPOptions{URL: "/send", Body: `{"to": to}`}, wantErrs: []string{"url"}},
		{name: "user info", o: HTTPOptions{URL: "https://u:p@sms.example.com/", Body: `{"to": to}`}, wantErrs: []string{"user info"}},
		{name: "get", o: HTTPOptions{URL: "https://sms.example.com/", Method: "GET", Body: `{"to": to}`}, wantErrs: []string{"method: want POST, PUT or PATCH"}},
		{name: "bad header name", o: HTTPOptions{URL: "https://sms.example.com/", Body: `{"to": to}`, Headers: []Header{{Name: "X Key", Value: "v"}}}, wantErrs: []string{"headers[0]"}},
		{name: "host header", o: HTTPOptions{URL: "https://sms.example.com/", Body: `{"to": to}`, Headers: []Header{{Name: "host", Value: "v"}}}, wantErrs: []string{"set by the client"}},
		{name: "header value on two lines", o: HTTPOptions{URL: "https://sms.example.com/", Body: `{"to": to}`, Headers: []Header{{Name: "X-Key", Value: gatewayKey + "\r\nX-Evil: 1"}}}, wantErrs: []string{"line break"}},
		{name: "bad status", o: HTTPOptions{URL: "https://sms.example.com/", Body: `{"to": to}`, ExpectedStatus: []int{200, 700}}, wantErrs: []string{"expectedStatus 700"}},
		{name: "negative timeout", o: HTTPOptions{URL: "https://sms.example.com/", Body: `{"to": to}`, Timeout: -1}, wantErrs: []string{"timeout"}},
		{name: "no body", o: HTTPOptions{URL: "https://sms.example.com/", Body: " "}, wantErrs: []string{"body: missing"}},
		{name: "syntax error", o: HTTPOptions{URL: "https://sms.example.com/", Body: `{"to": to,, "x": 1}`}, wantErrs: []string{"<input>:1:11"}},
		{name: "undeclared variable", o: HTTPOptions{URL: "https://sms.example.com/", Body: `{"to": to, "x": nope}`}, wantErrs: []string{"<input>:1:17", "nope"}},
		{name: "undeclared on line 2", o: HTTPOptions{URL: "https://sms.example.com/", Body: "{\n  \"to\": phone\n}"}, wantErrs: []string{"<input>:2:9", "phone"}},
		{name: "escaping the wrapper", o: HTTPOptions{URL: "https://sms.example.com/", Body: `to}, "x": {"y": code`}, wantErrs: []string{"body"}},
		{name: "comment swallowing the wrapper", o: HTTPOptions{URL: "https://sms.example.com/", Body: `to // the number`}},
		{name: "number body", o: HTTPOptions{URL: "https://sms.example.com/", Body: `1 + 1`}, wantErrs: []string{"result is a number"}},
		{name: "list body", o: HTTPOptions{URL: "https://sms.example.com/", Body: `[to, code]`}, wantErrs: []string{"result is a list"}},
		{name: "every problem at once", o: HTTPOptions{URL: "ftp://x", Method: "DELETE", Body: `nope`, ExpectedStatus: []int{1}}, wantErrs: []string{"url", "method", "expectedStatus", "nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, err := NewHTTP(tt.o)
			if len(tt.wantErrs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				h.Close()
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.wantErrs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			checkErrorHygiene(t, err, "http: ", gatewayKey)
		})
	}
}

func TestHTTPOptionsLogValue(t *testing.T) {
	t.Parallel()
	out := logJSON(t, "options", HTTPOptions{
		URL:     "https://sms.example.com/send?apikey=" + gatewayKey,
		Headers: []Header{{Name: "Authorization", Value: config.Secret("Bearer " + gatewayKey)}},
	})
	if strings.Contains(out, gatewayKey) {
		t.Errorf("key logged: %s", out)
	}
	if !strings.Contains(out, "Authorization") || !strings.Contains(out, "https://sms.example.com/send") {
		t.Errorf("endpoint or header name not logged: %s", out)
	}
}

// A gateway's response headers are bounded like its body: 200 KiB of them fail the send.
func TestHTTPResponseHeadersBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Filler", strings.Repeat("x", 200<<10))
	}))
	defer srv.Close()
	resp, err := newHTTPClient(time.Second).Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatal("200 KiB of response headers were accepted")
	}
	if !strings.Contains(err.Error(), "header") {
		t.Errorf("error %v does not say the headers were too large", err)
	}
}
