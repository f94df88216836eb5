// Package duoadminfake is a strict, in-process fake of DUO's Admin API v1 for tests: the user,
// phone, token and group calls a directory sync makes (shared/verify/duo-admin-api.md), and
// the calls an MFA reset makes beyond them, as DUO's own clients make them
// (duo_client_python, duo_api_golang): DELETE /admin/v1/u2ftokens/{registration_id},
// DELETE /admin/v1/webauthncredentials/{webauthnkey}, GET /admin/v1/users/{id}/bypass_codes
// and DELETE /admin/v1/bypass_codes/{bypass_code_id}.
//
// Every request must carry one fresh, parseable Date header and a valid v2 signature (the
// canonical string of internal/duofake: date, method, host, path, sorted params), HMAC-SHA1
// (40 hex) or HMAC-SHA512 (128 hex) keyed by the secret key; POST parameters must be a form
// body. Users, phones, tokens and groups live in memory so that tests assert the fake's
// state after each call.
package duoadminfake

import (
	"cmp"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/duosign"
)

// DefaultMaxSkew is how far a request's Date may be from the fake's clock.
const DefaultMaxSkew = 5 * time.Minute

// Options configure a Server.
type Options struct {
	IntegrationKey string
	SecretKey      string
	Clock          func() time.Time // default time.Now
	MaxSkew        time.Duration    // default DefaultMaxSkew
}

// User is a DUO user as the Admin API shows it (the fields a sync touches).
type User struct {
	UserID   string  `json:"user_id"`
	Username string  `json:"username"`
	Realname string  `json:"realname"`
	Email    string  `json:"email"`
	Status   string  `json:"status"`
	Phones   []Phone `json:"phones"`
	Tokens   []Token `json:"tokens"`
	Groups   []Group `json:"groups"`
	// Security keys, as the user object lists them.
	U2FTokens           []U2FToken           `json:"u2ftokens"`
	WebAuthnCredentials []WebAuthnCredential `json:"webauthncredentials"`
	// Bypass codes: not in the user object, listed by GET users/{id}/bypass_codes.
	BypassCodes []BypassCode `json:"-"`
}

// U2FToken is a user's U2F security key.
type U2FToken struct {
	RegistrationID string `json:"registration_id"`
	DateAdded      int64  `json:"date_added"`
}

// WebAuthnCredential is a user's WebAuthn credential (a security key or platform
// authenticator).
type WebAuthnCredential struct {
	WebAuthnKey    string `json:"webauthnkey"`
	CredentialName string `json:"credential_name"`
}

// BypassCode is a bypass code's metadata: the API never shows the code.
type BypassCode struct {
	BypassCodeID string `json:"bypass_code_id"`
	ReuseCount   int    `json:"reuse_count"`
}

// Phone is a phone associated with a user.
type Phone struct {
	PhoneID string `json:"phone_id"`
	Number  string `json:"number"`
	Type    string `json:"type"`
}

// Token is a hardware token associated with a user.
type Token struct {
	TokenID string `json:"token_id"`
	Serial  string `json:"serial"`
	Type    string `json:"type"`
}

// Group is a DUO group.
type Group struct {
	GroupID string `json:"group_id"`
	Name    string `json:"name"`
	Desc    string `json:"desc"`
	Status  string `json:"status"`
}

// Recorded is one request the fake received.
type Recorded struct {
	Method, Path string
	Params       url.Values // query of a GET/DELETE, form of a POST
	Status       int
	Reject       string // why it was refused; "" when served
}

// Server is a running fake; its methods are safe for concurrent use.
type Server struct {
	opts Options
	ts   *httptest.Server

	mu       sync.Mutex
	users    map[string]*User // by user_id
	groups   map[string]*Group
	fail     map[string]int // path prefix → status of the next request there
	requests []Recorded
}

// New starts a fake on loopback and stops it when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.MaxSkew == 0 {
		opts.MaxSkew = DefaultMaxSkew
	}
	s := &Server{opts: opts, users: map[string]*User{}, groups: map[string]*Group{}, fail: map[string]int{}}
	s.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serveHTTP(t, w, r) }))
	t.Cleanup(s.ts.Close)
	return s
}

// SetSecretKey rotates the secret key: from now on only a request signed with key is
// admitted.
func (s *Server) SetSecretKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.SecretKey = key
}

// URL is the base URL, e.g. "http://127.0.0.1:40123".
func (s *Server) URL() string { return s.ts.URL }

// AddUser creates a user (status active unless given) and returns its user_id.
func (s *Server) AddUser(u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	u.UserID = newID("DU")
	if u.Status == "" {
		u.Status = "active"
	}
	u.Phones, u.Tokens, u.Groups = slices.Clone(u.Phones), slices.Clone(u.Tokens), slices.Clone(u.Groups)
	u.U2FTokens, u.WebAuthnCredentials, u.BypassCodes = slices.Clone(u.U2FTokens), slices.Clone(u.WebAuthnCredentials), slices.Clone(u.BypassCodes)
	for i := range u.U2FTokens {
		u.U2FTokens[i].RegistrationID = cmp.Or(u.U2FTokens[i].RegistrationID, newID("DU"))
	}
	for i := range u.WebAuthnCredentials {
		u.WebAuthnCredentials[i].WebAuthnKey = cmp.Or(u.WebAuthnCredentials[i].WebAuthnKey, newID("WA"))
	}
	for i := range u.BypassCodes {
		u.BypassCodes[i].BypassCodeID = cmp.Or(u.BypassCodes[i].BypassCodeID, newID("DB"))
	}
	for i := range u.Phones {
		if u.Phones[i].PhoneID == "" {
			u.Phones[i].PhoneID = newID("DP")
		}
	}
	for i := range u.Tokens {
		if u.Tokens[i].TokenID == "" {
			u.Tokens[i].TokenID = newID("DH")
		}
	}
	s.users[u.UserID] = &u
	return u.UserID
}

// AddGroup creates a group and returns its group_id.
func (s *Server) AddGroup(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addGroupLocked(name, "").GroupID
}

func (s *Server) addGroupLocked(name, desc string) *Group {
	g := &Group{GroupID: newID("DG"), Name: name, Desc: desc, Status: "active"}
	s.groups[g.GroupID] = g
	return g
}

// User returns a copy of the user with that username.
func (s *Server) User(username string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.byUsernameLocked(username); u != nil {
		return s.viewLocked(u), true
	}
	return User{}, false
}

// Group returns a copy of the group with that name.
func (s *Server) Group(name string) (Group, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.groups {
		if g.Name == name {
			return *g, true
		}
	}
	return Group{}, false
}

// FailNext makes the next request whose path starts with prefix answer status (a DUO FAIL
// body), once.
func (s *Server) FailNext(prefix string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[prefix] = status
}

// Requests returns what the fake received, in order.
func (s *Server) Requests() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *Server) byUsernameLocked(username string) *User {
	for _, u := range s.users {
		if u.Username == username {
			return u
		}
	}
	return nil
}

// viewLocked is u as the API answers it: a copy, groups by their current name.
func (s *Server) viewLocked(u *User) User {
	v := *u
	v.Phones, v.Tokens = slices.Clone(u.Phones), slices.Clone(u.Tokens)
	v.U2FTokens = append([]U2FToken{}, u.U2FTokens...)
	v.WebAuthnCredentials = append([]WebAuthnCredential{}, u.WebAuthnCredentials...)
	v.BypassCodes = slices.Clone(u.BypassCodes)
	v.Groups = nil
	for _, g := range u.Groups {
		if cur, ok := s.groups[g.GroupID]; ok {
			v.Groups = append(v.Groups, *cur)
		}
	}
	if v.Phones == nil {
		v.Phones = []Phone{}
	}
	if v.Tokens == nil {
		v.Tokens = []Token{}
	}
	if v.Groups == nil {
		v.Groups = []Group{}
	}
	return v
}

type answer struct {
	status int
	body   any
	reject string
}

func ok(v any) answer { return answer{status: 200, body: map[string]any{"stat": "OK", "response": v}} }

func fail(status, code int, msg, reject string) answer {
	return answer{status: status, body: map[string]any{"stat": "FAIL", "code": code, "message": msg}, reject: reject}
}

func badParam(name string) answer {
	return answer{status: 400, body: map[string]any{"stat": "FAIL", "code": 40002,
		"message": "Invalid request parameters", "message_detail": name}, reject: "bad parameter " + name}
}

func notFound(what string) answer { return fail(404, 40401, "Resource not found", what+" not found") }

func (s *Server) serveHTTP(t testing.TB, w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	var a answer
	var params url.Values
	switch {
	case err != nil:
		a = fail(400, 40002, "Invalid request parameters", "body: "+err.Error())
	default:
		params, a = s.params(r, body)
	}
	s.mu.Lock()
	if a.status == 0 {
		if rej := s.authenticate(r, params); rej != nil {
			a = *rej
		}
	}
	if a.status == 0 {
		for prefix, status := range s.fail {
			if strings.HasPrefix(r.URL.Path, prefix) {
				delete(s.fail, prefix)
				a = fail(status, status*100+1, http.StatusText(status), "injected failure")
				break
			}
		}
	}
	if a.status == 0 {
		a = s.route(r.Method, r.URL.Path, params)
	}
	s.requests = append(s.requests, Recorded{Method: r.Method, Path: r.URL.Path, Params: params, Status: a.status, Reject: a.reject})
	s.mu.Unlock()
	if a.reject != "" {
		t.Logf("duoadminfake: %s %s answered %d: %s", r.Method, r.URL.Path, a.status, a.reject)
	}
	data, _ := json.Marshal(a.body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = w.Write(data)
}

// params are the signed parameters: the query of a GET or DELETE, the form body of a POST.
func (s *Server) params(r *http.Request, body []byte) (url.Values, answer) {
	switch r.Method {
	case http.MethodGet, http.MethodDelete:
		if len(body) > 0 {
			return nil, badParam("body (a " + r.Method + " carries its parameters in the query)")
		}
		return r.URL.Query(), answer{}
	case http.MethodPost:
		if r.URL.RawQuery != "" {
			return nil, badParam("query (a POST carries its parameters in a form body)")
		}
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if len(body) > 0 && mt != "application/x-www-form-urlencoded" {
			return nil, badParam("Content-Type " + mt)
		}
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, badParam("form body")
		}
		return form, answer{}
	default:
		return nil, fail(405, 40501, "Method not allowed", r.Method)
	}
}

// authenticate checks the Date and the v2 signature; s.mu is held.
func (s *Server) authenticate(r *http.Request, params url.Values) *answer {
	unauthorized := func(code int, msg, why string) *answer { a := fail(401, code, msg, why); return &a }
	dates := r.Header.Values("Date")
	if len(dates) != 1 {
		return unauthorized(40101, "Missing request timestamp", "want exactly one Date header")
	}
	when, err := mail.ParseDate(dates[0])
	if err != nil {
		return unauthorized(40101, "Missing request timestamp", "unparseable Date "+dates[0])
	}
	ikey, sig, okAuth := r.BasicAuth()
	if !okAuth {
		return unauthorized(40101, "Missing request credentials", "no Basic Authorization")
	}
	if subtle.ConstantTimeCompare([]byte(ikey), []byte(s.opts.IntegrationKey)) != 1 {
		return unauthorized(40102, "Invalid integration key in request credentials", "wrong integration key")
	}
	canon := duosign.Canonical(dates[0], r.Method, r.Host, r.URL.Path, params)
	var h func() hash.Hash
	switch len(sig) {
	case 40:
		h = sha1.New
	case 128:
		h = sha512.New
	default:
		return unauthorized(40103, "Invalid signature in request credentials", "signature is neither SHA1 nor SHA512 hex")
	}
	mac := hmac.New(h, []byte(s.opts.SecretKey))
	mac.Write([]byte(canon))
	if subtle.ConstantTimeCompare([]byte(sig), []byte(hex.EncodeToString(mac.Sum(nil)))) != 1 {
		return unauthorized(40103, "Invalid signature in request credentials",
			"signature mismatch; the fake signed "+strings.ReplaceAll(canon, "\n", `\n`))
	}
	if skew := s.opts.Clock().Sub(when).Abs(); skew > s.opts.MaxSkew {
		return unauthorized(40105, "Request has expired", "Date is "+skew.String()+" from the server clock")
	}
	return nil
}

// route serves an authenticated call; s.mu is held.
func (s *Server) route(method, path string, p url.Values) answer {
	rest, okPrefix := strings.CutPrefix(path, "/admin/v1/")
	if !okPrefix {
		return notFound("path " + path)
	}
	seg := strings.Split(rest, "/")
	switch {
	case seg[0] == "users" && len(seg) == 1:
		return s.users1(method, p)
	case seg[0] == "users":
		u, found := s.users[seg[1]]
		if !found {
			if method == http.MethodDelete && len(seg) == 2 {
				return ok("") // no-op if already gone
			}
			return notFound("user " + seg[1])
		}
		return s.user(method, u, seg[2:], p)
	case seg[0] == "groups" && len(seg) == 1:
		return s.groups1(method, p)
	case len(seg) == 2 && method == http.MethodDelete && (seg[0] == "u2ftokens" || seg[0] == "webauthncredentials" || seg[0] == "bypass_codes"):
		for _, u := range s.users {
			n := len(u.U2FTokens) + len(u.WebAuthnCredentials) + len(u.BypassCodes)
			u.U2FTokens = slices.DeleteFunc(u.U2FTokens, func(x U2FToken) bool { return seg[0] == "u2ftokens" && x.RegistrationID == seg[1] })
			u.WebAuthnCredentials = slices.DeleteFunc(u.WebAuthnCredentials, func(x WebAuthnCredential) bool {
				return seg[0] == "webauthncredentials" && x.WebAuthnKey == seg[1]
			})
			u.BypassCodes = slices.DeleteFunc(u.BypassCodes, func(x BypassCode) bool { return seg[0] == "bypass_codes" && x.BypassCodeID == seg[1] })
			if len(u.U2FTokens)+len(u.WebAuthnCredentials)+len(u.BypassCodes) < n {
				return ok("")
			}
		}
		return notFound(seg[0] + " " + seg[1])
	case seg[0] == "groups" && len(seg) == 2:
		g, found := s.groups[seg[1]]
		if !found {
			return notFound("group " + seg[1])
		}
		switch method {
		case http.MethodGet:
			return ok(*g)
		case http.MethodPost:
			if n := p.Get("name"); n != "" {
				g.Name = n
			}
			if p.Has("desc") {
				g.Desc = p.Get("desc")
			}
			return ok(*g)
		case http.MethodDelete:
			delete(s.groups, g.GroupID)
			return ok("")
		}
	}
	return notFound(method + " " + path)
}

func (s *Server) users1(method string, p url.Values) answer {
	switch method {
	case http.MethodGet:
		list := []User{}
		if p.Has("username") {
			if u := s.byUsernameLocked(p.Get("username")); u != nil {
				list = append(list, s.viewLocked(u))
			}
			return ok(list)
		}
		for _, u := range s.users {
			list = append(list, s.viewLocked(u))
		}
		slices.SortFunc(list, func(a, b User) int { return strings.Compare(a.Username, b.Username) })
		return ok(list)
	case http.MethodPost:
		name := p.Get("username")
		if name == "" {
			return badParam("username")
		}
		if s.byUsernameLocked(name) != nil {
			return fail(400, 40003, "Duplicate resource", "username "+name+" exists")
		}
		status := p.Get("status")
		if status == "" {
			status = "active"
		} else if !validStatus(status) {
			return badParam("status")
		}
		u := &User{UserID: newID("DU"), Username: name, Realname: p.Get("realname"), Email: p.Get("email"), Status: status}
		s.users[u.UserID] = u
		return ok(s.viewLocked(u))
	}
	return fail(405, 40501, "Method not allowed", method)
}

func validStatus(s string) bool { return s == "active" || s == "bypass" || s == "disabled" }

func (s *Server) user(method string, u *User, sub []string, p url.Values) answer {
	switch {
	case len(sub) == 0 && method == http.MethodGet:
		return ok(s.viewLocked(u))
	case len(sub) == 0 && method == http.MethodPost:
		if p.Has("status") && !validStatus(p.Get("status")) {
			return badParam("status")
		}
		for k, dst := range map[string]*string{"username": &u.Username, "realname": &u.Realname, "email": &u.Email, "status": &u.Status} {
			if p.Has(k) {
				*dst = p.Get(k)
			}
		}
		return ok(s.viewLocked(u))
	case len(sub) == 0 && method == http.MethodDelete:
		delete(s.users, u.UserID)
		return ok("")
	case sub[0] == "phones" && len(sub) == 1 && method == http.MethodGet:
		return ok(s.viewLocked(u).Phones)
	case sub[0] == "phones" && len(sub) == 2 && method == http.MethodDelete:
		u.Phones = slices.DeleteFunc(u.Phones, func(x Phone) bool { return x.PhoneID == sub[1] })
		return ok("")
	case sub[0] == "tokens" && len(sub) == 1 && method == http.MethodGet:
		return ok(s.viewLocked(u).Tokens)
	case sub[0] == "tokens" && len(sub) == 2 && method == http.MethodDelete:
		u.Tokens = slices.DeleteFunc(u.Tokens, func(x Token) bool { return x.TokenID == sub[1] })
		return ok("")
	case sub[0] == "groups" && len(sub) == 1 && method == http.MethodGet:
		return ok(s.viewLocked(u).Groups)
	case sub[0] == "bypass_codes" && len(sub) == 1 && method == http.MethodGet:
		return paged(append([]BypassCode{}, u.BypassCodes...), p, 500)
	case sub[0] == "groups" && len(sub) == 1 && method == http.MethodPost:
		id := p.Get("group_id")
		g, found := s.groups[id]
		if !found {
			return badParam("group_id")
		}
		if !slices.ContainsFunc(u.Groups, func(x Group) bool { return x.GroupID == id }) {
			u.Groups = append(u.Groups, *g)
		}
		return ok("")
	case sub[0] == "groups" && len(sub) == 2 && method == http.MethodDelete:
		u.Groups = slices.DeleteFunc(u.Groups, func(x Group) bool { return x.GroupID == sub[1] })
		return ok("")
	}
	return notFound(method + " users/" + u.UserID + "/" + strings.Join(sub, "/"))
}

func (s *Server) groups1(method string, p url.Values) answer {
	switch method {
	case http.MethodGet:
		list := []Group{}
		for _, g := range s.groups {
			list = append(list, *g)
		}
		slices.SortFunc(list, func(a, b Group) int { return strings.Compare(a.Name, b.Name) })
		return paged(list, p, 100)
	case http.MethodPost:
		name := p.Get("name")
		if name == "" {
			return badParam("name")
		}
		return ok(*s.addGroupLocked(name, p.Get("desc")))
	}
	return fail(405, 40501, "Method not allowed", method)
}

// paged answers a page of list as DUO does: limit (at most maxLimit, and maxLimit when
// not given) items from offset, and metadata with next_offset (null on the last page).
func paged[T any](list []T, p url.Values, maxLimit int) answer {
	offset, _ := strconv.Atoi(p.Get("offset"))
	limit, _ := strconv.Atoi(p.Get("limit"))
	if limit <= 0 || limit > maxLimit {
		limit = maxLimit
	}
	offset = min(max(offset, 0), len(list))
	end := min(offset+limit, len(list))
	a := ok(list[offset:end])
	var next any
	if end < len(list) {
		next = end
	}
	a.body.(map[string]any)["metadata"] = map[string]any{"next_offset": next, "total_objects": len(list)}
	return a
}

// newID is a DUO-style id: a two-letter kind and 18 upper-case alphanumerics.
func newID(kind string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b [18]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return fmt.Sprintf("%s%s", kind, b[:])
}
