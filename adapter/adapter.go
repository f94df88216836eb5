// Package adapter serves IBM Verify's external-MFA contract over HTTP. It is the only
// package that imports echo: routes, inbound authentication, decoding, error mapping and
// middleware live here, and handlers stay thin calls into provider.Provider, so a move to
// another router touches this package alone.
package adapter

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// Options configure the HTTP service.
type Options struct {
	Providers []*provider.Provider
	Auth      Auth
	// RequestTimeout bounds each contract call (default 10 s).
	RequestTimeout time.Duration
	// MaxBodyBytes bounds request bodies (default 64 KiB).
	MaxBodyBytes int64
	Log          *slog.Logger
	// Ready reports whether dependencies (the store) answer, for /readyz; a
	// *store.WritesFailing says why in its answer.
	Ready func(context.Context) error
	// Recorder, when set, receives every contract call (emfa serve --record).
	Recorder Recorder
	// Devices, when set, serves the push device API under /v1/devices.
	Devices Devices
	// Idempotency, when set, answers Verify's retries (X-Webhook-ID) and the admin API's
	// (Idempotency-Key, admin_idempotency.go) from the store.
	Idempotency *provider.Idempotency
	// AnswerKeys seal the admin answers kept for Idempotency-Key (the factors' keyring):
	// without it, or without Idempotency, a request with the header is refused (501).
	AnswerKeys Keyring
	// TrustedProxies may set X-Forwarded-For (proxy.go); nobody else is believed.
	TrustedProxies []netip.Prefix
	// Admin, when set, serves the admin API under /admin/v1 (admin.go).
	Admin *lifecycle.Manager
	// Observer, when set, counts refused credentials, retries and store faults.
	Observer Observer
	// Metrics, when set, is served at /metrics (it checks its own token).
	Metrics http.Handler
	// OAuth, when set, admits bearer tokens and may serve POST /oauth2/token (oauth.go).
	OAuth *OAuth
	// Sync, when set, serves the enabled directory sources (events.go, scim.go).
	Sync *Sync
	// SelfService, when set, serves the self-service page under /self-service/
	// (selfservice.go) and the admin API's activation links; SelfServiceSecure marks its
	// cookie Secure even without TLS here (a proxy terminates it).
	SelfService       *lifecycle.SelfService
	SelfServiceSecure bool
	// SelfServiceBudgets are the page's throttles per address (throttle.go).
	SelfServiceBudgets PageBudgets
	// AdminLinks, on a server of the admin API alone (admin.listen), is the self-service
	// page another server serves: the admin API's activation links and invites point to
	// it. Its pages are not served here.
	AdminLinks *lifecycle.SelfService
	// AdminOnly is a server of the admin API alone (admin.listen): the contract's routes
	// are not served there (404, as any unknown path), only health, /metrics and the admin
	// API.
	AdminOnly bool
	// ConnTimeout is the HTTP server's read and write timeout, if it has one: a request
	// whose deadline (RequestTimeout, after a reload raised it) runs past it gets its
	// connection's deadlines moved, so that the server does not cut it.
	ConnTimeout time.Duration
}

// Auth is how callers (IBM Verify) authenticate. Any configured method admits a call.
type Auth struct {
	BasicUsername, BasicPassword string // both empty: Basic is off
	HeaderName, HeaderValue      string // both empty: the header secret is off
	// MTLS admits a verified TLS client certificate, whose subject (RFC 2253 form) or
	// common name must be one of MTLSSubjects when that is set (auth.go).
	MTLS           bool
	MTLSSubjects   []string
	AllowAnonymous bool
	// WeakSecrets says BasicPassword or HeaderValue may be short enough to guess
	// (server.auth.allowWeakSecrets): a throttled address is then refused before its
	// credentials are checked, right ones too (auth.go).
	WeakSecrets bool
}

// Server is the HTTP face of emfa.
type Server struct {
	echo      *echo.Echo
	providers map[string]*provider.Provider // by lower-cased credentialPrefix
	auth      authenticator
	timeout   time.Duration
	conn      time.Duration // the HTTP server's read and write timeout (Options.ConnTimeout)
	maxBody   int64
	log       *slog.Logger
	ready     func(context.Context) error
	recorder  Recorder
	idem      *provider.Idempotency
	throttle  *throttle // of failed authentications, per address
	signIns   *throttle // of the self-service page's failed sign-ins, per address
	observer  Observer
	pages     *selfServicePage    // the self-service page, which answers its own errors; nil when off
	issuer    *tokenIssuerHandler // emfa's own token endpoint; nil: none

	// answerKeys seal the admin answers kept for Idempotency-Key (Options.AnswerKeys).
	answerKeys Keyring

	authFailures atomic.Int64
	retries      atomic.Int64
	syncCounts   SyncCounts
}

// New builds the service. It does not listen: use Handler with an http.Server.
func New(o Options) *Server {
	s := &Server{
		providers: map[string]*provider.Provider{},
		auth:      newAuthenticator(o.Auth),
		timeout:   o.RequestTimeout,
		conn:      o.ConnTimeout,
		maxBody:   o.MaxBodyBytes,
		log:       o.Log,
		ready:     o.Ready,
		recorder:  o.Recorder,
		idem:      o.Idempotency,
		throttle:  newThrottle(),
		signIns:   newThrottle(),
		observer:  o.Observer,
	}
	s.answerKeys = o.AnswerKeys
	if s.observer == nil {
		s.observer = nopObserver{}
	}
	if s.timeout <= 0 {
		s.timeout = 10 * time.Second
	}
	if s.maxBody <= 0 {
		s.maxBody = 64 << 10
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, p := range o.Providers {
		s.providers[strings.ToLower(p.CredentialPrefix)] = p
	}
	if err := s.setupOAuth(o.OAuth); err != nil {
		// Only a malformed key gets here, which the command line has already parsed.
		panic(err)
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard)
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = ipExtractor(o.TrustedProxies)
	e.SchemeExtractor = schemeExtractor(o.TrustedProxies)
	// The chain is composed once, here: echo's own e.Use would compose it again on every
	// request, a closure per middleware (eight allocations a call). Its innermost handler
	// is the route echo's router matched (or its 404 or 405), which is what echo hands
	// e.Use's middleware as next; refuseOptions runs after the access log (edges.go).
	// withCallContext, outermost, keeps the values the chain sets without a map.
	chain := withCallContext(s.requestID(s.record(s.observe(s.accessLog(s.recover(s.limitBody(s.deadline(s.refuseOptions(
		func(c echo.Context) error { return c.Handler()(c) })))))))))
	e.Use(func(echo.HandlerFunc) echo.HandlerFunc { return chain })

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	if o.Metrics != nil {
		e.GET("/metrics", echo.WrapHandler(o.Metrics))
	}

	// Authentication is route middleware rather than group middleware: a group's
	// catch-all would turn a wrong method into 404 instead of 405. It still runs before
	// the provider lookup, so an outsider cannot probe which prefixes exist.
	if !o.AdminOnly {
		g := e.Group("/v1/providers/:prefix")
		// Methods: IBM's samples use GET for result and test, and the method is the
		// operator's choice in Verify's webhook, so the resources that only read take both:
		// the lookup too (Verify's own runtime lookup is a GET).
		g.Match([]string{http.MethodGet, http.MethodPost}, "/enrollments", composed(s.enrollments, s.authenticate, noFormBodies))
		g.POST("/initiate", composed(s.initiate, s.authenticate, noFormBodies, s.idempotent(provider.ResourceInitiate)))
		g.POST("/validate", composed(s.validate, s.authenticate, noFormBodies, s.idempotent(provider.ResourceValidate)))
		g.Match([]string{http.MethodGet, http.MethodPost}, "/result", composed(s.result, s.authenticate, noFormBodies, s.idempotent(provider.ResourceResult)))
		g.Match([]string{http.MethodGet, http.MethodPost}, "/test", composed(s.test, s.authenticate, noFormBodies))
	}
	if s.issuer != nil {
		e.POST("/oauth2/token", s.token)
	}
	if o.Devices != nil {
		s.routeDevices(e, o.Devices)
	}
	if o.Admin != nil {
		links := cmp.Or(o.SelfService, o.AdminLinks)
		s.routeAdmin(e, o.Admin, links)
		s.routeActivationLinks(e, o.Admin, links)
	}
	if o.SelfService != nil {
		s.routeSelfService(e, o.SelfService, o.SelfServiceSecure, o.SelfServiceBudgets)
	}
	if o.Sync != nil {
		s.routeSync(e, *o.Sync)
	}
	s.echo = e
	return s
}

// composed wraps h in a route's middleware, the first outermost, as echo's route
// middleware would: once, where echo composes it again on every request (a closure per
// middleware, on every contract call).
func composed(h echo.HandlerFunc, mw ...echo.MiddlewareFunc) echo.HandlerFunc {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// Handler is the service's http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

// AuthFailures counts rejected inbound credentials since start.
func (s *Server) AuthFailures() int64 { return s.authFailures.Load() }

// Retries counts retries answered from an idempotency record since start.
func (s *Server) Retries() int64 { return s.retries.Load() }

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			s.log.Warn("not ready", "err", err)
			// The reason, not the store's words (paths, addresses): the probe needs no
			// credentials. The log has the rest.
			msg := "store unreachable"
			if wf := (*store.WritesFailing)(nil); errors.As(err, &wf) {
				msg = "store refuses writes (a full disk, an I/O error or a read-only database) since " +
					wf.Since.UTC().Format(time.RFC3339)
			}
			// Answered here, not as an error: a store down is no fault of emfa's to log
			// again as one ("server fault", at every probe of the outage).
			return c.JSON(http.StatusServiceUnavailable, errorBody{MessageID: "not_ready", MessageDescription: msg})
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) provider(c echo.Context) (*provider.Provider, error) {
	p, ok := s.providers[strings.ToLower(c.Param("prefix"))]
	if !ok {
		return nil, &Error{Status: http.StatusNotFound, ID: "unknown_provider", Msg: "no provider with that credentialPrefix"}
	}
	c.Set(ctxProvider, p)
	return p, nil
}

func (s *Server) enrollments(c echo.Context) error {
	noteWebhookID(c)
	p, err := s.provider(c)
	if err != nil {
		return err
	}
	var username string // "" when absent
	if u, ok, err := queryUsername(c); err != nil {
		return err
	} else if ok {
		if u != nil {
			username = *u
		}
	} else if username, err = bodyUsername(c); err != nil {
		return err
	}
	if username == "" {
		return badRequest("username is required")
	}
	if why := provider.CheckUsername(username); why != "" {
		// Unknown to every store alike, and audited (provider/ident.go).
		webhookID, _ := callWebhookID(c)
		req := provider.Request{Username: username, RequestID: callRequestID(c), WebhookID: webhookID}
		return answerJSON(c, http.StatusOK, p.RefuseEnrollments(c.Request().Context(), req, why))
	}
	list, err := p.Enrollments(c.Request().Context(), username)
	if err != nil {
		return unavailable(err)
	}
	if c.Request().URL.RawQuery == "" && !c.Echo().Debug {
		if b, ok := appendEnrollments(make([]byte, 0, 256), list); ok {
			return answerBlob(c, http.StatusOK, b)
		}
	}
	return answerJSON(c, http.StatusOK, list)
}

// appendEnrollments appends list to b as encoding/json's Encoder writes it, byte for byte,
// when every string in it (attribute values included) is one encoding/json writes as it
// is; false for any other list, which answerJSON then encodes. encoding/json encoded
// DUO's one device through echo's Encoder with ten allocations (the list boxed, the
// Encoder, and each attribute map's sorted keys, its iterator and a copy of every key
// and value): here, none but b's growth.
func appendEnrollments(b []byte, list []provider.Enrollment) ([]byte, bool) {
	if list == nil {
		return append(b, "null\n"...), true
	}
	ok := true
	b = append(b, '[')
	for i, e := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"capability":`...)
		b, ok = appendPlainString(b, e.Capability)
		if !ok {
			return nil, false
		}
		b = append(b, `,"id":`...)
		if b, ok = appendPlainString(b, e.ID); !ok {
			return nil, false
		}
		b = append(b, `,"attributes":`...)
		if b, ok = appendStringMap(b, e.Attributes); !ok {
			return nil, false
		}
		b = append(b, '}')
	}
	return append(b, "]\n"...), true
}

// appendStringMap appends m as encoding/json writes it, its keys sorted, when it holds
// at most 16 keys and only strings appendPlainString writes; false otherwise.
func appendStringMap(b []byte, m map[string]any) ([]byte, bool) {
	if m == nil {
		return append(b, "null"...), true
	}
	var keys [16]string
	if len(m) > len(keys) {
		return nil, false
	}
	ks := keys[:0]
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks) // encoding/json sorts a map's string keys byte by byte alike
	ok := true
	b = append(b, '{')
	for i, k := range ks {
		v, isString := m[k].(string)
		if !isString {
			return nil, false
		}
		if i > 0 {
			b = append(b, ',')
		}
		if b, ok = appendPlainString(b, k); !ok {
			return nil, false
		}
		b = append(b, ':')
		if b, ok = appendPlainString(b, v); !ok {
			return nil, false
		}
	}
	return append(b, '}'), true
}

// htmlPlain marks the ASCII bytes encoding/json writes as they are with its HTML
// escaping: printable, other than the quote, the backslash, <, > and &.
var htmlPlain = func() (t [256]bool) {
	for c := ' '; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// appendPlainString appends s quoted when encoding/json writes it unescaped: printable
// ASCII other than the quote, the backslash and the HTML characters <, > and &, and
// valid UTF-8 other than U+2028 and U+2029. false for anything else.
func appendPlainString(b []byte, s string) ([]byte, bool) {
	i := 0
	for i < len(s) && htmlPlain[s[i]] {
		i++ // one look-up a byte: nearly every answer's strings are plain ASCII
	}
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return nil, false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return nil, false
		}
		i += size
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// answerJSON is c.JSON without its look for ?pretty where there is no query string to
// look in: c.JSON parses the query string, an allocation, on every call that has none.
// With one (or echo in debug), c.JSON answers, indented to ?pretty as before.
func answerJSON(c echo.Context, code int, v any) error {
	if c.Request().URL.RawQuery == "" && !c.Echo().Debug {
		return c.JSONPretty(code, v, "") // c.JSON's own answer, unindented
	}
	return c.JSON(code, v)
}

func (s *Server) initiate(c echo.Context) error {
	return s.serve(c, provider.ResourceInitiate)
}

func (s *Server) validate(c echo.Context) error {
	return s.serve(c, provider.ResourceValidate)
}

func (s *Server) result(c echo.Context) error {
	return s.serve(c, provider.ResourceResult)
}

func (s *Server) serve(c echo.Context, resource string) error {
	p, err := s.provider(c)
	if err != nil {
		return err
	}
	req, err := decodeRequest(c, resource)
	if err != nil {
		return err
	}
	req.RequestID = callRequestID(c)
	req.WebhookID, _ = callWebhookID(c)
	ctx := c.Request().Context()
	// An idempotent call's decision records this answer with it (provider.Decide).
	provider.RenderAnswers(ctx, outcomeAnswer)
	var out provider.Outcome
	switch resource {
	case provider.ResourceInitiate:
		out, err = p.Initiate(ctx, req)
	case provider.ResourceValidate:
		out, err = p.Validate(ctx, req)
	default:
		out, err = p.Result(ctx, req)
	}
	return s.answer(c, out, err)
}

func (s *Server) test(c echo.Context) error {
	noteWebhookID(c)
	p, err := s.provider(c)
	if err != nil {
		return err
	}
	out, err := p.Test(c.Request().Context())
	return s.answer(c, out, err)
}

// answer writes an outcome, or turns an engine error into the contract's answer: a
// backend fault (the store unreachable or not answering in time, a disk full), answered
// 503 so that Verify retries on another replica (verify-contract.md §12). Every business
// outcome is a 200. A vendor or a sender slower than the request deadline is no error:
// the engine answers FAILED (or []) itself (provider.Engine).
func (s *Server) answer(c echo.Context, out provider.Outcome, err error) error {
	if errors.Is(err, provider.ErrSuperseded) {
		return nil // not answered: Idempotency.DoLate answers the attempt that decided
	}
	if err != nil {
		return unavailable(err)
	}
	// An idempotent call's decision rendered its answer already, to record it: sent as
	// recorded, not rendered again (Idempotency then finds the two the same).
	ans, ok := provider.RecordedAnswer(c.Request().Context(), out)
	if !ok {
		if ans, ok = outcomeAnswer(out); !ok {
			return fmt.Errorf("encode the outcome: %v", out.Status)
		}
	}
	return answerBlob(c, ans.Status, ans.Body)
}

// answerBlob is c.Blob of a JSON body: Content-Type set, unless one is, by its canonical
// key, where echo's Get and Set canonicalized it twice on every contract call.
func answerBlob(c echo.Context, code int, body []byte) error {
	resp := c.Response()
	if h := resp.Header(); headerValue(h, echo.HeaderContentType) == "" {
		h[echo.HeaderContentType] = []string{echo.MIMEApplicationJSON} // as Header.Set writes it
	}
	resp.WriteHeader(code)
	_, err := resp.Write(body)
	return err
}

// outcomeAnswer is the contract's answer to an outcome, byte for byte as answer sends it;
// false if the outcome does not encode (an attribute JSON cannot hold).
// json.Marshal and a newline are json.Encoder's output (HTML escaped alike) without the
// encoder and the buffer it grows: fewer allocations on every contract call.
func outcomeAnswer(out provider.Outcome) (provider.Answer, bool) {
	b, err := json.Marshal(out)
	if err != nil {
		return provider.Answer{}, false
	}
	return provider.Answer{Status: http.StatusOK, Body: append(b, '\n')}, true
}

// unavailable is the answer to an engine or store fault: 503, so that Verify's retry goes
// to another URL; the cause is logged, never shown.
func unavailable(err error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, ID: "unavailable", Msg: "a backend is unavailable; retry", Err: err}
}
