package delivery

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/transform"
)

// Variables of an HTTP gateway's body expression, all strings.
const (
	celTo      = "to"
	celCode    = "code"
	celMessage = "message"
	celUser    = "user"
	// celSubject is an e-mail's subject; "" for SMS and calls.
	celSubject = "subject"
	// bodyKey is the entry of the wrapper map (see compileBody) that holds the body.
	bodyKey = "body"
)

// Header is a request header of an HTTP gateway; its value is typically an API key.
type Header struct {
	Name  string
	Value config.Secret
}

// HTTPOptions configure a generic HTTP gateway: one request per message, its body written by
// the operator in emfa's CEL dialect (transform package).
type HTTPOptions struct {
	// URL is the gateway's endpoint, http or https. The scheme is the operator's choice: an
	// on-premises gateway may well be plain http. Only scheme, host and path appear in errors,
	// so a key in the query stays out of logs.
	URL string
	// Method is POST (the default), PUT or PATCH.
	Method string
	// Headers are set on every request, after the default Content-Type, which they may
	// replace (application/x-www-form-urlencoded for a form built with jsonToFormURLEncoded).
	Headers []Header
	// Body is a CEL expression over the string variables to, code, message (the rendered
	// text), user and subject (an e-mail's; "" for SMS and calls). A map is sent as JSON
	// (Content-Type application/json); a string is sent as it is (text/plain;
	// charset=utf-8). For example
	//
	//	{"to": to, "text": message, "sender": "EMFA"}
	//	jsonToFormURLEncoded({"To": to, "Body": message}, true)
	Body string
	// ExpectedStatus lists the statuses that mean the gateway accepted the message; any 2xx
	// when empty.
	ExpectedStatus []int
	// Timeout bounds one send; DefaultTimeout when unset.
	Timeout time.Duration
}

var _ slog.LogValuer = HTTPOptions{}

// LogValue shows the endpoint without its query and the header names, never their values.
func (o HTTPOptions) LogValue() slog.Value {
	names := make([]string, len(o.Headers))
	for i, h := range o.Headers {
		names[i] = h.Name
	}
	u := o.URL
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return slog.GroupValue(
		slog.String("url", u),
		slog.String("method", o.Method),
		slog.Any("headers", names),
	)
}

// HTTP sends codes through an operator's own HTTP gateway.
type HTTP struct {
	url      string
	method   string
	headers  []Header
	body     *transform.Program
	expected []int
	timeout  time.Duration
	hc       *http.Client
}

var _ Sender = (*HTTP)(nil)

// NewHTTP validates o, reporting every problem at once, compiles the body expression and
// returns the sender.
func NewHTTP(o HTTPOptions) (*HTTP, error) {
	var errs []error
	if u, err := url.Parse(o.URL); err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
		errs = append(errs, errors.New("url: want an absolute http or https URL"))
	} else if u.User != nil {
		errs = append(errs, errors.New("url: user info: put credentials in a header"))
	}
	method := strings.ToUpper(cmp.Or(o.Method, http.MethodPost))
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		errs = append(errs, errors.New("method: want POST, PUT or PATCH"))
	}
	for i, h := range o.Headers {
		if err := checkHeader(h); err != nil {
			errs = append(errs, fmt.Errorf("headers[%d]: %w", i, err))
		}
	}
	for _, s := range o.ExpectedStatus {
		if s < 100 || s > 599 {
			errs = append(errs, fmt.Errorf("expectedStatus %d: not an HTTP status", s))
		}
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %s: negative", o.Timeout))
	}
	prg, err := compileBody(o.Body)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("http: %w", errors.Join(errs...))
	}
	timeout := cmp.Or(o.Timeout, DefaultTimeout)
	return &HTTP{
		url:      o.URL,
		method:   method,
		headers:  slices.Clone(o.Headers),
		body:     prg,
		expected: slices.Clone(o.ExpectedStatus),
		timeout:  timeout,
		hc:       newHTTPClient(timeout),
	}, nil
}

// checkHeader accepts a header the sender may set: a valid name that is not one net/http
// manages itself, and a value on one line.
func checkHeader(h Header) error {
	if h.Name == "" || strings.IndexFunc(h.Name, func(r rune) bool { return !isTokenChar(r) }) >= 0 {
		return errors.New("name: not a header name")
	}
	switch http.CanonicalHeaderKey(h.Name) {
	case "Host", "Content-Length", "Transfer-Encoding", "Connection":
		return errors.New("name: set by the client")
	}
	if strings.ContainsAny(h.Value.Reveal(), "\r\n\x00") {
		return errors.New("value: holds a line break or NUL")
	}
	return nil
}

// isTokenChar reports whether r may appear in a header name (RFC 9110 §5.6.2 tchar).
func isTokenChar(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
		strings.ContainsRune("!#$%&'*+-.^_`|~", r)
}

// bodyEnv is the CEL environment of body expressions, shared by every gateway.
var bodyEnv = sync.OnceValues(func() (*transform.Env, error) {
	return transform.NewEnvWithVariables(map[string]*cel.Type{
		celTo:      cel.StringType,
		celCode:    cel.StringType,
		celMessage: cel.StringType,
		celUser:    cel.StringType,
		celSubject: cel.StringType,
	})
})

// syntaxEnv parses an expression alone; it needs no variables or functions.
var syntaxEnv = sync.OnceValues(func() (*cel.Env, error) { return cel.NewEnv() })

// inputPosition matches the positions in CEL's messages.
var inputPosition = regexp.MustCompile(`<input>:(\d+):(\d+)`)

// compileBody compiles a body expression once, for every send.
//
// transform.Compile accepts only expressions whose result can be a map, as a webhook transform
// must; a gateway body may also be a string. The expression is therefore compiled as the value
// of a map, {"body": <expr>}, and Send takes the entry back out. The expression is first parsed
// on its own, so that one which is not a whole expression (`to}, "x": {code`) cannot complete
// the wrapper into something else; it sits on lines of its own in the wrapper, so a comment at
// its end stays inside, and CEL's positions shift by exactly one line, which is taken back.
func compileBody(src string) (*transform.Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("body: missing")
	}
	senv, err := syntaxEnv()
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	if _, iss := senv.Parse(src); iss.Err() != nil {
		return nil, fmt.Errorf("body: %w", iss.Err())
	}
	env, err := bodyEnv()
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	prg, err := transform.Compile(env, "{\""+bodyKey+"\":\n"+src+"\n}")
	if err != nil {
		return nil, errors.New("body: " + bodyPositions(err.Error()))
	}
	// A dry run with plausible values catches a body of the wrong type (a number, a list) now
	// rather than at a user's first login. An evaluation error proves nothing about real
	// values, so only a wrong type is refused.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	out, err := prg.Eval(ctx, transform.Vars{
		celTo: "+15555550123", celCode: "123456", celMessage: "Your code is 123456", celUser: "user@example.com",
		celSubject: "Your sign-in code",
	})
	if err == nil {
		if _, _, err := encodeBody(out[bodyKey]); err != nil {
			return nil, err
		}
	}
	return prg, nil
}

// bodyPositions is a CEL message with its positions in the wrapper (compileBody) taken
// back to the operator's expression, one line up.
func bodyPositions(msg string) string {
	return inputPosition.ReplaceAllStringFunc(msg, func(pos string) string {
		m := inputPosition.FindStringSubmatch(pos)
		line, _ := strconv.Atoi(m[1])
		return "<input>:" + strconv.Itoa(max(line-1, 1)) + ":" + m[2]
	})
}

// encodeBody renders an evaluated body: a map as JSON, a string as it is.
func encodeBody(v any) (payload []byte, contentType string, err error) {
	switch b := v.(type) {
	case string:
		return []byte(b), "text/plain; charset=utf-8", nil
	case map[string]any:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		// A gateway sees "<" and "&" as written, not as \u003c.
		enc.SetEscapeHTML(false)
		if err := enc.Encode(b); err != nil {
			return nil, "", fmt.Errorf("body: %w", err)
		}
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), "application/json", nil
	}
	return nil, "", fmt.Errorf("body: result is %s, want a map or a string", jsonKind(v))
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case int64, uint64, float64:
		return "a number"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%T", v)
}

// Kind is "http".
func (*HTTP) Kind() string { return "http" }

// Serves reports true for every channel: the gateway is the operator's to choose.
func (*HTTP) Serves(c Channel) bool { return c == SMS || c == Email || c == Voice }

// Close closes the sender's idle connections.
func (h *HTTP) Close() { h.hc.CloseIdleConnections() }

// Send renders the body and makes the request. A status outside the expected ones is a
// *StatusError without the gateway's answer, which may echo the code back.
func (h *HTTP) Send(ctx context.Context, m Message) error {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	out, err := h.body.Eval(ctx, transform.Vars{
		celTo: m.To, celCode: m.Code, celMessage: m.Text, celUser: m.User, celSubject: m.Subject,
	})
	if err != nil {
		if msg := bodyPositions(err.Error()); msg != err.Error() {
			err = provider.Retold(err, msg)
		}
		return fmt.Errorf("http: %w", err)
	}
	payload, ctype, err := encodeBody(out[bodyKey])
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, h.method, h.url, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("User-Agent", "emfa")
	set := map[string]bool{}
	for _, hd := range h.headers {
		k := http.CanonicalHeaderKey(hd.Name)
		if !set[k] {
			// The operator's header replaces a default; the same name twice adds both values.
			req.Header.Del(k)
			set[k] = true
		}
		req.Header.Add(k, hd.Value.Reveal())
	}
	status, _, err := do(h.hc, req, h.accepts)
	if err != nil {
		return fmt.Errorf("http: send to %s: %w", maskRecipient(m.To), err)
	}
	if !h.accepts(status) {
		return fmt.Errorf("http: send to %s: %w", maskRecipient(m.To), &StatusError{Status: status})
	}
	return nil
}

func (h *HTTP) accepts(status int) bool {
	if len(h.expected) == 0 {
		return status >= 200 && status <= 299
	}
	return slices.Contains(h.expected, status)
}
