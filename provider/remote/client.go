package remote

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/emfa/emfa/provider"
)

// Classes of a failed vendor call, for the engine to count (errorKind) and to decide on
// URL ejection. A status code is not an error: do returns every response it could read.
var (
	errRefused   = errors.New("connection refused")
	errTimeout   = errors.New("timeout")
	errTooLarge  = errors.New("response body too large")
	errTruncated = errors.New("response body truncated")
	errCanceled  = errors.New("canceled")
	errNetwork   = errors.New("network error")
	// errHTML and errMalformed: a body read whole that is not the vendor's answer, an HTML
	// page (a proxy's error or login page, say) or one that says it is JSON and does not
	// parse. The call reached the vendor's URL, so they say nothing against it.
	errHTML      = errors.New("HTML page, not an answer")
	errMalformed = errors.New("body does not parse as the JSON it claims to be")
	// errUpstreamAuth: the upstream authentication (a token fetch) failed, so no request
	// reached the vendor and the call says nothing of its URL.
	errUpstreamAuth = errors.New("authentication")
)

// errorKind names the class of an error from do ("refused", "timeout", "too_large",
// "truncated", "canceled", "network"), from decodeBody ("html", "malformed") or from the
// upstream authentication ("authentication": a token fetch refused), or "" for nil, for
// the log and traces.
func errorKind(err error) string {
	if err == nil {
		return ""
	}
	for _, k := range []struct {
		err  error
		name string
	}{
		{errRefused, "refused"}, {errTimeout, "timeout"}, {errTooLarge, "too_large"},
		{errTruncated, "truncated"}, {errCanceled, "canceled"}, {errNetwork, "network"},
		{errHTML, "html"}, {errMalformed, "malformed"},
		// After timeout and canceled, which a token wait may also be.
		{errUpstreamAuth, "authentication"},
	} {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	return "other"
}

// Transport sizing. Go's default of 2 idle connections per host cut a mediator's
// throughput by about 40% at 64 concurrent calls: every call beyond two opened (and
// then closed) a connection of its own.
const (
	maxIdleConnsPerHost = 64
	idleConnTimeout     = 90 * time.Second
	tlsHandshakeTimeout = 10 * time.Second
)

// maxResponseHeaderBytes bounds a vendor's response headers, which maxResponseBytes (the
// body) does not; Go's default lets ~10 MB through.
const maxResponseHeaderBytes = 64 << 10

// response is a vendor's answer, read whole.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// client makes a provider's calls to its vendor: one transport, so connections are
// pooled across calls, built at Provision and closed at Cleanup.
type client struct {
	rt        http.RoundTripper // transport, or its wrapper (tracing)
	transport *http.Transport
	timeout   time.Duration
	maxBody   int64
}

// newClient builds the client for w: its timeouts, body limit, connection bounds and the
// TLS side of its authentication (client certificate, CA), whose files it reads now.
func newClient(w *Webhook, wrap func(http.RoundTripper) http.RoundTripper) (*client, error) {
	tlsCfg, err := clientTLSConfig(w.Authentication)
	if err != nil {
		return nil, err
	}
	timeout := cmp.Or(time.Duration(w.Timeout), DefaultTimeout)
	maxConns := cmp.Or(w.MaxConnsPerHost, DefaultMaxConnsPerHost)
	tr := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   timeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: min(tlsHandshakeTimeout, timeout),
		// No ResponseHeaderTimeout: every request on this transport carries a deadline
		// within timeout, set before it is written (do, send; the token client's
		// Timeout), which bounds the headers and the body alike. The header timer,
		// started after the request is written, could never fire first, and cost a
		// timer on every call.
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       idleConnTimeout,
		MaxIdleConnsPerHost:   min(maxIdleConnsPerHost, maxConns),
		MaxConnsPerHost:       maxConns,
		ForceAttemptHTTP2:     true,
	}
	tr.MaxResponseHeaderBytes = maxResponseHeaderBytes
	var rt http.RoundTripper = tr
	if wrap != nil {
		rt = wrap(tr)
	}
	return &client{
		rt:        rt,
		transport: tr,
		timeout:   timeout,
		maxBody:   cmp.Or(w.MaxResponseBytes, DefaultMaxResponseBytes),
	}, nil
}

// noRedirect hands a 3xx to the caller (the OAuth token client's): following it would
// send the credentials and body somewhere the webhook does not name, and turn a POST into
// a GET.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// roundTrip sends req once, as an http.Client with no cookie jar whose CheckRedirect
// answers http.ErrUseLastResponse would: a 3xx is handed to the caller, since following
// it would send the vendor's credentials and body somewhere the webhook does not name,
// and turn a POST into a GET. Such a client copied the request's header map for the
// redirects it never followed, copied its URL for the jar it did not have, and kept a
// slice of the requests: six allocations a vendor call, 93 → 87 with the loopback
// server's (TestVendorCallNoClientLayer). What else it did is done here: a header
// map for the transport, a URL's userinfo sent as Basic credentials, a 3xx it would have
// followed failed when its Location does not parse, an HTTP answer to https named so.
func (c *client) roundTrip(req *http.Request) (*http.Response, error) {
	if req.RequestURI != "" {
		if req.Body != nil {
			req.Body.Close() // as the transport closes it on its own errors
		}
		return nil, errors.New("http: Request.RequestURI can't be set in client requests")
	}
	if req.Header == nil || (req.URL != nil && req.URL.User != nil && req.Header.Get("Authorization") == "") {
		r := *req // the caller's request is not written
		r.Header = cloneOrMake(req.Header)
		if u := req.URL; u != nil && u.User != nil && r.Header.Get("Authorization") == "" {
			password, _ := u.User.Password()
			r.SetBasicAuth(u.User.Username(), password)
		}
		req = &r
	}
	resp, err := c.rt.RoundTrip(req)
	if err != nil {
		if tlsErr, ok := err.(tls.RecordHeaderError); ok && string(tlsErr.RecordHeader[:]) == "HTTP/" {
			err = http.ErrSchemeMismatch
		}
		return nil, err
	}
	if resp == nil {
		// As http.Client words it; a wrapper (Options.WrapTransport) could answer so.
		return nil, fmt.Errorf("http: RoundTripper implementation (%T) returned a nil *Response with a nil error", c.rt)
	}
	if resp.Body == nil {
		resp.Body = http.NoBody
	}
	if err := refuseSwitch(resp); err != nil {
		return nil, err
	}
	if followed(req, resp.StatusCode) {
		if loc := resp.Header.Get("Location"); loc != "" {
			if _, err := req.URL.Parse(loc); err != nil {
				resp.Body.Close()
				return nil, fmt.Errorf("failed to parse Location header %q: %v", loc, err)
			}
		}
	}
	return resp, nil
}

// errProtocolSwitch is a 101 Switching Protocols answer. No call asks to switch, and
// what follows it is the bare connection, which neither the call's deadline nor the
// token client's timeout reaches: read, it held the call (or the one token fetch every
// call waits for) for as long as the other end kept the connection open.
var errProtocolSwitch = errors.New("answered 101 Switching Protocols, which no call asks for: refused, the connection closed")

// refuseSwitch closes resp's connection and answers errProtocolSwitch when resp is a
// protocol switch, else nil.
func refuseSwitch(resp *http.Response) error {
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil
	}
	if resp.Body != nil {
		resp.Body.Close() // a switch's body is the connection: closed with it
	}
	return errProtocolSwitch
}

// switchRefused is a transport that refuses a protocol switch (refuseSwitch): the
// token client's, whose http.Client would hand the switch to oauth2 to read.
type switchRefused struct{ base http.RoundTripper }

func (s switchRefused) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.base.RoundTrip(req)
	if err != nil || resp == nil {
		return resp, err
	}
	if err := refuseSwitch(resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// cloneOrMake is h's copy, or an empty header for nil.
func cloneOrMake(h http.Header) http.Header {
	if h == nil {
		return make(http.Header)
	}
	return h.Clone()
}

// followed reports whether an http.Client would follow a response of status to req (and
// so parse its Location): 301, 302 and 303, and 307 and 308 unless req has a body it
// cannot send again.
func followed(req *http.Request, status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther:
		return true
	case http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return req.GetBody != nil || req.Body == nil || req.Body == http.NoBody
	}
	return false
}

// do sends req once and reads the whole response, within the client's timeout and ctx's
// deadline, whichever comes first. It never retries: the engine decides (the one retry
// after a 401/403 with a fresh token). Any status is a response, not an error; errors
// wrap one of the err* classes.
func (c *client) do(ctx context.Context, req *http.Request) (*response, error) {
	// The engine's calls come with a deadline within the timeout already (send); theirs
	// need no second timer, nor a copy of req.
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > c.timeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	if req.Context() != ctx {
		req = req.WithContext(ctx)
	}
	resp, err := c.roundTrip(req)
	if err != nil {
		return nil, callError(ctx, req, err, false)
	}
	// Closing without draining is deliberate on the error paths below: the connection is
	// discarded rather than reading a body we are refusing.
	defer resp.Body.Close()
	if resp.ContentLength > c.maxBody {
		return nil, callError(ctx, req, fmt.Errorf("%w: %d bytes announced, limit %d", errTooLarge, resp.ContentLength, c.maxBody), true)
	}
	var body io.Reader = resp.Body
	if !resp.Uncompressed && strings.EqualFold(strings.TrimSpace(resp.Header.Get("Content-Encoding")), "gzip") {
		// The webhook's headers (or a transform) asked for gzip themselves, so net/http
		// left the answer encoded, where it decodes the one it asked for: decoded here
		// alike, and bounded once decoded.
		zr, err := gzip.NewReader(resp.Body)
		switch {
		case errors.Is(err, io.EOF): // no body at all
			body = bytes.NewReader(nil)
		case err != nil:
			return nil, callError(ctx, req, err, true)
		default:
			body = zr
		}
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
	}
	// One byte past the limit tells a body over it; none past math.MaxInt64 ("no limit"),
	// where maxBody+1 would wrap around to a negative limit.
	data, err := readAtMost(body, max(c.maxBody+1, c.maxBody), resp.ContentLength)
	if err != nil {
		return nil, callError(ctx, req, err, true)
	}
	if int64(len(data)) > c.maxBody {
		return nil, callError(ctx, req, fmt.Errorf("%w: more than %d bytes", errTooLarge, c.maxBody), true)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// readAtMost reads r to its end, or to limit bytes if it has more, as bytes.Buffer.ReadFrom
// of an io.LimitReader does, without the LimitedReader: an allocation on every vendor call.
// size, the length announced (0 or less when unknown), is room made at once (maxRoom at
// most), with the read that sees EOF, so that a body of that length is read into one
// allocation. A limit below 0 reads nothing, as io.LimitReader's. A reader that answers
// maxEmptyReads reads in a row with no byte and no error fails with io.ErrNoProgress, as
// bufio's does, rather than have the read spin for ever: it would never look at the
// call's deadline.
func readAtMost(r io.Reader, limit, size int64) ([]byte, error) {
	limit = max(limit, 0)
	b := make([]byte, 0, min(max(size, 0), limit, maxRoom)+bytes.MinRead)
	empty := 0
	for int64(len(b)) < limit {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // more room, as append grows a slice
		}
		n, err := r.Read(b[len(b):min(int64(cap(b)), limit)])
		b = b[:len(b)+n]
		switch {
		case err == io.EOF:
			return b, nil
		case err != nil:
			return b, err
		case n > 0:
			empty = 0
		default:
			if empty++; empty == maxEmptyReads {
				return b, io.ErrNoProgress
			}
		}
	}
	return b, nil
}

// maxRoom bounds the room readAtMost makes at once for the length a vendor announces:
// under a raised maxResponseBytes (math.MaxInt64 too, "no limit") the announced length
// is the vendor's word alone, and all of it made at once panicked past what the heap
// can hold (makeslice: cap out of range), or, at math.MaxInt64, wrapped around with
// bytes.MinRead to a negative capacity, and held memory a body never sent. A body past
// it grows as it is read.
const maxRoom = DefaultMaxResponseBytes

// maxEmptyReads is how many reads in a row readAtMost takes with no byte and no error
// (bufio's maxConsecutiveEmptyReads).
const maxEmptyReads = 100

// Close closes the idle connections. Calls still running keep theirs until they end.
func (c *client) Close() { c.transport.CloseIdleConnections() }

// callError classifies err and names the call without its query, which may carry what a
// transform put there (provider.SafeTarget).
func callError(ctx context.Context, req *http.Request, err error, reading bool) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // its message repeats the full URL
	}
	where := req.Method + " " + provider.SafeTarget(req.URL)
	var class error
	var nerr net.Error
	switch {
	case errors.Is(err, errTooLarge):
		return fmt.Errorf("%s: %w", where, err)
	case errors.Is(err, syscall.ECONNREFUSED):
		class = errRefused
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &nerr) && nerr.Timeout():
		class = errTimeout
	case errors.Is(err, context.Canceled):
		class = errCanceled
	case reading && errors.Is(err, io.ErrUnexpectedEOF):
		class = errTruncated
	default:
		class = errNetwork
	}
	return fmt.Errorf("%s: %w: %w", where, class, err)
}
