package adapter

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// The admin API's POST operations take an Idempotency-Key (draft-ietf-httpapi-
// idempotency-key-header): a script whose connection dropped before the answer came
// retries with the same key and gets the first attempt's answer — the same TOTP seed,
// the same activation link — instead of a second factor or a second e-mail.
//
// The records are the contract's (provider.Idempotency, the store's idempotency table and
// its sweep), in a namespace of their own: the record's provider is "admin:" and the admin
// token's name (a contract provider's credentialPrefix has no ':'; a token's name is never
// given again, even once revoked), so two clients' keys never meet. Its fingerprint column
// is the constant adminFingerprintColumn: the key alone claims the record, and the request
// it was first used with is kept inside the sealed answer, so that the same key with
// another request is found (422) rather than run as a new request, as the contract does.

// HeaderIdempotencyKey is the header an admin POST may carry.
const HeaderIdempotencyKey = "Idempotency-Key"

// maxIdempotencyKeyLen bounds an Idempotency-Key, as X-Webhook-ID is bounded.
const maxIdempotencyKeyLen = 256

// adminFingerprintColumn is the fingerprint of every admin record (see above).
const adminFingerprintColumn = "admin"

// adminRetryWait is how long a duplicate waits for its first attempt, still running,
// before it is answered 409: a script that retried at once gets the answer if the first
// attempt is about to end, and is not held for a request's whole deadline otherwise.
const adminRetryWait = 5 * time.Second

// Keyring seals what is kept of an admin answer: it may hold a TOTP seed or an activation
// link. builtin.Keyring, the factors' own, satisfies it.
type Keyring interface {
	Seal(plaintext, aad []byte) ([]byte, string, error)
	Open(sealed []byte, keyID string, aad []byte) ([]byte, error)
}

// adminAnswer is an admin answer as recorded, in clear only in memory.
type adminAnswer struct {
	Request string      `json:"request"` // the request's fingerprint (adminRequestFingerprint)
	Status  int         `json:"status"`
	Header  http.Header `json:"header,omitempty"`
	Body    []byte      `json:"body"`
}

// sealedAnswer is a record's body: an adminAnswer sealed with the key KeyID names.
type sealedAnswer struct {
	KeyID  string `json:"keyId"`
	Sealed []byte `json:"sealed"`
}

// keptHeaders are the headers of an answer that its replay sends again: where a new user
// is, its version, that an answer holding a seed is not to be cached, and a 403's
// challenge naming the scope the request needs (an activation link returned to a
// helpdesk token: RFC 6750 §3).
var keptHeaders = []string{echo.HeaderContentType, echo.HeaderLocation, "ETag", echo.HeaderCacheControl, echo.HeaderWWWAuthenticate}

// errNotRecorded: fn's answer is sent but not recorded (recordable).
var errNotRecorded = errors.New("answer not recorded")

// errIdempotencyUnavailable answers a key on a server that has no store for the records
// or no keyring to seal them with: running the request without the promise, or keeping
// a seed in clear, would both be worse than saying so.
var errIdempotencyUnavailable = &Error{Status: http.StatusNotImplemented, ID: "idempotency_key_unavailable",
	Msg: "this server keeps no Idempotency-Key records (it has no keyring to seal them with); send the request without the header"}

// idempotencyKeyOf reads a request's Idempotency-Key: "" when it has none. The draft
// sends it as a structured-field string ("…"); a bare value, as most APIs take it, is the
// same key.
func idempotencyKeyOf(h http.Header) (string, error) {
	vals := h.Values(HeaderIdempotencyKey)
	switch {
	case len(vals) == 0:
		return "", nil
	case len(vals) > 1:
		return "", badIdempotencyKey("is given %d times; give it once", len(vals))
	}
	v := strings.TrimSpace(vals[0])
	for _, r := range v {
		switch {
		case r < 0x20 || r == 0x7f:
			return "", badIdempotencyKey("has control characters")
		case r > 0x7e:
			return "", badIdempotencyKey("must be printable ASCII (a UUID, say)")
		}
	}
	if strings.HasPrefix(v, `"`) {
		var err error
		if v, err = unquoteKey(v); err != nil {
			return "", err
		}
	}
	switch {
	case v == "":
		return "", badIdempotencyKey("is empty; give a new unique value, a UUID say, for each request")
	case len(v) > maxIdempotencyKeyLen:
		return "", badIdempotencyKey("is longer than %d characters", maxIdempotencyKeyLen)
	}
	return v, nil
}

// unquoteKey reads a structured-field string (RFC 8941 §3.3.3): only \" and \\ escape.
func unquoteKey(v string) (string, error) {
	var b strings.Builder
	for i := 1; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			if i+1 < len(v) && (v[i+1] == '"' || v[i+1] == '\\') {
				i++
				b.WriteByte(v[i])
				continue
			}
			return "", badIdempotencyKey(`has a \ that escapes neither " nor \`)
		case '"':
			if i != len(v)-1 {
				return "", badIdempotencyKey("has characters after its closing quote")
			}
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", badIdempotencyKey("opens a quote it does not close")
}

func badIdempotencyKey(format string, args ...any) error {
	return &lifecycle.Error{Kind: lifecycle.Invalid, Code: "invalid_header", Field: HeaderIdempotencyKey, Msg: fmt.Sprintf(format, args...)}
}

// adminRequestFingerprint names what a key was first used for: the method, path, query,
// If-Match and media type, and the body (canonical when it is JSON, so a retry that
// orders its keys otherwise is the same request). If-Match is its list of tags as the
// write reads it (entityTagList: every field, blanks and stray commas no tags), so a
// retry that writes the same list otherwise is the same request, and one that lists
// other tags is another.
func adminRequestFingerprint(key provider.FingerprintKey, req *http.Request, body []byte) string {
	media, _, _ := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	tags, given := entityTagList(req.Header, "If-Match")
	listed := strings.Join(tags, ", ") // a tag holds no comma: the list splits at them
	if given && len(tags) == 0 {
		// A list of no tags, 412 (ifMatchGiven), is not the request without If-Match,
		// made unconditionally, whose tags joined to "" too.
		listed = ","
	}
	resource := strings.Join([]string{req.Method, req.URL.EscapedPath(), req.URL.Query().Encode(),
		listed, media}, "\x00")
	if checkUniqueKeys(body) != nil {
		return key.FingerprintAsSent(resource, body) // refused, but not as another body
	}
	return key.Fingerprint(resource, body)
}

// recordable says whether an admin answer is kept for the key's retries. The draft keeps
// any answer, so that a retry learns what the first attempt did, refusals included: a
// 404 or 409 is answered again, though what refused it may since have changed (a new
// request takes a new key). Not kept are the answers that say nothing was done and to
// try again, for the retry they invite to run: a 5xx (the store or a backend failed, or
// did not answer in time), a 429 (a limit, with Retry-After), a code or link that
// could not be sent (lifecycle leaves nothing behind, and says to retry later), and a
// 409 user_changed, a write other changes kept overtaking ("read it again and retry":
// kept, every retry with the key was refused so for the records' lifetime). A 412
// user_changed is kept: the version its If-Match names is gone for good.
func recordable(status int, err error) bool {
	if status >= 500 || status == http.StatusTooManyRequests {
		return false
	}
	var le *lifecycle.Error
	if errors.As(err, &le) && (le.Code == "activation_not_sent" || le.Code == "link_not_sent" ||
		le.Code == lifecycle.CodeChanged && status == http.StatusConflict) {
		return false
	}
	return true
}

// answerAAD binds a sealed answer to its record: copied onto another client's record or
// another key, it does not open. A token's name and a key hold no NUL.
func answerAAD(k store.IdempotencyKey) []byte {
	return []byte("emfa admin answer\x00" + k.Provider + "\x00" + k.WebhookID + "\x00" + k.Fingerprint)
}

func (s *Server) sealAnswer(k store.IdempotencyKey, a adminAnswer) ([]byte, error) {
	plain, err := json.Marshal(a)
	if err != nil {
		return nil, err
	}
	sealed, keyID, err := s.answerKeys.Seal(plain, answerAAD(k))
	if err != nil {
		return nil, err
	}
	return json.Marshal(sealedAnswer{KeyID: keyID, Sealed: sealed})
}

func (s *Server) openAnswer(k store.IdempotencyKey, body []byte) (adminAnswer, error) {
	var env sealedAnswer
	if err := json.Unmarshal(body, &env); err != nil {
		return adminAnswer{}, fmt.Errorf("not a sealed answer: %w", err)
	}
	plain, err := s.answerKeys.Open(env.Sealed, env.KeyID, answerAAD(k))
	if err != nil {
		return adminAnswer{}, err
	}
	var a adminAnswer
	if err := json.Unmarshal(plain, &a); err != nil {
		return adminAnswer{}, fmt.Errorf("sealed answer: %w", err)
	}
	return a, nil
}

// adminIdempotency is s.idem for one admin request under ctx: the lease covers the
// request's own deadline (an import's is ten minutes, not requestTimeout), the record
// outlives that lease twice over (server.idempotency.ttl otherwise), and a duplicate
// waits for a running first attempt briefly.
func (s *Server) adminIdempotency(ctx context.Context) *provider.Idempotency {
	// Built field by field, not copied: an Idempotency keeps the state of its renewals.
	i := &provider.Idempotency{Store: s.idem.Store, TTL: s.idem.TTL, Lease: s.idem.Lease, Now: s.idem.Now,
		Poll: s.idem.Poll, Wait: s.idem.Wait, Renew: s.idem.Renew, Key: s.idem.Key}
	if dl, ok := ctx.Deadline(); ok {
		i.Lease = time.Until(dl) + provider.WriteGrace
	}
	i.TTL = max(i.TTL, 2*i.Lease)
	if i.Wait <= 0 {
		i.Wait = adminRetryWait
	}
	return i
}

// idempotent runs an admin POST that carries an Idempotency-Key at most once per admin
// client and key (see the top of this file): the first attempt's answer is recorded,
// sealed, before it is sent, and a retry with the same request — on this replica or
// another — gets it again without running. It runs after authentication (auth): the
// client is the token's name, and a recorded answer is only ever shown to its client.
func (api adminAPI) idempotent(c echo.Context, next echo.HandlerFunc) error {
	s, req := api.s, c.Request()
	if req.Method != http.MethodPost {
		return next(c)
	}
	key, err := idempotencyKeyOf(req.Header)
	if err != nil || key == "" {
		if err != nil {
			return err
		}
		return next(c)
	}
	if s.idem == nil || s.answerKeys == nil {
		return errIdempotencyUnavailable
	}
	body, err := peekBody(c)
	if err != nil {
		return err
	}
	fp := adminRequestFingerprint(s.idem.Key, req, body)
	rk := store.IdempotencyKey{Provider: "admin:" + string(actor(c)), WebhookID: key, Fingerprint: adminFingerprintColumn}

	resp := c.Response()
	orig := resp.Writer
	before := orig.Header().Clone()
	// unsend takes back what the handler wrote into the buffer, headers too, for an error
	// to be answered in its place.
	unsend := func() {
		resp.Committed, resp.Size = false, 0
		h := orig.Header()
		clear(h)
		maps.Copy(h, before)
	}
	var sent adminAnswer // this attempt's answer, when it ran
	ans, served, _, err := s.adminIdempotency(req.Context()).Do(req.Context(), rk, func(ctx context.Context) (_ provider.Answer, err error) {
		// Run the handler into a buffer: the answer is recorded before it is sent, so a
		// crash after it was sent can never make a retry run again.
		buf := &captureWriter{header: orig.Header()}
		resp.Writer = buf
		defer func() {
			resp.Writer = orig
			if r := recover(); r != nil {
				unsend()
				panic(r)
			}
		}()
		c.SetRequest(req.WithContext(ctx))
		herr := next(c)
		if herr != nil {
			c.Error(herr)
		}
		sent = adminAnswer{Request: fp, Status: resp.Status, Body: buf.body.Bytes(), Header: http.Header{}}
		for _, name := range keptHeaders {
			if v := orig.Header().Values(name); len(v) > 0 {
				sent.Header[http.CanonicalHeaderKey(name)] = v
			}
		}
		if !recordable(resp.Status, herr) {
			return provider.Answer{Status: resp.Status}, errNotRecorded
		}
		sealed, err := s.sealAnswer(rk, sent)
		if err != nil {
			// It ran: its answer is sent, but a retry would run it again.
			s.log.Error("admin answer not recorded: it cannot be sealed", "idempotency_key", key, "actor", string(actor(c)), "err", err)
			return provider.Answer{Status: resp.Status}, errNotRecorded
		}
		return provider.Answer{Status: resp.Status, Body: sealed}, nil
	})
	resp.Writer = orig
	c.SetRequest(req)
	var rerr *provider.RecordError
	switch {
	case errors.Is(err, errNotRecorded) && !errors.As(err, &rerr):
		// Not recorded, but its claim released: what it wrote is durable.
		served = provider.Executed
	case errors.Is(err, provider.ErrInFlight):
		unsend()
		retryAfter(c, time.Second)
		return &lifecycle.Error{Kind: lifecycle.Conflict, Code: "idempotency_key_in_use", Field: HeaderIdempotencyKey,
			Msg: "a request with this key is still running; retry in a moment for its answer"}
	case err != nil:
		// The store failed, or recording the answer did: nothing is known to be durable,
		// so the answer is not sent. A retry with the same key runs again once the
		// attempt's lease has passed, or gets its answer if it was recorded after all.
		unsend()
		s.storeError(req, err)
		return &Error{Status: http.StatusServiceUnavailable, ID: "unavailable", Msg: "store unavailable; retry with the same Idempotency-Key", Err: err}
	}
	if served == provider.Executed {
		// The handler set the headers already; send what was recorded.
		orig.WriteHeader(sent.Status)
		n, _ := orig.Write(sent.Body)
		resp.Size = int64(n)
		return nil
	}
	rec, err := s.openAnswer(rk, ans.Body)
	if err != nil {
		s.log.Warn("the answer recorded for an Idempotency-Key cannot be opened", "idempotency_key", key, "actor", string(actor(c)), "err", err)
		return &lifecycle.Error{Kind: lifecycle.Refused, Code: "idempotency_key_unreadable", Field: HeaderIdempotencyKey,
			Msg: "the answer recorded for this key cannot be opened (it was sealed with an encryption key no longer configured); the request may have run: check, then send a new request with a new key"}
	}
	if rec.Request != fp {
		return &lifecycle.Error{Kind: lifecycle.Refused, Code: "idempotency_key_reused", Field: HeaderIdempotencyKey,
			Msg: "was used with another request (method, path, query or body) within server.idempotency.ttl; give each new request a new key"}
	}
	c.Set(ctxRetry, true)
	s.log.Info("admin retry answered from its first attempt's record",
		"idempotency_key", key, "actor", string(actor(c)), "path", c.Path(), "status", rec.Status)
	for name, v := range rec.Header {
		resp.Header()[http.CanonicalHeaderKey(name)] = v
	}
	return c.Blob(rec.Status, cmp.Or(rec.Header.Get(echo.HeaderContentType), echo.MIMEApplicationJSON), rec.Body)
}
