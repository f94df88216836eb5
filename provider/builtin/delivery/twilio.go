package delivery

import (
	"cmp"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/emfa/emfa/config"
)

// DefaultTwilioBaseURL is Twilio's REST API.
const DefaultTwilioBaseURL = "https://api.twilio.com"

// TwilioOptions configure a Twilio sender: Programmable Messaging for SMS, Programmable
// Voice for calls.
type TwilioOptions struct {
	// AccountSID is the account, "AC" and 32 hex digits; with AuthToken it is the HTTP Basic
	// credential. (An API key SID and secret cannot stand in: the SID is also in the path.)
	AccountSID string
	AuthToken  config.Secret
	// From is the sender: an E.164 number, a Messaging Service SID ("MG" and 32 hex digits),
	// or an alphanumeric sender ID (up to 11 letters, digits and spaces, at least one letter)
	// where the destination country allows one.
	From string
	// BaseURL replaces DefaultTwilioBaseURL: a regional edge, or a test's fake. It must be
	// https, but for a loopback address.
	BaseURL string
	// Timeout bounds one send; DefaultTimeout when unset.
	Timeout time.Duration
	// HTTPClient, when set, is used instead of a client of the sender's own (a proxy, a test
	// server's client); Timeout still bounds each send.
	HTTPClient *http.Client
}

var _ slog.LogValuer = TwilioOptions{}

// LogValue shows the account and sender, never the token.
func (o TwilioOptions) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("accountSid", o.AccountSID),
		slog.String("from", o.From),
		slog.String("baseUrl", o.BaseURL),
	)
}

// Twilio sends SMS through Twilio's Messages resource, and places calls that read the
// message out through its Calls resource.
type Twilio struct {
	account   string // …/2010-04-01/Accounts/{sid}
	sid       string
	token     config.Secret
	fromField string // "From" or "MessagingServiceSid"
	from      string
	timeout   time.Duration
	hc        *http.Client
	own       bool // hc is ours to close
}

var _ Sender = (*Twilio)(nil)

// NewTwilio validates o, reporting every problem at once, and returns the sender.
func NewTwilio(o TwilioOptions) (*Twilio, error) {
	var errs []error
	if !isSID(o.AccountSID, "AC") {
		errs = append(errs, errors.New("accountSid: want AC and 32 hex digits"))
	}
	if o.AuthToken == "" {
		errs = append(errs, errors.New("authToken: missing"))
	} else if strings.ContainsFunc(o.AuthToken.Reveal(), unicode.IsSpace) {
		// Read with its trailing newline, it would make every send a 401. Not repeated.
		errs = append(errs, errors.New("authToken: must not hold white space or a line break (a secret read with its trailing newline?)"))
	}
	fromField := "From"
	switch {
	case isSID(o.From, "MG"):
		fromField = "MessagingServiceSid"
	case ValidE164(o.From), isAlphanumericSenderID(o.From):
	default:
		errs = append(errs, errors.New("from: want an E.164 number, a Messaging Service SID or an alphanumeric sender ID"))
	}
	base := strings.TrimRight(cmp.Or(o.BaseURL, DefaultTwilioBaseURL), "/")
	if err := checkBaseURL(base); err != nil {
		errs = append(errs, fmt.Errorf("baseUrl: %w", err))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %s: negative", o.Timeout))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("twilio: %w", errors.Join(errs...))
	}
	timeout := cmp.Or(o.Timeout, DefaultTimeout)
	t := &Twilio{
		account:   base + "/2010-04-01/Accounts/" + o.AccountSID,
		sid:       o.AccountSID,
		token:     o.AuthToken,
		fromField: fromField,
		from:      o.From,
		timeout:   timeout,
		hc:        o.HTTPClient,
	}
	if t.hc == nil {
		t.hc, t.own = newHTTPClient(timeout), true
	}
	return t, nil
}

// isSID reports whether s is a Twilio SID of the given two-letter prefix: 32 hex digits follow.
func isSID(s, prefix string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for _, c := range s[2:] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// isAlphanumericSenderID reports whether s is a sender ID as Twilio accepts it: 1 to 11
// characters of A-Z, a-z, 0-9 and space, at least one a letter.
func isAlphanumericSenderID(s string) bool {
	if len(s) == 0 || len(s) > 11 || strings.TrimSpace(s) != s {
		return false
	}
	letter := false
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
			letter = true
		case '0' <= c && c <= '9', c == ' ':
		default:
			return false
		}
	}
	return letter
}

// checkBaseURL accepts an absolute https URL without query, or http to a loopback host (a
// test's fake): the account token must not cross a network in clear.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	switch {
	case u.Host == "":
		return errors.New("not an absolute URL")
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return errors.New("query, fragment or user info (put no credentials in it)")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && config.LoopbackHost(u.Hostname()):
		return nil
	}
	return errors.New("want https (http only to a loopback host)")
}

// Kind is "twilio".
func (*Twilio) Kind() string { return "twilio" }

// Serves reports true for SMS, and for voice when the sender is a phone number: a call
// needs a caller ID, which a Messaging Service or an alphanumeric sender is not.
func (t *Twilio) Serves(c Channel) bool {
	return c == SMS || c == Voice && t.fromField == "From" && ValidE164(t.from)
}

// Close closes the idle connections of the sender's own client; a client given in the options
// is left to its owner.
func (t *Twilio) Close() {
	if t.own {
		t.hc.CloseIdleConnections()
	}
}

// twilioError is the body of a Twilio error answer.
type twilioError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// Send creates a Message resource for an SMS, a Call resource for a voice message:
// Twilio has accepted the SMS or queued the call (201), not delivered it. A refusal is a
// *StatusError with Twilio's error code and message.
func (t *Twilio) Send(ctx context.Context, m Message) error {
	if !ValidE164(m.To) {
		return fmt.Errorf("twilio: recipient %s: not an E.164 number", MaskPhone(m.To))
	}
	resource, form := "/Messages.json", url.Values{"To": {m.To}, t.fromField: {t.from}, "Body": {m.Text}}
	switch m.Channel {
	case SMS, "":
	case Voice:
		if !t.Serves(Voice) {
			return errors.New("twilio: a call needs a phone number as from, not a Messaging Service or an alphanumeric sender ID")
		}
		resource, form = "/Calls.json", url.Values{"To": {m.To}, "From": {t.from}, "Twiml": {sayTwice(m.Text)}}
	default:
		return fmt.Errorf("twilio: cannot deliver %s", m.Channel)
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.account+resource, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("twilio: %w", err)
	}
	req.SetBasicAuth(t.sid, t.token.Reveal())
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "emfa")
	status, body, err := do(t.hc, req, twilioAccepted)
	if err != nil {
		return fmt.Errorf("twilio: send to %s: %w", MaskPhone(m.To), err)
	}
	if twilioAccepted(status) {
		return nil
	}
	serr := &StatusError{Status: status}
	var te twilioError
	if json.Unmarshal(body, &te) == nil && te.Message != "" {
		serr.Code = te.Code
		// Twilio's messages quote the To number ("The 'To' number +1555… is not valid"),
		// and may quote the body, code and all: neither reaches a log or an audit reason.
		msg := strings.ReplaceAll(te.Message, m.To, MaskPhone(m.To))
		msg = maskCode(msg, m.Code)
		serr.Message = truncate(msg, maxErrorMessage)
	} else {
		serr.Message = http.StatusText(status)
	}
	return fmt.Errorf("twilio: send to %s: %w", MaskPhone(m.To), serr)
}

// twilioAccepted reports whether Twilio took the message or call: it created the
// resource (201), or answered it (200).
func twilioAccepted(status int) bool { return status == http.StatusCreated || status == http.StatusOK }

// sayTwice is the TwiML of a call that reads text out twice (Twilio's <Say loop="2">),
// so a user who missed a digit hears it again without a second call.
func sayTwice(text string) string {
	var b strings.Builder
	b.WriteString(`<Response><Say loop="2">`)
	xml.EscapeText(&b, []byte(text))
	b.WriteString(`</Say></Response>`)
	return b.String()
}
