package delivery

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/smtpfake"
)

// TestSMTPIDNDomain: a mailbox on an internationalised domain is sent to its
// A-label form when the server does not offer SMTPUTF8 (RFC 6531 forbids raw UTF-8 in
// the envelope then; Postfix without smtputf8, Amazon SES and others refuse it).
func TestSMTPIDNDomain(t *testing.T) {
	t.Parallel()
	srv := smtpfake.Start(t, smtpfake.Options{TLS: TLSStartTLS})
	o := optionsFor(srv, TLSStartTLS)
	o.From = "Anmeldung <otp@bücher.example>"
	s := newTestSMTP(t, o)
	err := s.Send(t.Context(), Message{To: "alice@Bücher.example", Subject: "Code", Text: "Your code is 123456", Code: "123456", User: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 {
		t.Fatalf("received %d messages, want 1", len(got))
	}
	parsed, _ := parseReceived(t, got[0])
	const want = "alice@xn--bcher-kva.example"
	if len(parsed.EnvelopeTo) != 1 || parsed.EnvelopeTo[0] != want || parsed.To != want {
		t.Errorf("envelope to %q, header To %q; want %q", parsed.EnvelopeTo, parsed.To, want)
	}
	if parsed.EnvelopeFrom != "otp@xn--bcher-kva.example" {
		t.Errorf("envelope from %q", parsed.EnvelopeFrom)
	}
	if trace := srv.Trace(); strings.Contains(trace, "bücher") {
		t.Errorf("UTF-8 sent to a server without SMTPUTF8:\n%s", trace)
	}
}

// TestTwilioVoiceErrorMasksSpokenCode: a call's TwiML holds the code digit by digit
// ("1, 2, 3, …"); Twilio's refusal quoting it must not put the code in the error, as the
// SMS body's quoted code is masked.
func TestTwilioVoiceErrorMasksSpokenCode(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		twilioErrorResponse(w, http.StatusBadRequest, 13520, "Invalid TwiML "+r.PostForm.Get("Twiml"))
	}))
	t.Cleanup(srv.Close)
	tw := newTestTwilio(t, srv.URL)
	err := tw.Send(t.Context(), Message{To: "+447911123456", Channel: Voice,
		Text: "Your sign-in code is 9, 8, 7, 6, 5, 4.", Code: "987654", User: "alice"})
	if err == nil {
		t.Fatal("sent")
	}
	if digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, err.Error()); strings.Contains(digits, "987654") {
		t.Errorf("error holds the code: %v", err)
	}
}

// TestHTTPEvalErrorPosition: a body expression that fails when a code is sent names
// the place in the operator's expression, as a compile error does, not one line below it
// (the wrapper's line).
func TestHTTPEvalErrorPosition(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	h, err := NewHTTP(HTTPOptions{URL: srv.URL, Body: `{"to": to, "n": int(message)}`})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	err = h.Send(t.Context(), Message{To: "+15551230123", Text: "Your code is 123456", Code: "123456"})
	if err == nil || !strings.Contains(err.Error(), "<input>:1:20:") {
		t.Errorf("error %v, want it at <input>:1:20", err)
	}
}
