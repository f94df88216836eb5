package twiliofake_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/twiliofake"
	"github.com/emfa/emfa/provider/builtin/delivery"
)

const (
	sid   = "AC0123456789abcdef0123456789abcdef"
	token = "0123456789abcdef0123456789abcdef"
)

func sender(t *testing.T, s *twiliofake.Server, tok, from string) *delivery.Twilio {
	t.Helper()
	snd, err := delivery.NewTwilio(delivery.TwilioOptions{AccountSID: sid, AuthToken: config.Secret(tok), From: from, BaseURL: s.URL()})
	if err != nil {
		t.Fatal(err)
	}
	return snd
}

func TestSend(t *testing.T) {
	s := twiliofake.New(t, twiliofake.Options{AccountSID: sid, AuthToken: token})
	if err := sender(t, s, token, "+15005550006").Send(context.Background(), delivery.Message{To: "+15551230123", Text: "Your code is 123456"}); err != nil {
		t.Fatal(err)
	}
	if err := sender(t, s, token, "MG0123456789abcdef0123456789abcdef").Send(context.Background(), delivery.Message{To: "+447911123456", Text: "Ünïcode 654321"}); err != nil {
		t.Fatal(err)
	}
	got := s.Messages()
	if len(got) != 2 || got[0].To != "+15551230123" || got[0].From != "+15005550006" || got[0].Body != "Your code is 123456" ||
		!strings.HasPrefix(got[0].SID, "SM") || got[1].MessagingServiceSID != "MG0123456789abcdef0123456789abcdef" || got[1].From != "" {
		t.Errorf("messages %+v", got)
	}
	if m := s.To("+447911123456"); len(m) != 1 || m[0].Body != "Ünïcode 654321" {
		t.Errorf("To: %+v", m)
	}
}

// The answer is Twilio's documented Message resource.
func TestAnswerShape(t *testing.T) {
	s := twiliofake.New(t, twiliofake.Options{AccountSID: sid, AuthToken: token})
	form := url.Values{"To": {"+15551230123"}, "From": {"+15005550006"}, "Body": {"hi"}}
	req, _ := http.NewRequest("POST", s.URL()+"/2010-04-01/Accounts/"+sid+"/Messages.json", strings.NewReader(form.Encode()))
	req.SetBasicAuth(sid, token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 201 {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	for k, want := range map[string]any{"account_sid": sid, "to": "+15551230123", "from": "+15005550006", "body": "hi",
		"status": "queued", "direction": "outbound-api", "api_version": "2010-04-01", "num_segments": "1"} {
		if body[k] != want {
			t.Errorf("%s = %v, want %v", k, body[k], want)
		}
	}
	if !strings.HasSuffix(body["uri"].(string), body["sid"].(string)+".json") {
		t.Errorf("uri %v", body["uri"])
	}
}

func TestRefusals(t *testing.T) {
	s := twiliofake.New(t, twiliofake.Options{AccountSID: sid, AuthToken: token})
	cases := []struct {
		name     string
		snd      *delivery.Twilio
		to, text string
		status   int
		code     int
	}{
		{"wrong token", sender(t, s, "wrong", "+15005550006"), "+15551230123", "x", 401, 20003},
		{"no body", sender(t, s, token, "+15005550006"), "+15551230123", "", 400, 21602},
		{"too long", sender(t, s, token, "+15005550006"), "+15551230123", strings.Repeat("x", 1601), 400, 21617},
	}
	for _, c := range cases {
		err := c.snd.Send(context.Background(), delivery.Message{To: c.to, Text: c.text})
		var se *delivery.StatusError
		if !errors.As(err, &se) || se.Status != c.status || se.Code != c.code {
			t.Errorf("%s: %v, want %d/%d", c.name, err, c.status, c.code)
		}
	}
	s.Fail(&twiliofake.Error{Status: 400, Code: 21211, Message: "Invalid 'To' Phone Number: +15551230123"})
	err := sender(t, s, token, "+15005550006").Send(context.Background(), delivery.Message{To: "+15551230123", Text: "x"})
	var se *delivery.StatusError
	if !errors.As(err, &se) || se.Code != 21211 || strings.Contains(err.Error(), "+15551230123") {
		t.Errorf("scripted failure: %v", err)
	}
	s.Fail(nil)
	if err := sender(t, s, token, "+15005550006").Send(context.Background(), delivery.Message{To: "+15551230123", Text: "x"}); err != nil {
		t.Error(err)
	}
	if len(s.Messages()) != 1 || s.Requests() != 5 {
		t.Errorf("%d messages, %d requests", len(s.Messages()), s.Requests())
	}
	// Another account's path, and a missing To, on the raw API.
	for path, want := range map[string]int{"/2010-04-01/Accounts/ACffffffffffffffffffffffffffffffff/Messages.json": 404, "/2010-04-01/Accounts/" + sid + "/Messages.json": 400} {
		req, _ := http.NewRequest("POST", s.URL()+path, strings.NewReader("Body=x&From=%2B15005550006"))
		req.SetBasicAuth(sid, token)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// A voice message is a call whose TwiML says the text twice; the fake keeps it and the
// test reads back what was said.
func TestCall(t *testing.T) {
	s := twiliofake.New(t, twiliofake.Options{AccountSID: sid, AuthToken: token})
	voice := delivery.Message{To: "+15551230123", Channel: delivery.Voice, Text: "Your code is 1, 2, 3 & <4>."}
	if err := sender(t, s, token, "+15005550006").Send(context.Background(), voice); err != nil {
		t.Fatal(err)
	}
	calls := s.Calls()
	if len(calls) != 1 || len(s.Messages()) != 0 || calls[0].To != "+15551230123" || calls[0].From != "+15005550006" ||
		!strings.HasPrefix(calls[0].SID, "CA") {
		t.Fatalf("calls %+v", calls)
	}
	if text, loop, err := calls[0].Say(); err != nil || text != voice.Text || loop != 2 {
		t.Errorf("said %q %d times (%v) in %s", text, loop, err, calls[0].Twiml)
	}

	// A Messaging Service cannot call; a wrong token is refused like a message's.
	if err := sender(t, s, token, "MG0123456789abcdef0123456789abcdef").Send(context.Background(), voice); err == nil {
		t.Error("a call from a Messaging Service SID")
	}
	var se *delivery.StatusError
	if err := sender(t, s, "wrong", "+15005550006").Send(context.Background(), voice); !errors.As(err, &se) || se.Code != 20003 {
		t.Errorf("wrong token: %v", err)
	}
	// The raw API: what a call needs, and the answer's shape.
	for form, want := range map[string]int{
		"From=%2B15005550006&Twiml=%3CResponse%2F%3E":                   21201,
		"To=%2B15551230123&Twiml=%3CResponse%2F%3E":                     21213,
		"To=%2B15551230123&From=%2B15005550006":                         21205,
		"To=%2B15551230123&From=%2B15005550006&Twiml=%3CSay%3E":         12100,
		"To=%2B15551230123&From=SENDER&Twiml=%3CResponse%2F%3E":         21212,
		"To=%2B15551230123&From=%2B15005550006&Twiml=%3CResponse%2F%3E": 0,
	} {
		req, _ := http.NewRequest("POST", s.URL()+"/2010-04-01/Accounts/"+sid+"/Calls.json", strings.NewReader(form))
		req.SetBasicAuth(sid, token)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		switch {
		case want == 0 && (resp.StatusCode != 201 || body["status"] != "queued" || body["to"] != "+15551230123" || body["direction"] != "outbound-api"):
			t.Errorf("%s: %d %v", form, resp.StatusCode, body)
		case want != 0 && (resp.StatusCode != 400 || body["code"] != float64(want)):
			t.Errorf("%s: %d %v, want code %d", form, resp.StatusCode, body, want)
		}
	}
	if len(s.Calls()) != 2 {
		t.Errorf("%d calls", len(s.Calls()))
	}
}
