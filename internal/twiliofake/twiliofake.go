// Package twiliofake is an in-process fake of Twilio's Programmable Messaging and Voice APIs
// for tests, written from Twilio's documentation of the Message and Call resources, not
// from any client:
//
//	POST /2010-04-01/Accounts/{AccountSid}/Messages.json
//	POST /2010-04-01/Accounts/{AccountSid}/Calls.json
//
// with HTTP Basic authentication (the Account SID and its Auth Token), a form body
// (messages: To; From or MessagingServiceSid; Body — calls: To, From, and the TwiML to run
// in Twiml), and a 201 answer carrying the resource as JSON. Refusals have Twilio's error
// shape ({"code", "message", "more_info", "status"}) and codes: 20003 authentication, 20404
// unknown resource, 21602 no body, 21603 no sender, 21604 no recipient, 21211 invalid
// recipient, 21617 body over 1600 characters; for calls 21201 no recipient, 21213 no
// caller, 21212 invalid caller, 21205 no TwiML, 12100 TwiML that does not parse.
//
// The fake keeps every message and call it accepts, so a test reads the code that was
// "sent" or "said"; a test can also make it refuse everything with an error of its
// choosing.
package twiliofake

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Options configure a Server.
type Options struct {
	// AccountSID ("AC" and 32 hex digits) and AuthToken are the credentials requests must
	// carry; the SID is also in the path.
	AccountSID string
	AuthToken  string
	// Clock stamps messages; default time.Now.
	Clock func() time.Time
}

// Message is one accepted message.
type Message struct {
	SID                 string
	To                  string
	From                string
	MessagingServiceSID string
	Body                string
	DateCreated         time.Time
}

// Call is one accepted call.
type Call struct {
	SID         string
	To          string
	From        string
	Twiml       string
	DateCreated time.Time
}

// Say is what a call's TwiML says, and how many times (its loop attribute; Twilio's
// default is once), or an error when the TwiML is not one <Response> with one <Say>.
func (c Call) Say() (text string, loop int, err error) {
	var doc struct {
		XMLName xml.Name `xml:"Response"`
		Say     []struct {
			Loop string `xml:"loop,attr"`
			Text string `xml:",chardata"`
		} `xml:"Say"`
	}
	if err := xml.Unmarshal([]byte(c.Twiml), &doc); err != nil {
		return "", 0, err
	}
	if len(doc.Say) != 1 {
		return "", 0, fmt.Errorf("%d <Say> elements", len(doc.Say))
	}
	loop = 1
	if l := doc.Say[0].Loop; l != "" {
		if loop, err = strconv.Atoi(l); err != nil {
			return "", 0, fmt.Errorf("loop %q", l)
		}
	}
	return doc.Say[0].Text, loop, nil
}

// Error is a refusal in Twilio's shape.
type Error struct {
	Status  int    // HTTP status, e.g. 400
	Code    int    // Twilio error code, e.g. 21211
	Message string // e.g. "Invalid 'To' Phone Number: +15005550001"
}

// Server is a running fake; its methods are safe for concurrent use.
type Server struct {
	opts Options
	ts   *httptest.Server

	mu       sync.Mutex
	messages []Message
	calls    []Call
	requests int
	fail     *Error
}

// New starts a fake on loopback and stops it when the test ends.
func New(tb testing.TB, o Options) *Server {
	tb.Helper()
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if len(o.AccountSID) != 34 || !strings.HasPrefix(o.AccountSID, "AC") || o.AuthToken == "" {
		tb.Fatalf("twiliofake: want an AccountSID (AC and 32 hex digits) and an AuthToken")
	}
	s := &Server{opts: o}
	s.ts = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	tb.Cleanup(s.ts.Close)
	return s
}

// URL is the base URL to configure in place of https://api.twilio.com.
func (s *Server) URL() string { return s.ts.URL }

// Messages returns the accepted messages, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// To returns the messages accepted for the number to, oldest first.
func (s *Server) To(to string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		if m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// Calls returns the accepted calls, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Requests counts every request received, refused ones included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Fail makes every authenticated message or call creation answer e, until Fail(nil).
func (s *Server) Fail(e *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = e
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	account := "/2010-04-01/Accounts/" + s.opts.AccountSID
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(s.opts.AccountSID)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(s.opts.AuthToken)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeError(w, Error{Status: http.StatusUnauthorized, Code: 20003, Message: "Authenticate"})
		return
	}
	if r.URL.Path != account+"/Messages.json" && r.URL.Path != account+"/Calls.json" {
		writeError(w, Error{Status: http.StatusNotFound, Code: 20404,
			Message: "The requested resource " + r.URL.Path + " was not found"})
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, Error{Status: http.StatusMethodNotAllowed, Code: 20004, Message: "Method not allowed"})
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		writeError(w, Error{Status: http.StatusBadRequest, Code: 21604, Message: "A 'To' phone number is required."})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, Error{Status: http.StatusBadRequest, Code: 20001, Message: "Invalid form body"})
		return
	}
	if strings.HasSuffix(r.URL.Path, "/Calls.json") {
		s.createCall(w, r)
		return
	}
	to, from, service, body := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("MessagingServiceSid"), r.PostForm.Get("Body")
	switch {
	case to == "":
		writeError(w, Error{Status: 400, Code: 21604, Message: "A 'To' phone number is required."})
		return
	case from == "" && service == "":
		writeError(w, Error{Status: 400, Code: 21603, Message: "A 'From' or 'MessagingServiceSid' parameter is required to send a message."})
		return
	case body == "":
		writeError(w, Error{Status: 400, Code: 21602, Message: "Message body is required."})
		return
	case !e164(to):
		writeError(w, Error{Status: 400, Code: 21211, Message: "Invalid 'To' Phone Number: " + to})
		return
	case utf8.RuneCountInString(body) > 1600:
		writeError(w, Error{Status: 400, Code: 21617, Message: "The concatenated message body exceeds the 1600 character limit."})
		return
	}
	m := Message{SID: sid("SM"), To: to, From: from, MessagingServiceSID: service, Body: body, DateCreated: s.opts.Clock().UTC()}
	if !s.accept(w, func() { s.messages = append(s.messages, m) }) {
		return
	}

	var svc, fromField any = nil, from
	if service != "" {
		svc = service
		if from == "" {
			fromField = nil // Twilio picks a number of the service later
		}
	}
	date := m.DateCreated.Format(time.RFC1123Z)
	uri := "/2010-04-01/Accounts/" + s.opts.AccountSID + "/Messages/" + m.SID + ".json"
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{
		"account_sid": s.opts.AccountSID, "api_version": "2010-04-01", "body": body,
		"date_created": date, "date_sent": nil, "date_updated": date, "direction": "outbound-api",
		"error_code": nil, "error_message": nil, "from": fromField, "messaging_service_sid": svc,
		"num_media": "0", "num_segments": strconv.Itoa(segments(body)), "price": nil, "price_unit": "USD",
		"sid": m.SID, "status": "queued", "to": to, "uri": uri,
		"subresource_uris": map[string]string{"media": strings.TrimSuffix(uri, ".json") + "/Media.json"},
	})
}

// accept keeps what keep records, unless a scripted failure (Fail) answers instead.
func (s *Server) accept(w http.ResponseWriter, keep func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.fail; f != nil {
		writeError(w, *f)
		return false
	}
	keep()
	return true
}

// createCall is Calls.json: a call to To from From that runs the TwiML given.
func (s *Server) createCall(w http.ResponseWriter, r *http.Request) {
	to, from, twiml := r.PostForm.Get("To"), r.PostForm.Get("From"), r.PostForm.Get("Twiml")
	var doc struct {
		XMLName xml.Name `xml:"Response"`
	}
	switch {
	case to == "":
		writeError(w, Error{Status: 400, Code: 21201, Message: "No 'To' number is specified"})
		return
	case from == "":
		writeError(w, Error{Status: 400, Code: 21213, Message: "No 'From' number is specified"})
		return
	case !e164(to):
		writeError(w, Error{Status: 400, Code: 21211, Message: "Invalid 'To' Phone Number: " + to})
		return
	case !e164(from):
		writeError(w, Error{Status: 400, Code: 21212, Message: "Invalid 'From' Phone Number: " + from})
		return
	case twiml == "":
		writeError(w, Error{Status: 400, Code: 21205, Message: "Url, Twiml or ApplicationSid is required"})
		return
	case xml.Unmarshal([]byte(twiml), &doc) != nil:
		writeError(w, Error{Status: 400, Code: 12100, Message: "Document parse failure"})
		return
	}
	c := Call{SID: sid("CA"), To: to, From: from, Twiml: twiml, DateCreated: s.opts.Clock().UTC()}
	if !s.accept(w, func() { s.calls = append(s.calls, c) }) {
		return
	}

	date := c.DateCreated.Format(time.RFC1123Z)
	uri := "/2010-04-01/Accounts/" + s.opts.AccountSID + "/Calls/" + c.SID + ".json"
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{
		"account_sid": s.opts.AccountSID, "api_version": "2010-04-01", "date_created": date, "date_updated": date,
		"direction": "outbound-api", "duration": nil, "end_time": nil, "from": from, "from_formatted": from,
		"parent_call_sid": nil, "price": nil, "price_unit": "USD", "sid": c.SID, "start_time": nil,
		"status": "queued", "to": to, "to_formatted": to, "uri": uri,
	})
}

func writeError(w http.ResponseWriter, e Error) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(map[string]any{
		"code": e.Code, "message": e.Message, "status": e.Status,
		"more_info": fmt.Sprintf("https://www.twilio.com/docs/errors/%d", e.Code),
	})
}

// e164 is '+' and 7 to 15 digits, the first not 0.
func e164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// segments is how many SMS the body takes: 160 GSM-7 characters, or 153 per segment when
// concatenated; 70 and 67 when any character needs UCS-2 (approximated as non-ASCII).
func segments(body string) int {
	n, single, multi := utf8.RuneCountInString(body), 160, 153
	for _, r := range body {
		if r > 0x7f {
			single, multi = 70, 67
			break
		}
	}
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

// sid is a Twilio-style identifier: a two-letter prefix and 32 hex digits.
func sid(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
