package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/config"
)

const (
	testAccountSID = "AC0123456789abcdef0123456789abcdef"
	testAuthToken  = "tw-auth-token-0123456789abcdef"
	testServiceSID = "MGfedcba9876543210fedcba9876543210"
	// twilioInvalidNumber is one of Twilio's magic test numbers: "not a valid phone number".
	twilioInvalidNumber = "+15005550001"
)

// twilioFake is Twilio's Messages resource as documented
// (https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource):
// POST /2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP Basic with the account SID and
// auth token, a form with To, Body and From or MessagingServiceSid; 201 and the message
// resource as JSON, or an error object {code, message, more_info, status}.
type twilioFake struct {
	mu       sync.Mutex
	messages []url.Values
	headers  []http.Header
	// respond, when set, answers instead of the fake (after the request was checked).
	respond http.HandlerFunc
}

func startTwilioFake(t testing.TB, respond http.HandlerFunc) (*twilioFake, *httptest.Server) {
	t.Helper()
	f := &twilioFake{respond: respond}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func twilioErrorResponse(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"code": code, "message": msg, "more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), "status": status,
	})
}

func (f *twilioFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		twilioErrorResponse(w, http.StatusMethodNotAllowed, 20004, "Method not allowed")
		return
	}
	if r.URL.Path != "/2010-04-01/Accounts/"+testAccountSID+"/Messages.json" {
		twilioErrorResponse(w, http.StatusNotFound, 20404, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	if user, pass, ok := r.BasicAuth(); !ok || user != testAccountSID || pass != testAuthToken {
		twilioErrorResponse(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		twilioErrorResponse(w, http.StatusBadRequest, 20001, "Unsupported content type "+mt)
		return
	}
	if err := r.ParseForm(); err != nil {
		twilioErrorResponse(w, http.StatusBadRequest, 20001, "Malformed form")
		return
	}
	form := r.PostForm
	to := form.Get("To")
	switch {
	case to == "":
		twilioErrorResponse(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case !ValidE164(to) || to == twilioInvalidNumber:
		twilioErrorResponse(w, http.StatusBadRequest, 21211, fmt.Sprintf("Invalid 'To' Phone Number: %s", to))
		return
	case form.Get("From") == "" && form.Get("MessagingServiceSid") == "":
		twilioErrorResponse(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case form.Get("Body") == "":
		twilioErrorResponse(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	}
	f.mu.Lock()
	f.messages = append(f.messages, form)
	f.headers = append(f.headers, r.Header.Clone())
	f.mu.Unlock()
	if f.respond != nil {
		f.respond(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{
		"account_sid": testAccountSID, "api_version": "2010-04-01", "body": form.Get("Body"),
		"direction": "outbound-api", "error_code": nil, "error_message": nil,
		"from": form.Get("From"), "messaging_service_sid": form.Get("MessagingServiceSid"),
		"num_segments": "1", "sid": "SM0123456789abcdef0123456789abcdef", "status": "queued", "to": to,
	})
}

func (f *twilioFake) received() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.messages...)
}

func (f *twilioFake) receivedHeaders() []http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]http.Header(nil), f.headers...)
}

func newTestTwilio(t testing.TB, baseURL string, mutate ...func(*TwilioOptions)) *Twilio {
	t.Helper()
	o := TwilioOptions{AccountSID: testAccountSID, AuthToken: testAuthToken, From: "+15017122661", BaseURL: baseURL, Timeout: 5 * time.Second}
	for _, m := range mutate {
		m(&o)
	}
	tw, err := NewTwilio(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tw.Close)
	return tw
}

func TestTwilioSend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		from string
		want url.Values
	}{
		{name: "from a number", from: "+15017122661", want: url.Values{"To": {"+447911123456"}, "From": {"+15017122661"}, "Body": {"Your code is 123456"}}},
		{name: "from a messaging service", from: testServiceSID, want: url.Values{"To": {"+447911123456"}, "MessagingServiceSid": {testServiceSID}, "Body": {"Your code is 123456"}}},
		{name: "from a sender id", from: "EMFA Login", want: url.Values{"To": {"+447911123456"}, "From": {"EMFA Login"}, "Body": {"Your code is 123456"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake, srv := startTwilioFake(t, nil)
			tw := newTestTwilio(t, srv.URL, func(o *TwilioOptions) { o.From = tt.from })
			err := tw.Send(t.Context(), Message{To: "+447911123456", Text: "Your code is 123456", Code: "123456", User: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]url.Values{tt.want}, fake.received()); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
			if got := fake.receivedHeaders()[0].Get("Accept"); got != "application/json" {
				t.Errorf("Accept %q", got)
			}
		})
	}
}

func TestTwilioSendErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		respond http.HandlerFunc // after the fake accepted the request; nil for the fake's own answer
		to      string
		token   config.Secret
		refused bool // send to a closed port instead of the fake
		timeout time.Duration
		want    *StatusError // nil when the error is not a status
		check   func(t *testing.T, err error)
	}{
		{
			name: "invalid number",
			to:   twilioInvalidNumber,
			want: &StatusError{Status: 400, Code: 21211, Message: "Invalid 'To' Phone Number: +1 ***-***-0001"},
		},
		{
			name:  "wrong token",
			token: "not-the-token",
			want:  &StatusError{Status: 401, Code: 20003, Message: "Authenticate"},
		},
		{
			name: "rate limited",
			respond: func(w http.ResponseWriter, r *http.Request) {
				twilioErrorResponse(w, http.StatusTooManyRequests, 20429, "Too Many Requests")
			},
			want: &StatusError{Status: 429, Code: 20429, Message: "Too Many Requests"},
		},
		{
			// Twilio quotes what it refused; the code is masked as the number is.
			name: "message quotes the body",
			respond: func(w http.ResponseWriter, r *http.Request) {
				twilioErrorResponse(w, http.StatusBadRequest, 30007, "Message 'Your code is 998877' to +15558675310 was filtered")
			},
			want: &StatusError{Status: 400, Code: 30007, Message: "Message 'Your code is ******' to +1 ***-***-5310 was filtered"},
		},
		{
			name: "server error without json",
			respond: func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "<html>oops</html>", http.StatusInternalServerError)
			},
			want: &StatusError{Status: 500, Message: "Internal Server Error"},
		},
		{
			name: "redirect not followed",
			respond: func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, "https://elsewhere.example/", http.StatusTemporaryRedirect)
			},
			want: &StatusError{Status: 307, Message: "Temporary Redirect"},
		},
		{
			// A refusal's answer is read, within its bound; an acceptance's is not needed.
			name: "huge refusal",
			respond: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				w.Write([]byte(strings.Repeat("x", maxResponseBytes+1)))
			},
			check: func(t *testing.T, err error) {
				if !errors.Is(err, errTooLarge) {
					t.Errorf("error %v, want errTooLarge", err)
				}
			},
		},
		{
			name:    "hangs past the deadline",
			respond: func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() },
			timeout: 200 * time.Millisecond,
			check:   wantDeadline,
		},
		{
			name:    "connection refused",
			refused: true,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Errorf("error %v, want ECONNREFUSED", err)
				}
			},
		},
		{
			name:  "recipient not e.164",
			to:    "07911 123456",
			check: wantErrorContaining("not an E.164 number"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake, srv := startTwilioFake(t, tt.respond)
			tw := newTestTwilio(t, srv.URL, func(o *TwilioOptions) {
				if tt.token != "" {
					o.AuthToken = tt.token
				}
				if tt.refused {
					o.BaseURL = fmt.Sprintf("http://127.0.0.1:%d", closedPort(t))
				}
			})
			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			to := tt.to
			if to == "" {
				to = "+15558675310"
			}
			start := time.Now()
			err := tw.Send(ctx, Message{To: to, Text: "Your code is 998877", Code: "998877", User: "alice"})
			if err == nil {
				t.Fatal("no error")
			}
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Errorf("error after %s", elapsed)
			}
			checkErrorHygiene(t, err, "twilio: ", testAuthToken, "998877", to)
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
				if wantTemp := tt.want.Status == 429 || tt.want.Status >= 500; got.Temporary() != wantTemp {
					t.Errorf("Temporary() = %v", got.Temporary())
				}
			}
			if tt.respond == nil && len(fake.received()) != 0 {
				t.Errorf("fake accepted a message")
			}
		})
	}
}

func TestNewTwilio(t *testing.T) {
	t.Parallel()
	valid := TwilioOptions{AccountSID: testAccountSID, AuthToken: testAuthToken, From: "+15017122661"}
	tests := []struct {
		name         string
		mutate       func(*TwilioOptions)
		wantEndpoint string
		wantErrs     []string
	}{
		{name: "defaults", mutate: func(*TwilioOptions) {}, wantEndpoint: "https://api.twilio.com/2010-04-01/Accounts/" + testAccountSID + "/Messages.json"},
		{name: "regional base url", mutate: func(o *TwilioOptions) { o.BaseURL = "https://api.dublin.ie1.twilio.com/" }, wantEndpoint: "https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/" + testAccountSID + "/Messages.json"},
		{name: "loopback http", mutate: func(o *TwilioOptions) { o.BaseURL = "http://127.0.0.1:8080" }, wantEndpoint: "http://127.0.0.1:8080/2010-04-01/Accounts/" + testAccountSID + "/Messages.json"},
		{name: "bad account sid", mutate: func(o *TwilioOptions) { o.AccountSID = "AC123" }, wantErrs: []string{"accountSid"}},
		{name: "api key instead of account", mutate: func(o *TwilioOptions) { o.AccountSID = "SK0123456789abcdef0123456789abcdef" }, wantErrs: []string{"accountSid"}},
		{name: "no token", mutate: func(o *TwilioOptions) { o.AuthToken = "" }, wantErrs: []string{"authToken"}},
		{name: "from not a number", mutate: func(o *TwilioOptions) { o.From = "555-0100" }, wantErrs: []string{"from"}},
		{name: "sender id too long", mutate: func(o *TwilioOptions) { o.From = "EMFA Login Codes" }, wantErrs: []string{"from"}},
		{name: "plain http elsewhere", mutate: func(o *TwilioOptions) { o.BaseURL = "http://api.twilio.com" }, wantErrs: []string{"want https"}},
		{name: "base url with query", mutate: func(o *TwilioOptions) { o.BaseURL = "https://api.twilio.com/?x=1" }, wantErrs: []string{"query"}},
		{name: "every problem at once", mutate: func(o *TwilioOptions) { *o = TwilioOptions{BaseURL: "ftp://x", Timeout: -1} }, wantErrs: []string{"accountSid", "authToken", "from", "baseUrl", "timeout"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := valid
			tt.mutate(&o)
			tw, err := NewTwilio(o)
			if len(tt.wantErrs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if got := tw.account + "/Messages.json"; got != tt.wantEndpoint {
					t.Errorf("endpoint %s, want %s", got, tt.wantEndpoint)
				}
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
			checkErrorHygiene(t, err, "twilio: ", testAuthToken)
		})
	}
}

func TestTwilioOptionsLogValue(t *testing.T) {
	t.Parallel()
	out := logJSON(t, "options", TwilioOptions{AccountSID: testAccountSID, AuthToken: testAuthToken, From: "+15017122661"})
	if strings.Contains(out, testAuthToken) {
		t.Errorf("token logged: %s", out)
	}
	if !strings.Contains(out, testAccountSID) {
		t.Errorf("account not logged: %s", out)
	}
}

// A call needs a caller ID: only a Twilio sender from a phone number serves voice, and its
// TwiML says the text, escaped, twice.
func TestTwilioVoice(t *testing.T) {
	for from, want := range map[string]bool{"+15005550006": true, testServiceSID: false, "EMFA": false} {
		s, err := NewTwilio(TwilioOptions{AccountSID: testAccountSID, AuthToken: testAuthToken, From: from})
		if err != nil {
			t.Fatal(err)
		}
		if s.Serves(Voice) != want || !s.Serves(SMS) || s.Serves(Email) {
			t.Errorf("from %s: serves voice %v, want %v", from, s.Serves(Voice), want)
		}
	}
	if got, want := sayTwice(`1, 2 <&> "3"`), `<Response><Say loop="2">1, 2 &lt;&amp;&gt; &#34;3&#34;</Say></Response>`; got != want {
		t.Errorf("twiml %s, want %s", got, want)
	}
}
