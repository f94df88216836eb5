package adapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/internal/jsonkeys"
	"github.com/emfa/emfa/provider"
)

// browserFormTypes are the media types a page may post across sites without asking
// (the Fetch standard's CORS-safelisted Content-Types).
var browserFormTypes = map[string]bool{"text/plain": true, "application/x-www-form-urlencoded": true, "multipart/form-data": true}

// noFormBodies refuses, 415, a contract call whose body is typed as a form or plain text,
// before anything runs. Verify sends JSON; a browser's cross-site form sends these, and
// with the Basic credentials it keeps for emfa once an operator opened {base}/test: a
// page elsewhere could post JSON as text/plain to initiate (a text sent) or validate (a
// factor locked out). A body sent without a type is read as JSON, as before; a GET's
// type is not looked at (it changes nothing).
func noFormBodies(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method == http.MethodGet {
			return next(c)
		}
		mt, _, _ := strings.Cut(headerValue(r.Header, echo.HeaderContentType), ";")
		if mt = strings.ToLower(strings.TrimSpace(mt)); browserFormTypes[mt] {
			return &Error{Status: http.StatusUnsupportedMediaType, ID: "unsupported_media_type",
				Msg: "the body must be JSON (Content-Type: application/json), not " + mt}
		}
		return next(c)
	}
}

// decode reads a JSON body into v. Unknown fields are ignored (Verify adds some), but the
// body must be one well-formed JSON value.
func decode(c echo.Context, v any) error { return decodeBody(c, v, false) }

// decodePlain is decode for a v that holds no interface value (enrollments' username),
// where UseNumber changes nothing: json.Unmarshal then reads a valid body as decode's
// Decoder would, to the same value or the same first type error, with two allocations
// fewer (a Decoder, its reader and its buffer, against Unmarshal's state) on the call
// that precedes every challenge. A body it finds malformed takes decode's way, for
// decode's words.
func decodePlain(c echo.Context, v any) error { return decodeBody(c, v, true) }

func decodeBody(c echo.Context, v any, plain bool) error {
	data, err := readBody(c)
	if err != nil {
		return err
	}
	return decodeData(c, data, v, plain)
}

// decodeData is decodeBody of a body already read.
func decodeData(c echo.Context, data []byte, v any, plain bool) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return badRequest("body is empty; a JSON object is required")
	}
	if !utf8.Valid(data) {
		// encoding/json would read each such byte as U+FFFD: a Latin-1 "jos\xe9" would be
		// taken for the user "jos\uFFFD", not refused as an identifier that is not UTF-8.
		return badRequest("body is not UTF-8")
	}
	if err := unmarshal(data, v, plain); err != nil {
		return err
	}
	if unique, _ := c.Get(ctxKeysUnique).(bool); unique {
		return nil // the idempotency middleware walked this body already
	}
	// unmarshal decoded data whole, which json.Valid would have accepted: the walk need
	// not scan it again first (a third pass over every contract call's body).
	if err := jsonkeys.CheckValid(data); err != nil {
		return badRequest("body is ambiguous: " + err.Error())
	}
	return nil
}

// unmarshal decodes data, one JSON value, into v; plain as decodePlain.
func unmarshal(data []byte, v any, plain bool) error {
	if plain {
		// Unmarshal checks the whole body before it decodes any of it: a syntax error
		// (trailing data included) leaves v untouched, for the Decoder below to word.
		err := json.Unmarshal(data, v)
		if err == nil {
			return nil // syntax below escapes: an allocation on every body read
		}
		if syntax := (*json.SyntaxError)(nil); !errors.As(err, &syntax) {
			return decodeError(err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("body has data after the JSON value")
	}
	return nil
}

// decodeError words a decoding error: a field of the wrong type by its name, anything
// else as malformed.
func decodeError(err error) error {
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return badRequest(fmt.Sprintf("%s must be a %s", typeErr.Field, kindName(typeErr.Type.Kind().String())))
	}
	return badRequest("body is not valid JSON")
}

func kindName(k string) string {
	switch k {
	case "ptr", "string":
		return "string"
	case "map":
		return "object"
	}
	return k
}

// challengeBody is initiate, validate and result as Verify sends them.
type challengeBody struct {
	Capability    *string        `json:"capability"`
	ID            *string        `json:"id"`
	TransactionID *string        `json:"transactionId"`
	Attributes    map[string]any `json:"attributes"`
}

// decodeRequest decodes and checks the mandatory fields of one resource
// (verify-contract.md §5-7).
func decodeRequest(c echo.Context, resource string) (provider.Request, error) {
	var b challengeBody
	if q, ok, err := queryChallenge(c); err != nil {
		return provider.Request{}, err
	} else if ok {
		b = q
	} else if b, err = decodeChallenge(c); err != nil {
		return provider.Request{}, err
	}
	switch {
	case b.Capability == nil || *b.Capability == "":
		return provider.Request{}, badRequest("capability is required")
	case b.ID == nil || *b.ID == "":
		return provider.Request{}, badRequest("id is required")
	case b.Attributes == nil:
		return provider.Request{}, badRequest("attributes is required")
	}
	req := provider.Request{Capability: *b.Capability, ID: *b.ID, Attributes: b.Attributes}
	var ok bool
	if req.Username, ok = b.Attributes["username"].(string); !ok || req.Username == "" {
		return provider.Request{}, badRequest("attributes.username is required")
	}
	if b.TransactionID != nil {
		req.TransactionID = *b.TransactionID
	}
	switch resource {
	case provider.ResourceValidate:
		if req.Passvalue, ok = b.Attributes["passvalue"].(string); !ok {
			// Some callers send a numeric code; a JSON number keeps its digits as text.
			n, isNum := b.Attributes["passvalue"].(json.Number)
			if !isNum {
				return provider.Request{}, badRequest("attributes.passvalue is required")
			}
			req.Passvalue = n.String()
		}
		delete(req.Attributes, "passvalue") // engines get it from Passvalue; nothing else keeps it
	case provider.ResourceResult:
		if req.TransactionID == "" {
			return provider.Request{}, badRequest("transactionId is required")
		}
	}
	return req, nil
}

// challengeFields are the identifiers queryChallenge reads from a query string.
var challengeFields = []string{"capability", "id", "transactionId", "username"}

// queryChallenge reads a GET without a body (IBM's samples send result as a GET) from its
// query string: transactionId, capability, id and username. ok is false when the request
// has a body (then it is decoded as on POST) or is not a GET; but when its query string
// names one of them too, the body is read here, and each the query names must be the
// body's (bodyAsQuery).
func queryChallenge(c echo.Context) (challengeBody, bool, error) {
	req := c.Request()
	if req.Method == http.MethodGet {
		data, err := peekBody(c)
		if err != nil {
			return challengeBody{}, false, err
		}
		if len(bytes.TrimSpace(data)) == 0 {
			return challengeFromQuery(req.URL.Query())
		}
	}
	if !queryNames(req, challengeFields...) {
		return challengeBody{}, false, nil
	}
	b, err := decodeChallenge(c)
	if err != nil {
		return challengeBody{}, false, err
	}
	var user *string
	if u, ok := b.Attributes["username"].(string); ok {
		user = &u
	}
	q := req.URL.Query()
	for _, f := range []struct {
		name string
		got  *string
	}{{"capability", b.Capability}, {"id", b.ID}, {"transactionId", b.TransactionID}, {"username", user}} {
		if err := bodyAsQuery(q, f.name, f.got); err != nil {
			return challengeBody{}, false, err
		}
	}
	return b, true, nil
}

// challengeFromQuery is queryChallenge's reading of a GET without a body.
func challengeFromQuery(q url.Values) (challengeBody, bool, error) {
	var err error
	var b challengeBody
	for _, f := range []struct {
		name string
		to   **string
	}{{"capability", &b.Capability}, {"id", &b.ID}, {"transactionId", &b.TransactionID}} {
		if *f.to, err = queryOnce(q, f.name); err != nil {
			return challengeBody{}, false, err
		}
	}
	u, err := queryOnce(q, "username")
	if err != nil {
		return challengeBody{}, false, err
	}
	b.Attributes = map[string]any{}
	if u != nil {
		b.Attributes["username"] = *u
	}
	return b, true, nil
}

// queryOnce is the query's value of name, nil when it has none. A name given twice
// (?username=nobody&username=alice) is a 400, as a JSON body naming a key twice is: a
// proxy or a filter before emfa may read another of the values than the first, which
// url.Values.Get gives.
func queryOnce(q url.Values, name string) (*string, error) {
	vs := q[name]
	switch len(vs) {
	case 0:
		return nil, nil
	case 1:
		return &vs[0], nil
	}
	return nil, badRequest(name + " is given more than once in the query string")
}

// queryNames reports whether req's query string names one of names.
func queryNames(req *http.Request, names ...string) bool {
	if req.URL.RawQuery == "" {
		return false
	}
	q := req.URL.Query()
	for _, name := range names {
		if q.Has(name) {
			return true
		}
	}
	return false
}

// bodyAsQuery refuses a call whose body is read while its query string gives name
// another value than the body's got (nil: none): two values of one identifier, the
// body's read and the query's ignored, where a proxy or a filter before emfa may have
// looked at the query's. The same value in both is taken.
func bodyAsQuery(q url.Values, name string, got *string) error {
	v, err := queryOnce(q, name)
	if err != nil || v == nil {
		return err
	}
	if got == nil || *got != *v {
		return badRequest(name + " in the query string is not the body's; send it once, in the body")
	}
	return nil
}

// bodyUsername reads enrollments' username from its body ("" when it names none), as
// decodePlain reads it. A body that holds the username alone, as a string
// plainUsername can take as it is, is read without encoding/json: its reflection (the
// decoder's state, the body escaping, the pointer to the string) cost five allocations
// and its three passes over the body (utf8.Valid, json.Unmarshal, the duplicate-key walk)
// ~1 µs of the call that precedes every challenge.
func bodyUsername(c echo.Context) (string, error) {
	data, err := readBody(c)
	if err != nil {
		return "", err
	}
	if u, ok := plainUsername(data); ok {
		return u, nil
	}
	var body struct {
		Username *string `json:"username"`
	}
	if err := decodeData(c, data, &body, true); err != nil || body.Username == nil {
		return "", err
	}
	return *body.Username, nil
}

// plainUsername reads data when it is {"username":"..."} and nothing else (JSON's
// whitespace aside), the string printable ASCII without a quote or a backslash: what
// json.Unmarshal reads as that very string, in a body that names no key twice and is
// UTF-8. false for any other body.
func plainUsername(data []byte) (string, bool) {
	// One string of the whole body, the username a part of it, as plainChallenge's.
	s := plainScanner{d: string(data)}
	if !s.next('{') {
		return "", false
	}
	if k, ok := s.str(); !ok || k != "username" || !s.next(':') {
		return "", false
	}
	u, ok := s.str()
	if !ok || !s.next('}') || len(skipJSONSpace(s.d)) != 0 {
		return "", false
	}
	return u, true
}

// skipJSONSpace is d past its leading JSON whitespace (RFC 8259: space, tab, LF, CR).
func skipJSONSpace[T string | []byte](d T) T {
	for len(d) > 0 && (d[0] == ' ' || d[0] == '\t' || d[0] == '\n' || d[0] == '\r') {
		d = d[1:]
	}
	return d
}

// queryUsername reads an enrollments GET without a body from its query string, as
// queryChallenge does a result's: username. ok is false when the request has a body (then
// it is decoded as on POST) or is not a GET; but when its query names a username too, the
// body's is read here, and must be the query's (bodyAsQuery).
func queryUsername(c echo.Context) (*string, bool, error) {
	req := c.Request()
	if req.Method == http.MethodGet {
		data, err := peekBody(c)
		if err != nil {
			return nil, false, err
		}
		if len(bytes.TrimSpace(data)) == 0 {
			u, err := queryOnce(req.URL.Query(), "username")
			if err != nil {
				return nil, false, err
			}
			return u, true, nil
		}
	}
	if !queryNames(req, "username") {
		return nil, false, nil
	}
	u, err := bodyUsername(c)
	if err != nil {
		return nil, false, err
	}
	var got *string
	if u != "" {
		got = &u
	}
	if err := bodyAsQuery(req.URL.Query(), "username", got); err != nil {
		return nil, false, err
	}
	return got, true, nil
}

// readBody reads the request body within the body limit, answering an overflow with 413.
// A body peekBody read, and nobody since, is taken as peekBody read it, not copied again.
func readBody(c echo.Context) ([]byte, error) {
	if p, ok := c.Request().Body.(*peekedBody); ok && p.Len() == len(p.data) {
		p.Reset(nil) // read to its end, as reading it would leave it
		return p.data, nil
	}
	data, err := readAll(c.Request().Body, c.Request().ContentLength)
	if err != nil {
		if isTooLarge(err) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, ID: "body_too_large", Msg: "body too large"}
		}
		return nil, badRequest("body could not be read")
	}
	return data, nil
}

// readAll is io.ReadAll into a buffer of the size the body says it has: io.ReadAll's
// first 512 bytes are mostly garbage on every contract call, whose bodies are tens of
// bytes. A body that is longer than it says is read all the same, as io.ReadAll would.
func readAll(r io.Reader, size int64) ([]byte, error) {
	if size <= 0 || size >= 512 {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, size+1) // +1: the read that meets the end needs room
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grow as io.ReadAll does
		}
	}
}

// peekBody is readBody for a middleware: the handler after it reads the same bytes.
func peekBody(c echo.Context) ([]byte, error) {
	data, err := readBody(c)
	if err != nil {
		return nil, err
	}
	p := &peekedBody{data: data}
	p.Reset(data)
	c.Request().Body = p
	return data, nil
}

// peekedBody is a body peekBody read, put back for the handler: one allocation where an
// io.NopCloser over a bytes.Reader was two, and readBody takes data itself where it
// copied the body a second time (a contract call with an X-Webhook-ID, whose body the
// idempotency middleware peeks). Nobody writes to data: the middleware fingerprints it,
// the decoders read it.
type peekedBody struct {
	bytes.Reader
	data []byte
}

func (*peekedBody) Close() error { return nil }

// decodeChallenge reads initiate's, validate's or result's body as decode reads it. A body
// plainChallenge can take, the shape Verify sends, is read without encoding/json: its
// Decoder (with its buffer), the body escaping, reflection's pointers, the map grown as
// it went and a string each field, key and value cost 24 allocations of an initiate's
// body of three attributes (BenchmarkDecodeChallenge: 33 → 9), and its passes over
// the body (utf8.Valid, the decode, the duplicate-key walk) ~8 % of a validation's
// handler CPU. Any other body is decoded as before.
func decodeChallenge(c echo.Context) (challengeBody, error) {
	data, err := readBody(c)
	if err != nil {
		return challengeBody{}, err
	}
	if b, ok := plainChallenge(data); ok {
		return b, nil
	}
	var b challengeBody
	err = decodeData(c, data, &b, false)
	return b, err
}

// plainChallenge reads data when it is one object of capability, id, transactionId and
// attributes, each at most once and named so exactly, the first three strings and
// attributes an object of at most 16 strings whose keys differ regardless of case, every
// key and string printable ASCII without a quote or a backslash (JSON's whitespace
// allowed between). encoding/json reads such a body to the same challengeBody, and
// jsonkeys finds no key named twice in it. false for any other body.
func plainChallenge(data []byte) (challengeBody, bool) {
	// One string of the whole body, every field, key and value a part of it: a value an
	// engine keeps keeps the body (at most the body limit) with it.
	s := plainScanner{d: string(data)}
	if !s.next('{') {
		return challengeBody{}, false
	}
	var b challengeBody
	strs := new([3]string) // the three fields, one allocation
	for {
		k, ok := s.str()
		if !ok || !s.next(':') {
			return challengeBody{}, false
		}
		var field **string
		var slot int
		switch k {
		case "capability":
			field, slot = &b.Capability, 0
		case "id":
			field, slot = &b.ID, 1
		case "transactionId":
			field, slot = &b.TransactionID, 2
		case "attributes":
			if b.Attributes != nil {
				return challengeBody{}, false
			}
			if b.Attributes, ok = s.attributes(); !ok {
				return challengeBody{}, false
			}
		default:
			return challengeBody{}, false
		}
		if field != nil {
			v, ok := s.str()
			if !ok || *field != nil { // named twice: jsonkeys refuses it
				return challengeBody{}, false
			}
			strs[slot] = v
			*field = &strs[slot]
		}
		if s.next(',') {
			continue
		}
		if !s.next('}') {
			return challengeBody{}, false
		}
		break
	}
	if len(skipJSONSpace(s.d)) != 0 {
		return challengeBody{}, false
	}
	return b, true
}

// plainScanner reads the JSON plainUsername and plainChallenge take, and nothing else.
type plainScanner struct{ d string }

// next reports whether c comes next, past JSON whitespace, and consumes it if so.
func (s *plainScanner) next(c byte) bool {
	s.d = skipJSONSpace(s.d)
	if len(s.d) == 0 || s.d[0] != c {
		return false
	}
	s.d = s.d[1:]
	return true
}

// str reads a string of printable ASCII without a quote or a backslash.
func (s *plainScanner) str() (string, bool) {
	if !s.next('"') {
		return "", false
	}
	for i := 0; i < len(s.d); i++ {
		c := s.d[i]
		if c == '"' {
			v := s.d[:i]
			s.d = s.d[i+1:]
			return v, true
		}
		if c < 0x20 || c > 0x7e || c == '\\' {
			return "", false
		}
	}
	return "", false
}

// attributes reads an object of at most 16 strings whose keys differ regardless of case.
func (s *plainScanner) attributes() (map[string]any, bool) {
	if !s.next('{') {
		return nil, false
	}
	m := map[string]any{}
	if s.next('}') {
		return m, true
	}
	for len(m) < 16 {
		k, ok := s.str()
		if !ok || !s.next(':') {
			return nil, false
		}
		v, ok := s.str()
		if !ok {
			return nil, false
		}
		for have := range m {
			if strings.EqualFold(have, k) { // jsonkeys compares keys so
				return nil, false
			}
		}
		m[k] = v
		if s.next(',') {
			continue
		}
		return m, s.next('}')
	}
	return nil, false
}
