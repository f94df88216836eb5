package adapter

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/provider"
)

// authenticator checks what Verify sends. Secrets are compared in constant time whatever
// the lengths (secret, secretEqual). Its methods take a pointer: the struct holds the
// secrets themselves (padded, some 600 bytes), which a value receiver copied onto every
// request's stack.
type authenticator struct {
	anonymous          bool
	basic              bool
	basicUser, basicPW secret
	header             string
	headerValue        secret
	// bearer checks an Authorization: Bearer token (oauth.go, oauth_jwks.go).
	bearer []bearerVerifier
	// mtls admits a verified client certificate, its subject pinned when mtlsSubjects is set.
	mtls         bool
	mtlsSubjects []string
	// admitted are the subjects checkSubject admitted (nil without pins).
	admitted *admittedSubjects
	// throttleFirst refuses a throttled address whatever its credentials were: the Basic
	// password or header value may be weak (Auth.WeakSecrets), and then a right guess must
	// not be told from a wrong one while throttled. They are still compared (in constant
	// time); only the outcome is not told.
	throttleFirst bool
}

func newAuthenticator(a Auth) authenticator {
	au := authenticator{anonymous: a.AllowAnonymous, throttleFirst: a.WeakSecrets}
	if a.BasicUsername != "" || a.BasicPassword != "" {
		au.basic = true
		au.basicUser = newSecret(a.BasicUsername)
		au.basicPW = newSecret(a.BasicPassword)
	}
	if a.HeaderName != "" {
		au.header = http.CanonicalHeaderKey(a.HeaderName)
		au.headerValue = newSecret(a.HeaderValue)
	}
	au.mtls = a.MTLS
	for _, pin := range a.MTLSSubjects {
		au.mtlsSubjects = append(au.mtlsSubjects, canonicalSubject(pin))
	}
	if len(au.mtlsSubjects) > 0 {
		au.admitted = &admittedSubjects{}
	}
	return au
}

// canonicalSubject is a pinned subject as crypto/x509 writes a certificate's
// (pkix.Name.String, RFC 2253): without the spaces around its separators and its "="
// that openssl and most documents put there ("CN = verify, O = Example"), its attribute
// types in upper case, its values escaped as Go escapes them (goEscaped). A space
// escaped in a value ("verify\ ") is the value's and kept. A pin without "=" is a common
// name, kept as it is.
func canonicalSubject(pin string) string {
	if !strings.Contains(pin, "=") {
		return pin
	}
	var out strings.Builder
	for i := 0; ; {
		j := i
		quoted := false // a separator in quotes is the value's (RFC 2253 §2.4)
		for j < len(pin) && (quoted || pin[j] != ',' && pin[j] != '+') {
			switch pin[j] {
			case '\\':
				j++
			case '"':
				quoted = !quoted
			}
			j++
		}
		j = min(j, len(pin))
		typ, val, ok := strings.Cut(pin[i:j], "=")
		if ok {
			out.WriteString(strings.ToUpper(strings.TrimSpace(typ)))
			out.WriteByte('=')
			out.WriteString(goEscaped(trimUnescapedSpace(val)))
		} else {
			out.WriteString(strings.TrimSpace(typ))
		}
		if j == len(pin) {
			return out.String()
		}
		out.WriteByte(pin[j])
		i = j + 1
	}
}

// goEscaped is a pin's value as crypto/x509 writes it: read as RFC 4514 and 2253 let
// one be written (a "\" before a character, or before two hex digits for a byte, as
// openssl writes every byte of a non-ASCII character: "Soci\C3\A9t\C3\A9"; or in
// quotes), then escaped as pkix.Name.String escapes a value. A value in hex DER ("#…",
// as Go writes an attribute it has no name for) has nothing to read and is kept.
func goEscaped(v string) string {
	if !strings.ContainsAny(v, "\\\",+<>;") {
		// Nothing to read, nothing Go escapes: v has no space at either end
		// (trimUnescapedSpace), and a leading "#" is a value in hex DER.
		return v
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && !escapedAt(v, len(v)-1) {
		v = v[1 : len(v)-1]
	}
	raw := make([]byte, 0, len(v))
	for k := 0; k < len(v); k++ {
		if v[k] != '\\' || k+1 == len(v) {
			raw = append(raw, v[k])
			continue
		}
		if k+2 < len(v) && isHex(v[k+1]) && isHex(v[k+2]) {
			raw = append(raw, unhex(v[k+1])<<4|unhex(v[k+2]))
			k += 2
			continue
		}
		k++
		raw = append(raw, v[k])
	}
	cn := pkix.RDNSequence{{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: string(raw)}}}.String()
	return strings.TrimPrefix(cn, "CN=")
}

// escapedAt reports whether v[i] follows an odd number of backslashes.
func escapedAt(v string, i int) bool {
	n := 0
	for k := i - 1; k >= 0 && v[k] == '\\'; k-- {
		n++
	}
	return n%2 == 1
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// trimUnescapedSpace trims v's leading spaces and its trailing ones but an escaped one
// ("\ ") and those before it.
func trimUnescapedSpace(v string) string {
	v = strings.TrimLeft(v, " ")
	for strings.HasSuffix(v, " ") {
		n := 0 // backslashes before the last space
		for k := len(v) - 2; k >= 0 && v[k] == '\\'; k-- {
			n++
		}
		if n%2 == 1 {
			break
		}
		v = v[:len(v)-1]
	}
	return v
}

// check reports whether r carries valid credentials; if not, why, and whether the
// refusal was a guess. Only a bearer token that a trusted key signed and that has merely
// expired is no guess (errTokenExpired comes after the signature is verified): its holder
// knew the secret, and Verify sends its cached token until it is told it expired.
//
// Every kind is cheap enough to check before the throttle (authenticate): Basic and the
// header secret are a constant-time compare (no password hash: the secrets
// are random, at least 16 characters, unless weak ones are allowed); a bearer token is
// one signature verification (an external server's keys are fetched at most once a
// minute, JWKS); a client certificate was verified in the TLS handshake already.
func (a *authenticator) check(r *http.Request) (ok bool, reason string, guess bool) {
	ok, reason, guess, _ = a.checkKeys(r)
	return ok, reason, guess
}

// checkKeys is check, and whether the refusal is only that a bearer token's key could
// not be looked up (keysDown: the authorization server's key set cannot be fetched, and
// no other credential sent was wrong). Such a token is no guess and may be good: it is
// answered 503, not 401 (authenticate).
func (a *authenticator) checkKeys(r *http.Request) (ok bool, reason string, guess, keysDown bool) {
	if a.anonymous {
		return true, "", false, false
	}
	reason = "no credentials"
	// expired: an expired token signed by a trusted key; down: a token whose key could
	// not be looked up; wrong: anything else refused.
	var expired, down, wrong bool
	if a.basic {
		var buf [basicBuf]byte
		if user, pw, ok := basicCredentials(r, buf[:0]); ok {
			// Both comparisons always run: the timing does not say which one failed.
			if secretEqual(&a.basicUser, user)&secretEqual(&a.basicPW, pw) == 1 {
				return true, "", false, false
			}
			reason, wrong = "wrong basic credentials", true
		}
	}
	if a.header != "" {
		if vals := r.Header.Values(a.header); len(vals) > 0 {
			if secretEqual(&a.headerValue, vals[0]) == 1 {
				return true, "", false, false
			}
			reason, wrong = "wrong header secret", true
		}
	}
	if len(a.bearer) > 0 {
		if token, ok := bearerToken(r); ok {
			var err error
			for _, v := range a.bearer {
				if err = v.verify(r.Context(), token); err == nil {
					return true, "", false, false
				}
				if errors.Is(err, errTokenExpired) {
					break // signed by this verifier's key: no other one admits it
				}
			}
			switch {
			case errors.Is(err, errTokenExpired):
				expired = true
			case errors.Is(err, errKeysUnavailable):
				down = true
			default:
				wrong = true
			}
			// The words of the token's own header (its kid, its alg) may be in it: the
			// caller's, unauthenticated, bounded as a refused client_id is.
			reason = "bearer token refused: " + provider.Printable(err.Error(), maxLoggedBearerReason)
		}
	}
	if a.mtls && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		if ok, why := a.checkSubject(r.TLS.VerifiedChains[0][0]); ok {
			return true, "", false, false
		} else {
			reason, wrong = why, true
		}
	}
	return false, reason, wrong || !expired && !down, down && !wrong
}

// secretRoom is the room a configured secret is compared in without a digest: far more
// than Verify's user name, password or header secret.
const secretRoom = 128

// secret is a configured credential as check compares it. One of at most secretRoom
// bytes is kept padded with zeros to secretRoom, and a compare reads all of them and
// the length apart, whatever the secret's length and the one sent: the time it takes
// says nothing of the secret. A longer one is kept as its SHA-256 digest, and the digest
// of what was sent compared to it, as every secret was before: ~5k instructions, two
// digests on every contract call, where the padded compare takes ~100. Whether a secret
// is longer than secretRoom is all the timing can tell, and only of the configuration.
type secret struct {
	words  [secretRoom / 8]uint64
	n      int32
	long   bool
	digest [32]byte
}

func newSecret(s string) secret {
	var k secret
	if len(s) > secretRoom {
		k.long, k.digest = true, sha256.Sum256([]byte(s))
		return k
	}
	var b [secretRoom]byte
	copy(b[:], s)
	for i := range k.words {
		k.words[i] = binary.LittleEndian.Uint64(b[i*8:])
	}
	k.n = int32(len(s))
	return k
}

// secretEqual is 1 when got is k's secret, else 0, in constant time: for a secret of at
// most secretRoom bytes, every word of the room is compared, then the lengths, without
// a branch on either result; got longer than the room is no such secret, which says
// nothing of it.
func secretEqual[T string | []byte](k *secret, got T) int {
	if k.long {
		d := sha256.Sum256([]byte(got))
		return subtle.ConstantTimeCompare(d[:], k.digest[:])
	}
	if len(got) > secretRoom {
		return 0
	}
	var b [secretRoom]byte
	copy(b[:], got)
	var diff uint64
	for i := range k.words {
		diff |= k.words[i] ^ binary.LittleEndian.Uint64(b[i*8:])
	}
	same := int((diff|-diff)>>63) ^ 1 // 1 when diff is 0
	return same & subtle.ConstantTimeEq(int32(len(got)), k.n)
}

// basicBuf is the room check decodes Basic credentials in without allocating: Verify's
// username and password are far shorter. Longer ones are decoded all the same.
const basicBuf = 256

// basicCredentials is r.BasicAuth, its user and password decoded into buf (grown when
// they do not fit) rather than into a string of their own: r.BasicAuth allocates twice
// on every contract call, and check compares only the bytes.
func basicCredentials(r *http.Request, buf []byte) (user, pw []byte, ok bool) {
	const prefix = "Basic "
	h := headerValue(r.Header, echo.HeaderAuthorization)
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return nil, nil, false
	}
	enc := h[len(prefix):]
	if n := base64.StdEncoding.DecodedLen(len(enc)); n > cap(buf) {
		buf = make([]byte, n)
	} else {
		buf = buf[:n]
	}
	n, err := base64.StdEncoding.Decode(buf, []byte(enc))
	if err != nil {
		return nil, nil, false
	}
	if user, pw, ok = bytes.Cut(buf[:n], []byte(":")); !ok {
		return nil, nil, false
	}
	return user, pw, true
}

// headerValue is h.Get(key) for a key in net/http's canonical form, without
// canonicalizing it again (~400 instructions a header read, on every contract call).
func headerValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// maxLoggedBearerReason bounds why a bearer token was refused, in a log line.
const maxLoggedBearerReason = 512

// bearerToken is the token of an Authorization: Bearer header (the scheme is
// case-insensitive, RFC 9110 §11.1).
func bearerToken(r *http.Request) (string, bool) {
	h := headerValue(r.Header, echo.HeaderAuthorization)
	if len(h) < 7 || !strings.EqualFold(h[:7], "Bearer ") {
		return "", false
	}
	t := strings.TrimSpace(h[7:])
	return t, t != ""
}

// checkSubject matches a verified client certificate against the pinned subjects: its
// whole subject in RFC 2253 form, or, for a pin without "=" (which every RFC 2253
// subject has), its common name. A pin written as a subject is never taken for a CN:
// a certificate whose CN spells "CN=verify,O=Example" is not that subject's.
func (a *authenticator) checkSubject(cert *x509.Certificate) (bool, string) {
	if len(a.mtlsSubjects) == 0 {
		return true, ""
	}
	if a.admitted.has(cert.RawSubject) {
		return true, ""
	}
	subject := cert.Subject.String()
	for _, want := range a.mtlsSubjects {
		if want == subject || !strings.Contains(want, "=") && want == cert.Subject.CommonName {
			a.admitted.add(cert.RawSubject)
			return true, ""
		}
	}
	// Made only when Go's string matched no pin: it parses the subject again.
	if named := namedSubject(cert); named != "" && named != subject {
		if slices.Contains(a.mtlsSubjects, named) {
			a.admitted.add(cert.RawSubject)
			return true, ""
		}
		subject = named
	}
	return false, "client certificate subject not allowed: " + subject
}

// maxAdmittedSubjects bounds admittedSubjects: a tenant's few client certificates, and
// their renewals, many times over.
const maxAdmittedSubjects = 64

// admittedSubjects are the DER subjects (x509.Certificate.RawSubject) checkSubject
// admitted, so that the next call of the same certificate, every contract call of a
// pinned mTLS tenant, is one map lookup: rendering the subject (Go's string, and
// namedSubject for one with domain components) took 14 to 80 allocations a call. The
// decision is the subject's alone (Subject is parsed from RawSubject, the pins are
// fixed for the authenticator's life: a reload builds a new one). Only admitted subjects
// are kept, so only a certificate the client CA issued to a pinned subject adds one;
// past maxAdmittedSubjects none is added. Read without a lock: the map is replaced, never
// changed.
type admittedSubjects struct {
	mu  sync.Mutex // of add
	set atomic.Pointer[map[string]struct{}]
}

func (s *admittedSubjects) has(raw []byte) bool {
	if s == nil || len(raw) == 0 {
		return false
	}
	m := s.set.Load()
	if m == nil {
		return false
	}
	_, ok := (*m)[string(raw)]
	return ok
}

func (s *admittedSubjects) add(raw []byte) {
	if s == nil || len(raw) == 0 {
		return // a certificate built in a test, not parsed: its Subject is all there is
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var old map[string]struct{}
	if p := s.set.Load(); p != nil {
		old = *p
	}
	if len(old) >= maxAdmittedSubjects {
		return
	}
	m := make(map[string]struct{}, len(old)+1)
	for k := range old {
		m[k] = struct{}{}
	}
	m[string(raw)] = struct{}{}
	s.set.Store(&m)
}

// subjectNames are the attributes crypto/x509 writes as a dotted OID and a hex DER value
// (pkix.Name.String), by the names openssl and the CAs that issue them write: DC is in
// every Active Directory subject. Upper case, as canonicalSubject makes a pin's.
var subjectNames = map[string]string{
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
	"1.2.840.113549.1.9.1":       "EMAILADDRESS",
}

// namedSubject is cert's subject in RFC 4514 form, its attributes in their own order, those
// of subjectNames by name with their string value escaped as crypto/x509 escapes one;
// "" when none is there (or the subject does not parse): pkix.Name.String says it all.
func namedSubject(cert *x509.Certificate) string {
	var rdns pkix.RDNSequence
	if rest, err := asn1.Unmarshal(cert.RawSubject, &rdns); err != nil || len(rest) > 0 {
		return ""
	}
	var b strings.Builder
	found := false
	for i := len(rdns) - 1; i >= 0; i-- {
		if i < len(rdns)-1 {
			b.WriteByte(',')
		}
		for j, atv := range rdns[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			name, ok := subjectNames[atv.Type.String()]
			if _, isString := atv.Value.(string); ok && isString {
				found = true
				// Escaped as a CN's value is: "CN=" and the escaped value.
				cn := pkix.RDNSequence{{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: atv.Value}}}.String()
				b.WriteString(name + strings.TrimPrefix(cn, "CN"))
				continue
			}
			b.WriteString(pkix.RDNSequence{{atv}}.String())
		}
	}
	if !found {
		return ""
	}
	return b.String()
}

// authenticate guards the provider routes. It runs before the provider is looked up, so
// an unauthenticated caller cannot discover which credentialPrefixes exist.
//
// An address that keeps guessing is throttled (throttle.go), but the address is not the
// caller: Verify's SaaS egress, or a proxy, is shared with others. So credentials are
// checked first and right ones are admitted even from a throttled address: they cannot
// be guessed (emfa's check demands 16 random characters, and tokens are signed), so
// admitting them confirms nothing a guesser could reach. A wrong one from a throttled
// address is answered 429, not 401, and spends nothing more. Only when weak secrets are
// allowed is a throttled address refused whatever it sent, right credentials too: a short
// password could otherwise be guessed at line rate, each try telling right (200) from
// wrong (429). Either way the budget is spent in the same step that decides (spend), so
// guesses sent at once are no more than one at a time would be.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ok, reason, guess, keysDown := s.auth.checkKeys(c.Request())
		if s.auth.throttleFirst {
			// A throttled address is answered 429 whatever it sent, right or wrong: its
			// credentials were compared (in constant time) but what came of it is not
			// told. The decision and the guess it spends are one step (spend), so that
			// guesses sent at once get no more attempts than one at a time.
			if ok, wait := s.throttle.spend(c.RealIP(), guess); !ok {
				return s.throttled(c, wait)
			}
		}
		if ok {
			return next(c)
		}
		if keysDown {
			// Not the caller's fault, and its token may be good: 503, retried, and
			// the address's budget untouched. But anyone can send such a token (a JWT
			// of their own key, under any kid): a warning, as any refused
			// authentication, not a server fault's error (the outage is logged once,
			// by the JWKS), and answered here, not through handleError's logFault.
			s.authFailures.Add(1)
			c.Set(ctxAuthUnavailable, true)
			s.log.Warn("inbound authentication unavailable", "reason", reason, "remote", c.RealIP(),
				"path", loggedPath(c), "request_id", callRequestID(c))
			if c.Request().Method == http.MethodHead {
				return c.NoContent(http.StatusServiceUnavailable)
			}
			return c.JSON(http.StatusServiceUnavailable, errorBody{MessageID: "unavailable",
				MessageDescription: "the authorization server's keys cannot be fetched; retry"})
		}
		if guess && !s.auth.throttleFirst {
			if ok, wait := s.throttle.spend(c.RealIP(), true); !ok {
				return s.throttled(c, wait)
			}
		}
		s.authFailures.Add(1)
		s.log.Warn("inbound authentication failed", "reason", reason, "remote", c.RealIP(),
			"path", loggedPath(c), "request_id", callRequestID(c))
		if s.auth.basic {
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Basic realm="emfa", charset="UTF-8"`)
		}
		if len(s.auth.bearer) > 0 {
			// RFC 6750 §3.1: a request that sent no token (none at all, or Basic
			// credentials) is told no error code; one whose token was refused, invalid_token.
			challenge := `Bearer realm="emfa"`
			if _, sent := bearerToken(c.Request()); sent {
				challenge += `, error="invalid_token"`
			}
			if !guess {
				// RFC 6750 §3.1: Verify drops its cached token and fetches a new one.
				challenge += `, error_description="the token expired"`
			}
			c.Response().Header().Add(echo.HeaderWWWAuthenticate, challenge)
		}
		if !guess {
			return &Error{Status: http.StatusUnauthorized, ID: "unauthorized", Msg: "the bearer token expired; fetch a new one"}
		}
		return &Error{Status: http.StatusUnauthorized, ID: "unauthorized", Msg: "missing or invalid credentials"}
	}
}

// ctxAuthUnavailable marks a request refused only because a bearer token's key could
// not be looked up (503): the access log writes it as a warning, not a server fault.
const ctxAuthUnavailable = "emfa.auth_unavailable"

// retryAfter sets Retry-After to wait in whole seconds, rounded up, and returns them.
func retryAfter(c echo.Context, wait time.Duration) int {
	secs := int(math.Ceil(wait.Seconds()))
	c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(secs))
	return secs
}

// throttled answers a refused attempt: 429 with Retry-After, logged like a failure.
func (s *Server) throttled(c echo.Context, wait time.Duration) error {
	s.authFailures.Add(1)
	c.Set(ctxAuthThrottled, true)
	secs := retryAfter(c, wait)
	s.log.Warn("inbound authentication throttled", "remote", c.RealIP(), "retry_after_s", secs,
		"path", loggedPath(c), "request_id", callRequestID(c))
	return &Error{Status: http.StatusTooManyRequests, ID: "too_many_requests", Msg: "too many failed authentications from this address; retry later"}
}
