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
