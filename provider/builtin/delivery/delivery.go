// Package delivery sends the one-time codes of the built-in SMS, e-mail and voice-call
// factors: over SMTP, through Twilio's Messaging and Voice APIs, through an operator's own
// HTTP gateway (its request body written in CEL), or, for development only, into the log. It also holds what the factors
// need around a send: a tiny message template, and validation and masking of phone numbers and
// e-mail addresses.
//
// A sender is built once from its options, which it validates, and is then safe for concurrent
// use. Send makes one attempt and never retries: the factor decides, and a code sent twice
// is worse than a clear error.
//
// The code is a secret for its lifetime: no sender puts it (or the rendered text holding it)
// in an error, and Message hides it from slog. The log sender is the one exception, by design.
package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/emfa/emfa/provider"
)

// Channel is what a code travels over.
type Channel string

// The channels of the built-in factors.
const (
	SMS   Channel = "sms"
	Email Channel = "email"
	// Voice is a phone call that reads the message out.
	Voice Channel = "voice"
)

// Message is one code to deliver.
type Message struct {
	// To is the recipient: an E.164 phone number for SMS and voice, an e-mail address for
	// e-mail.
	To string
	// Channel is how the message travels; "" is SMS, for senders of SMS alone.
	Channel Channel
	// Subject is the e-mail subject; SMS senders ignore it.
	Subject string
	// Text is the rendered message, code included.
	Text string
	// HTML, when set, is an e-mail's HTML alternative to Text (an activation link's mail).
	HTML string
	// Code is the one-time code alone, and User the user it is for; the HTTP gateway's body
	// expression sees both, and Subject.
	Code string
	User string
}

var _ slog.LogValuer = Message{}

// LogValue shows the masked recipient, the subject and the user, never the code or the text
// that holds it.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("to", maskRecipient(m.To)),
		slog.String("subject", m.Subject),
		slog.String("user", m.User),
	)
}

// Sender delivers a message over one or both channels.
type Sender interface {
	// Send makes one delivery attempt, bounded by ctx and the sender's own timeout. An
	// error names the sender's kind and never holds a credential or the code.
	Send(ctx context.Context, m Message) error
	// Kind names the sender ("smtp", "twilio", "http", "log") for logs and metrics.
	Kind() string
	// Serves reports whether the sender can deliver over c: a configuration that puts an
	// SMTP sender behind the SMS factor is refused with it.
	Serves(c Channel) bool
}

// StatusError is a gateway's refusal: an HTTP status outside the expected ones, with the
// gateway's own error code and message when it gives them (Twilio does).
type StatusError struct {
	Status int
	// Code is the gateway's error code (Twilio's 21211, "invalid To number"), 0 if none.
	Code int
	// Message is the gateway's explanation, bounded in length, with the recipient masked.
	Message string
}

// Error reads "status 400 code 21211: Invalid 'To' Phone Number: +44 ******3456".
func (e *StatusError) Error() string {
	var b strings.Builder
	b.WriteString("status ")
	b.WriteString(strconv.Itoa(e.Status))
	if e.Code != 0 {
		b.WriteString(" code ")
		b.WriteString(strconv.Itoa(e.Code))
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Temporary reports whether the same message may go through later (429 and 5xx), so a
// caller can tell a gateway outage from a refused recipient.
func (e *StatusError) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// DefaultTimeout bounds one send of any sender, connecting included, when its options leave
// the timeout unset. Verify holds a login for the whole of an initiate call.
const DefaultTimeout = 10 * time.Second

// Limits of the HTTP-based senders.
const (
	// maxResponseBytes bounds what is read of a gateway's answer: only a status and a short
	// error are wanted from it.
	maxResponseBytes = 64 << 10
	// maxErrorMessage bounds a gateway's error message copied into an error.
	maxErrorMessage = 256
)

// Transport sizing, as in provider/remote: Go's default of 2 idle connections per host makes
// every concurrent send beyond two open (and close) a connection of its own; the cap on
// connections keeps a gateway that hangs from taking every socket.
const (
	maxIdleConnsPerHost = 64
	maxConnsPerHost     = 256
	idleConnTimeout     = 90 * time.Second
	tlsHandshakeTimeout = 10 * time.Second
	// MaxResponseHeaderBytes bounds a gateway's response headers (Go's default lets
	// ~10 MB through); the body is read within its own bound.
	MaxResponseHeaderBytes = 64 << 10
)

// newHTTPClient is a pooled client whose dial, TLS handshake and wait for response headers
// are each bounded by timeout, and which does not follow redirects.
func newHTTPClient(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   timeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSHandshakeTimeout:    min(tlsHandshakeTimeout, timeout),
		ResponseHeaderTimeout:  timeout,
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        idleConnTimeout,
		MaxIdleConnsPerHost:    maxIdleConnsPerHost,
		MaxConnsPerHost:        maxConnsPerHost,
		ForceAttemptHTTP2:      true,
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
	}
	return &http.Client{Transport: tr, CheckRedirect: noRedirect}
}

// noRedirect hands a 3xx back as the answer: following it would send the credentials and
// the code somewhere the configuration does not name.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// drainGrace bounds the drain of an accepted answer's body (do).
const drainGrace = time.Second

// errTooLarge is returned (wrapped) when a gateway's answer exceeds maxResponseBytes.
var errTooLarge = errors.New("response body too large")

// do sends req and reads the answer whole, up to maxResponseBytes, unless its status is
// one accepted says means the gateway took the message: then the status is the answer, and
// the body, which only a refusal is read for, is drained as far as it comes within
// drainGrace (to reuse the connection) with whatever goes wrong in it ignored. The body is
// always closed, so the connection goes back to the pool or is discarded.
func do(hc *http.Client, req *http.Request, accepted func(status int) bool) (status int, body []byte, err error) {
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	resp, err := hc.Do(req.WithContext(ctx))
	if err != nil {
		return 0, nil, requestError(req, err)
	}
	defer resp.Body.Close()
	if accepted(resp.StatusCode) {
		// A body held open must not hold the answer for the time left: the message is on
		// its way, and the connection is only worth a moment.
		stop := time.AfterFunc(drainGrace, cancel)
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		stop.Stop()
		return resp.StatusCode, nil, nil
	}
	if resp.ContentLength > maxResponseBytes {
		return 0, nil, fmt.Errorf("%s: %w: %d bytes announced", where(req), errTooLarge, resp.ContentLength)
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return 0, nil, requestError(req, err)
	}
	if n > maxResponseBytes {
		return 0, nil, fmt.Errorf("%s: %w: more than %d bytes", where(req), errTooLarge, maxResponseBytes)
	}
	return resp.StatusCode, buf.Bytes(), nil
}

// requestError names the call without its query, which may carry a gateway's API key, and
// drops net/url's wrapper, whose message repeats the whole URL.
func requestError(req *http.Request, err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return fmt.Errorf("%s: %w", where(req), err)
}

// where names a call: its method, scheme, host and path, the path up to any "?" a
// template put in it (sent escaped, as %3F; a key may follow it).
func where(req *http.Request) string {
	return req.Method + " " + provider.SafeTarget(req.URL)
}

// truncate bounds s to n bytes at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// maskCode is msg with code masked wherever it appears, as sent or as a call says it,
// its characters apart ("1, 2, 3, 4, 5, 6"): a gateway's error may quote either.
func maskCode(msg, code string) string {
	if code == "" {
		return msg
	}
	parts := make([]string, 0, len(code))
	for _, r := range code {
		parts = append(parts, regexp.QuoteMeta(string(r)))
	}
	re := regexp.MustCompile(strings.Join(parts, `[^\p{L}\p{N}]{0,3}`))
	return re.ReplaceAllLiteralString(msg, strings.Repeat("*", len(code)))
}

// maskRecipient masks a phone number or an e-mail address for a log or an error.
func maskRecipient(to string) string {
	if strings.Contains(to, "@") {
		return MaskEmail(to)
	}
	return MaskPhone(to)
}
