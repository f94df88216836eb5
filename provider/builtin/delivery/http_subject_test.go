package delivery

import "testing"

// TestHTTPGatewaySubject: an HTTP gateway may serve e-mail (emailotp, the
// self-service page's activation mail), whose subject is configured (emailotp.subject,
// selfService.mail.subject); the body expression had no way to read it, so the configured
// subject was silently dropped. It is the variable subject, "" for SMS and calls.
func TestHTTPGatewaySubject(t *testing.T) {
	t.Parallel()
	f := &gatewayFake{}
	srv := startGateway(t, f)
	h, err := NewHTTP(HTTPOptions{URL: srv.URL + "/mail", Body: `{"to": to, "subject": subject, "text": message}`})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	if err := h.Send(t.Context(), Message{To: "alice@example.com", Channel: Email, Subject: "Your sign-in code",
		Text: "Your code is 123456", Code: "123456", User: "alice"}); err != nil {
		t.Fatal(err)
	}
	got := f.received()
	const want = `{"subject":"Your sign-in code","text":"Your code is 123456","to":"alice@example.com"}`
	if len(got) != 1 || got[0].Body != want {
		t.Errorf("gateway received %+v, want the body %s", got, want)
	}
}
