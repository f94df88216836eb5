package adapter

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/internal/jsonkeys"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
)

// The admin API (/admin/v1): users and factors as an organisation manages them, thin
// calls into lifecycle.Manager. Its own credentials (admin API tokens, as a bearer) open
// it; Verify's webhook credentials never do, and its tokens never open the contract.

// AdminPrefix is where the admin API is served.
const AdminPrefix = "/admin/v1"

// adminImportPath takes a directory export, larger and slower than any other request.
const adminImportPath = AdminPrefix + "/import"

// Import bounds: a 10,000-user CSV is about 1 MB. The rows are bounded apart from the
// bytes: each is held, with its line of the report, some hundreds of bytes however short
// (lifecycle.ParseImportMax), and 32 MiB of two-byte rows are 16 million of them. A
// dry run of 200,000 users with an e-mail, groups and a factor each held 754 MiB of heap:
// 100,000 held 337 MiB.
const (
	importMaxBody = 32 << 20
	importMaxRows = 100_000
	importTimeout = 10 * time.Minute
)

// errTooManyRows answers an import of more than importMaxRows rows: nothing is applied.
var errTooManyRows = &Error{Status: http.StatusRequestEntityTooLarge, ID: "too_many_rows",
	Msg: "the file has more than " + strconv.Itoa(importMaxRows) + " rows: nothing was imported; import it in parts of at most " +
		strconv.Itoa(importMaxRows) + " rows (a full import's file cannot be split: emfa import, which reads the file where it runs, has no such bound)"}

//go:embed admin_openapi.json
var adminOpenAPIFile []byte

// adminOpenAPI is the document served: the committed one, with the factor types the
// engine registers (builtin.Types) wherever it lists them, and the activation modes each
// takes (activationModes), so that a new type's file and registry line are all it takes (TestAdminOpenAPIFactorTypes keeps the file in step).
// Built at first use, not at start-up: its 60 KiB are decoded and encoded again, which a
// process serving no admin API (or a CLI command) would pay for nothing.
var adminOpenAPI = sync.OnceValue(func() []byte {
	adminOpenAPIBuilt.Store(true)
	return withFactorTypes(adminOpenAPIFile, builtin.Types())
})

// adminOpenAPIBuilt: adminOpenAPI has been built in this process (for a test: routing
// does not build it).
var adminOpenAPIBuilt atomic.Bool

// AdminOpenAPI is the OpenAPI 3 document of the admin API.
func AdminOpenAPI() []byte { return adminOpenAPI() }

// factorTypeSchemas are the schemas of the document whose type property is a factor type.
var factorTypeSchemas = []string{"Enrollment", "Factor"}

// withFactorTypes is doc with types as the enum (or, where the file describes them in
// words, the description) of each factor type property. The document is embedded and
// validated by TestAdminOpenAPI: one that cannot be read is a build defect.
func withFactorTypes(doc []byte, types []string) []byte {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		panic("adapter: admin_openapi.json: " + err.Error())
	}
	schemas, _ := v["components"].(map[string]any)["schemas"].(map[string]any)
	for _, name := range factorTypeSchemas {
		props, _ := schemas[name].(map[string]any)["properties"].(map[string]any)
		typ, ok := props["type"].(map[string]any)
		if !ok {
			panic("adapter: admin_openapi.json: no " + name + ".properties.type")
		}
		if _, ok := typ["enum"]; ok {
			typ["enum"] = types
		} else {
			typ["description"] = strings.Join(types, ", ")
		}
	}
	props, _ := schemas["Enrollment"].(map[string]any)["properties"].(map[string]any)
	activation, ok := props["activation"].(map[string]any)
	if !ok {
		panic("adapter: admin_openapi.json: no Enrollment.properties.activation")
	}
	activation["enum"], activation["description"] = activationModes()
	out, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		panic("adapter: admin_openapi.json: " + err.Error())
	}
	return out
}

// activationModes are the values of an enrollment's activation and what each type takes,
// as the types say (builtin.ActivationTypes): the enum and description of
// Enrollment.activation.
func activationModes() (enum []string, description string) {
	var parts []string
	for _, mode := range []string{builtin.ActivationPasscode, builtin.ActivationOnFirstUse} {
		if types := builtin.ActivationTypes(mode); len(types) > 0 {
			enum = append(enum, mode)
			what := mode + " for " + strings.Join(types, ", ")
			if mode == builtin.ActivationPasscode {
				what = mode + " (the default) for " + strings.Join(types, ", ")
			}
			parts = append(parts, what)
		}
	}
	enum = append(enum, lifecycle.ActivationImmediate)
	device := builtin.DeviceActivatedTypes()
	if len(device) > 0 {
		enum = append(enum, lifecycle.ActivationDevice)
		parts = append(parts, lifecycle.ActivationImmediate+" for any type but "+strings.Join(device, ", "),
			lifecycle.ActivationDevice+" (the default, and the only one) for "+strings.Join(device, ", "))
	} else {
		parts = append(parts, lifecycle.ActivationImmediate+" for any type")
	}
	var atOnce []string
	for _, typ := range builtin.Types() {
		if len(builtin.ActivationModes(typ)) == 0 && !builtin.ActivatedByDevice(typ) {
			atOnce = append(atOnce, typ)
		}
	}
	if len(atOnce) > 0 {
		parts = append(parts, strings.Join(atOnce, ", ")+" only active at once ("+lifecycle.ActivationImmediate+", the default)")
	}
	return enum, strings.Join(parts, "; ") + "."
}

// ctxActor is the echo context key of the admin token's name.
const ctxActor = "emfa.actor"

type adminAPI struct {
	s  *Server
	m  *lifecycle.Manager
	ss *lifecycle.SelfService // nil unless selfService.enabled: invites need it
}

// routeAdmin serves the admin API. The scope each route needs is its operation's x-scope
// in the document (api.route), not a word here.
func (s *Server) routeAdmin(e *echo.Echo, m *lifecycle.Manager, ss *lifecycle.SelfService) {
	adminQueries() // read the document's parameters now: a defect in it stops start-up, not a request
	adminBodies()
	adminConditional()
	api := adminAPI{s: s, m: m, ss: ss}
	for _, r := range []struct {
		method, path string
		h            echo.HandlerFunc
	}{
		{http.MethodGet, "/openapi.json", func(c echo.Context) error { return c.JSONBlob(http.StatusOK, adminOpenAPI()) }},

		{http.MethodGet, "/users", api.listUsers},
		{http.MethodPost, "/users", api.createUser},
		{http.MethodGet, "/users/:user", api.getUser},
		{http.MethodPatch, "/users/:user", api.updateUser},
		{http.MethodDelete, "/users/:user", api.deleteUser},
		{http.MethodPost, "/users/:user/disable", api.userState(true)},
		{http.MethodPost, "/users/:user/enable", api.userState(false)},
		{http.MethodPost, "/users/:user/reset", api.resetUser},

		{http.MethodGet, "/users/:user/factors", api.listFactors},
		{http.MethodPost, "/users/:user/factors", api.enrollFactor},
		{http.MethodGet, "/users/:user/factors/:factor", api.getFactor},
		{http.MethodPatch, "/users/:user/factors/:factor", api.renameFactor},
		{http.MethodDelete, "/users/:user/factors/:factor", api.deleteFactor},
		{http.MethodPost, "/users/:user/factors/:factor/activate", api.activateFactor},
		{http.MethodPost, "/users/:user/factors/:factor/resend", api.resendActivation},
		{http.MethodPost, "/users/:user/factors/:factor/disable", api.factorState(true)},
		{http.MethodPost, "/users/:user/factors/:factor/enable", api.factorState(false)},
		{http.MethodPost, "/users/:user/factors/:factor/unlock", api.unlockFactor},
		{http.MethodPost, "/users/:user/factors/:factor/resync", api.resyncFactor},

		{http.MethodGet, "/switches", api.listSwitches},
		{http.MethodPost, "/switches/:provider/:capability/disable", api.setSwitch(true)},
		{http.MethodPost, "/switches/:provider/:capability/enable", api.setSwitch(false)},

		{http.MethodGet, "/audit", api.audit},
		{http.MethodPost, "/import", api.importUsers},
	} {
		api.route(e, r.method, AdminPrefix+r.path, r.h)
	}
}

// adminLimits are the body limit and deadline of a request: an import's are larger.
func (s *Server) adminLimits(c echo.Context) (int64, time.Duration, bool) {
	if c.Path() == adminImportPath {
		return importMaxBody, importTimeout, true
	}
	if strings.HasPrefix(c.Path(), "/sync/") || strings.HasPrefix(c.Path(), SCIMPrefix) {
		return syncMaxBody, syncTimeout, true
	}
	return 0, 0, false
}

// auth admits a bearer admin token whose scope includes scope (lifecycle.ScopeAllows),
// then checks the request's query parameters (checkQuery) and, on an operation that takes
// no body, that it has none (noBody), and honours an Idempotency-Key
// on a POST (idempotent): every admin route but the document's own goes through it, so
// none can forget to, and a caller without a token learns nothing of them.
func (api adminAPI) auth(scope string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			token, ok := bearerToken(c.Request())
			name, got, err := "", "", lifecycle.ErrBadToken
			if ok {
				name, got, err = api.m.Authenticate(c.Request().Context(), token)
			}
			if err != nil && !errors.Is(err, lifecycle.ErrBadToken) {
				return unavailable(err)
			}
			if err != nil {
				api.s.authFailures.Add(1)
				reason := "no bearer token"
				if ok {
					reason = err.Error()
				}
				api.s.log.Warn("admin authentication failed", "reason", reason, "remote", c.RealIP(), "path", loggedPath(c),
					"request_id", callRequestID(c))
				// RFC 6750 §3.1: an error code only when a token was sent.
				challenge := `Bearer realm="emfa admin"`
				if ok {
					challenge += `, error="invalid_token"`
				}
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, challenge)
				return &lifecycle.Error{Kind: lifecycle.Unauthorized, Code: "unauthorized", Msg: "missing, unknown or revoked admin token"}
			}
			// Every audit row of the request carries its id (the requestID middleware put
			// it in the context), which the access log has with the address, and the
			// token's name as its actor, a refused request's too.
			c.Set(ctxActor, name)
			c.Set(ctxScope, got)
			api.s.widenConn(c)
			if !lifecycle.ScopeAllows(got, scope) {
				return api.refuseScope(c, name, got, scope)
			}
			if err := checkQuery(c); err != nil {
				return err
			}
			if err := checkAdminIfMatch(c); err != nil {
				return err
			}
			return api.idempotent(c, api.recordBodyRefusal(noBody(next))) // a POST with an Idempotency-Key runs once
		}
	}
}

func actor(c echo.Context) lifecycle.Actor {
	name, _ := c.Get(ctxActor).(string)
	return lifecycle.Actor(name)
}

// param is a path parameter, percent-decoded once (a username may hold any character).
// Echo routes on the raw path only when the request's escaping is not the default one (a
// "/" sent as %2F: echo.GetPath), and its parameters are then still escaped; otherwise
// they are decoded already, and decoding them again would turn "a%41", sent as a%2541,
// into another user's name, "aA".
func param(c echo.Context, name string) string {
	v := c.Param(name)
	if c.Request().URL.RawPath == "" {
		return v
	}
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

// decodeStrict reads a JSON object into v, refusing unknown fields, a key given twice
// (encoding/json would keep the last, where a proxy may have read the first) and
// trailing data. A refusal names the field at fault and says what it must be, and is
// marked a body refusal (recordBodyRefusal).
func decodeStrict(c echo.Context, v any) error {
	return bodyRefused(decodeStrictBody(c, v))
}

func decodeStrictBody(c echo.Context, v any) error {
	data, err := readBody(c)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return &lifecycle.Error{Kind: lifecycle.Invalid, Code: "invalid_json", Msg: "body is empty; a JSON object is required"}
	}
	if !utf8.Valid(data) {
		// encoding/json would read each such byte as U+FFFD: "jos\xe9" would create
		// another user than the one meant, as an import's row would (lifecycle.notUTF8).
		return &lifecycle.Error{Kind: lifecycle.Invalid, Code: "invalid_json",
			Msg: "body is not UTF-8 (saved as Latin-1 or Windows-1252?); send it in UTF-8"}
	}
	// Malformed JSON is the decoder's to word; valid JSON with a key twice, or nested
	// too deep, is refused here.
	if err := checkUniqueKeys(data); err != nil && json.Valid(data) {
		if key, ok := duplicateKey(err); ok {
			return &lifecycle.Error{Kind: lifecycle.Invalid, Code: "duplicate_field", Field: key,
				Msg: "is given more than once (keys are matched in any case); give it once"}
		}
		return &lifecycle.Error{Kind: lifecycle.Invalid, Code: "invalid_json", Msg: "body is " + err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr) && typeErr.Field != "":
			return typeError(reflect.TypeOf(v), data, typeErr)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return &lifecycle.Error{Kind: lifecycle.Invalid, Code: "unknown_field", Field: field,
				Msg: "is not a field of this request" + didYouMean(field, jsonFields(reflect.TypeOf(v)))}
		}
		return &lifecycle.Error{Kind: lifecycle.Invalid, Code: "invalid_json", Msg: "body is not a valid JSON object"}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &lifecycle.Error{Kind: lifecycle.Invalid, Code: "invalid_json", Msg: "body has data after the JSON object"}
	}
	return nil
}

// duplicateKey is the key checkUniqueKeys found twice, with the keys above it
// ("attributes.a").
func duplicateKey(err error) (string, bool) {
	var de *jsonkeys.DuplicateError
	if !errors.As(err, &de) {
		return "", false
	}
	return de.Path, true
}

// typeError words a value of the wrong JSON type in a body decoded into t: the field as
// the body names it, and what it must be as a caller writes it ("a list of strings", not
// encoding/json's "slice"). A wrong value in an object of strings is named by its key
// ("attributes.b"), which encoding/json does not give.
func typeError(t reflect.Type, data []byte, te *json.UnmarshalTypeError) *lifecycle.Error {
	var path []string
	for _, seg := range strings.Split(te.Field, ".") {
		if t == nil {
			path = append(path, seg)
			continue
		}
		f, embedded, ok := jsonField(derefType(t), seg)
		if !ok {
			path, t = append(path, seg), nil // not a struct's field: named as given
			continue
		}
		t = f.Type
		if !embedded { // an embedded struct's name is no part of the body's field path
			path = append(path, seg)
		}
	}
	// Where the walk lost the field's type (in a map or a list), the value's own.
	field, want := strings.Join(path, "."), "must be "+describeType(te.Type)
	if t != nil {
		t = derefType(t)
		want = "must be " + describeType(t)
		if t.Kind() == reflect.Map && te.Type != t {
			// The object is one, a value in it is not of its type.
			if key, ok := mistypedKey(data, path, t.Elem()); ok {
				field, want = field+"."+key, "must be "+describeType(t.Elem())
			}
		}
	}
	return &lifecycle.Error{Kind: lifecycle.Invalid, Code: "invalid_field", Field: field, Msg: want}
}

// mistypedKey is the first key, in sorted order, of the object at path in data whose
// value does not decode into elem.
func mistypedKey(data []byte, path []string, elem reflect.Type) (string, bool) {
	raw := json.RawMessage(data)
	for _, seg := range path {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return "", false
		}
		// encoding/json matches a key to a field in any case: so does this.
		k, ok := "", false
		for key := range obj {
			if strings.EqualFold(key, seg) {
				k, ok = key, true
			}
		}
		if !ok {
			return "", false
		}
		raw = obj[k]
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return "", false
	}
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if json.Unmarshal(obj[k], reflect.New(elem).Interface()) != nil {
			return k, true
		}
	}
	return "", false
}

func derefType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// jsonField is the field of struct t that the body's key (or encoding/json's name of an
// embedded struct) seg names; embedded says it is an embedded struct.
func jsonField(t reflect.Type, seg string) (f reflect.StructField, embedded, ok bool) {
	if t.Kind() != reflect.Struct {
		return f, false, false
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && derefType(f.Type).Name() == seg {
			return f, true, true
		}
		if name, ok := jsonName(f); ok && strings.EqualFold(name, seg) {
			return f, false, true
		}
	}
	return f, false, false
}

// jsonName is the key of an exported field in a body, as encoding/json reads it.
func jsonName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch name {
	case "-":
		return "", false
	case "":
		return f.Name, true
	}
	return name, true
}

// jsonFields are the keys a body decoded into t may have, those of its embedded structs
// included: the suggestions for an unknown one.
func jsonFields(t reflect.Type) []string {
	t = derefType(t)
	if t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Tag.Get("json") == "" {
			names = append(names, jsonFields(f.Type)...)
		} else if name, ok := jsonName(f); ok {
			names = append(names, name)
		}
	}
	return names
}

// describeType says what a JSON value decoded into t must be, as a caller writes it.
func describeType(t reflect.Type) string {
	switch t = derefType(t); t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if derefType(t.Elem()).Kind() == reflect.String {
			return "a list of strings"
		}
		return "a list"
	case reflect.Map:
		if derefType(t.Elem()).Kind() == reflect.String {
			return "an object whose values are strings"
		}
		return "an object"
	case reflect.Struct:
		return "an object"
	}
	return "another JSON value"
}

// adminErrorBody is the admin API's error: a stable code, the field at fault, a message.
type adminErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Field   string `json:"field,omitempty"`
		Message string `json:"message"`
	} `json:"error"`
}

// adminError answers an error under /admin/: a lifecycle refusal with its code, an
// adapter error (malformed body, too large, unavailable) or a router one in the same
// shape. It reports whether it answered.
func (s *Server) adminError(err error, c echo.Context) bool {
	if !strings.HasPrefix(c.Request().URL.Path, "/admin/") {
		return false
	}
	f := classify(err)
	var body adminErrorBody
	body.Error.Code, body.Error.Message = f.ID, f.Msg
	switch f.Kind {
	case refusal:
		body.Error.Code, body.Error.Field = f.Refusal.Code, f.Refusal.Field
		if f.Refusal.RetryAfter > 0 {
			// A limit refused it for now (a code's send limits): 429, so that an
			// automation's HTTP client waits as long as it says and tries again.
			retryAfter(c, f.Refusal.RetryAfter)
		}
	case adapterError:
		if f.ID == "invalid_request" {
			body.Error.Code = "invalid_json"
		}
	}
	if f.Fault {
		s.logFault(c, err)
		if body.Error.Code == "" {
			u := unavailable(err)
			body.Error.Code, body.Error.Message = u.ID, u.Msg
		}
	}
	if werr := c.JSON(f.Status, body); werr != nil {
		s.log.Debug("write error response", "err", werr)
	}
	return true
}

func (api adminAPI) listUsers(c echo.Context) error {
	q := c.QueryParams()
	limit, err := intParam(q, "limit")
	if err != nil {
		return err
	}
	page, err := api.m.ListUsers(c.Request().Context(), lifecycle.UserQuery{
		Prefix: q.Get("prefix"), Group: q.Get("group"), State: q.Get("state"), Cursor: q.Get("cursor"), Limit: limit})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

func intParam(q url.Values, name string) (int, error) {
	if !q.Has(name) {
		return 0, nil
	}
	n, err := strconv.Atoi(q.Get(name))
	if err != nil || n < 1 {
		return 0, &lifecycle.Error{Kind: lifecycle.Invalid, Code: "invalid_parameter", Field: name, Msg: "must be a positive integer"}
	}
	return n, nil
}

func (api adminAPI) createUser(c echo.Context) error {
	var in struct {
		lifecycle.UserInput
		// Invite e-mails the new user an activation link, as POST .../activation-link.
		Invite bool `json:"invite"`
	}
	if err := decodeStrict(c, &in); err != nil {
		return err
	}
	if in.Invite {
		// Refused before anything is created: an invite that cannot go is a mistake.
		if in.State != nil && *in.State == lifecycle.StateDisabled {
			return &lifecycle.Error{Kind: lifecycle.Invalid, Code: "invalid_field", Field: "invite", Msg: "a user created disabled cannot open an activation link: create it active, or invite it once enabled"}
		}
		if api.ss == nil {
			return errSelfServiceDisabled
		}
		if in.Email == nil || strings.TrimSpace(*in.Email) == "" {
			return &lifecycle.Error{Kind: lifecycle.Invalid, Code: "invalid_field", Field: "email", Msg: "invite needs an e-mail address to send the link to"}
		}
	}
	ctx := c.Request().Context()
	u, err := api.m.CreateUser(ctx, actor(c), in.UserInput)
	if err != nil {
		return err
	}
	out := struct {
		lifecycle.User
		Invite      *lifecycle.Link  `json:"invite,omitempty"`
		InviteError *lifecycle.Error `json:"inviteError,omitempty"`
	}{User: u}
	if in.Invite {
		// The user exists now whatever the mail does: a failed send is reported, not undone.
		l, err := api.ss.IssueLink(ctx, actor(c), u.Name, true)
		var le *lifecycle.Error
		switch {
		case err == nil:
			out.Invite = &l
		case errors.As(err, &le):
			out.InviteError = le
		default:
			// A fault, but the user is created: answered 503, its script's retry would be
			// refused user_exists, and no answer would say the user exists uninvited.
			api.s.logFault(c, err)
			out.InviteError = lifecycle.InviteFault()
		}
	}
	c.Response().Header().Set(echo.HeaderLocation, AdminPrefix+"/users/"+url.PathEscape(u.Name))
	c.Response().Header().Set("ETag", userETag(u.ID, u.Revision))
	return c.JSON(http.StatusCreated, out)
}

func (api adminAPI) getUser(c echo.Context) error {
	u, err := api.m.GetUser(c.Request().Context(), param(c, "user"))
	if err != nil {
		return err
	}
	return answerAdminUser(c, http.StatusOK, u)
}

// answerAdminUser answers u with its ETag: the user's id and revision, which every change
// to the user moves on (a user deleted and created again under its name has another id).
func answerAdminUser(c echo.Context, status int, u lifecycle.User) error {
	c.Response().Header().Set("ETag", userETag(u.ID, u.Revision))
	return c.JSON(status, u)
}

func userETag(id string, revision int64) string {
	return `"` + id + "." + strconv.FormatInt(revision, 10) + `"`
}

// ifMatchRevision reads the If-Match a write of the user id, now at revision current, is
// conditional on: the revision it names, nil when there is none (or *). If-Match may
// list tags, in one field or several, any one of which lets the write through (RFC 9110
// §13.1.1): of a list, the current version when it names it. A tag that is not one of
// the user's (another id, a weak or malformed tag) names a revision never held.
func ifMatchRevision(c echo.Context, id string, current int64) *int64 {
	tags := ifMatchTags(c)
	if anyVersion(tags) {
		return nil
	}
	var named *int64
	for _, tag := range tags {
		n, ok := userRevisionOf(tag, id)
		if ok && (n == current || named == nil) {
			named = &n
		}
	}
	if named == nil {
		never := int64(-1)
		return &never
	}
	return named
}

// userRevisionOf reads the revision of the user id that the strong entity tag names.
func userRevisionOf(tag, id string) (int64, bool) {
	rev, ok := strings.CutPrefix(strings.TrimSuffix(tag, `"`), `"`+id+".")
	if !ok || !strings.HasSuffix(tag, `"`) {
		return 0, false
	}
	n, err := strconv.ParseInt(rev, 10, 64)
	return n, err == nil && n >= 0
}

// adminConditional are the operations, by "METHOD /path" as the document names them,
// that honour an If-Match: those that list the document's ifMatch parameter. Read from
// the embedded file, as adminQueries are.
var adminConditional = sync.OnceValue(func() map[string]bool {
	var d struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(adminOpenAPIFile, &d); err != nil {
		panic("adapter: admin_openapi.json: " + err.Error())
	}
	ops := map[string]bool{}
	for path, item := range d.Paths {
		for method, raw := range item {
			var op struct {
				Parameters []openAPIParam `json:"parameters"`
			}
			if json.Unmarshal(raw, &op) != nil {
				continue // not an operation (a path's summary); scopesOf refuses a malformed one
			}
			if slices.ContainsFunc(op.Parameters, func(p openAPIParam) bool { return p.Ref == "#/components/parameters/ifMatch" }) {
				ops[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	return ops
})

// checkAdminIfMatch refuses an If-Match on a write that does not honour it (adminConditional):
// run regardless of it, the write would be made whatever changed since the version the
// caller made it conditional on (RFC 9110 §13.1.1: a condition not evaluated must not be
// taken as true). A read may carry one: it changes nothing.
func checkAdminIfMatch(c echo.Context) error {
	req := c.Request()
	if !ifMatchGiven(c) || req.Method == http.MethodGet || req.Method == http.MethodHead {
		return nil
	}
	if adminConditional()[operationOf(req.Method, c.Path())] {
		return nil
	}
	return &lifecycle.Error{Kind: lifecycle.Invalid, Code: "invalid_header", Field: "If-Match",
		Msg: "this operation is not conditional, and would not honour it: send it without If-Match " +
			"(PATCH and DELETE /users/{user} and its disable and enable take one)"}
}

// errPrecondition answers a write whose If-Match names a version the user no longer has.
var errPrecondition = &Error{Status: http.StatusPreconditionFailed, ID: lifecycle.CodeChanged,
	Msg: "the user changed since the version If-Match names; read it again (its ETag) and retry"}

// ifMatchUser reads the version a write of the request's user is conditional on: the
// user's id as read, and the revision (see ifMatchRevision), nil without an If-Match (or
// with *). The write is made on both: the user found by its name when it is written may
// be another, deleted and created again since, whose revision restarted.
func (api adminAPI) ifMatchUser(c echo.Context) (string, *int64, error) {
	if !ifMatchGiven(c) {
		return "", nil, nil
	}
	cur, err := api.m.GetUser(c.Request().Context(), param(c, "user"))
	if err != nil {
		return "", nil, err
	}
	rev := ifMatchRevision(c, cur.ID, cur.Revision)
	if rev == nil {
		return "", nil, nil
	}
	return cur.ID, rev, nil
}

// preconditionOf answers 412 for a write conditional on an If-Match that another change
// overtook (rev set), err as it is otherwise.
func preconditionOf(rev *int64, err error) error {
	var le *lifecycle.Error
	if rev != nil && errors.As(err, &le) && le.Code == lifecycle.CodeChanged {
		return errPrecondition
	}
	return err
}

func (api adminAPI) updateUser(c echo.Context) error {
	var in lifecycle.UserInput
	if err := decodeStrict(c, &in); err != nil {
		return err
	}
	id, rev, err := api.ifMatchUser(c)
	if err != nil {
		return err
	}
	in.IfUser, in.IfRevision = id, rev
	u, err := api.m.UpdateUser(c.Request().Context(), actor(c), param(c, "user"), in)
	if err != nil {
		return preconditionOf(rev, err)
	}
	return answerAdminUser(c, http.StatusOK, u)
}

func (api adminAPI) deleteUser(c echo.Context) error {
	id, rev, err := api.ifMatchUser(c)
	if err != nil {
		return err
	}
	if rev != nil {
		err = api.m.DeleteUserAt(c.Request().Context(), actor(c), param(c, "user"), id, rev)
	} else {
		err = api.m.DeleteUser(c.Request().Context(), actor(c), param(c, "user"))
	}
	if err != nil {
		return preconditionOf(rev, err)
	}
	return c.NoContent(http.StatusNoContent)
}

func (api adminAPI) userState(disabled bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, rev, err := api.ifMatchUser(c)
		if err != nil {
			return err
		}
		var u lifecycle.User
		if rev != nil {
			u, err = api.m.SetUserStateAt(c.Request().Context(), actor(c), param(c, "user"), disabled, id, *rev)
		} else {
			u, err = api.m.SetUserState(c.Request().Context(), actor(c), param(c, "user"), disabled)
		}
		if err != nil {
			return preconditionOf(rev, err)
		}
		return answerAdminUser(c, http.StatusOK, u)
	}
}

// optionalBody decodes a body if there is one: some actions take options, or nothing.
func optionalBody(c echo.Context, v any) error {
	if c.Request().ContentLength == 0 {
		return nil
	}
	data, err := peekBody(c)
	if err != nil || len(bytes.TrimSpace(data)) == 0 {
		return err
	}
	return decodeStrict(c, v)
}

func (api adminAPI) resetUser(c echo.Context) error {
	var in struct {
		Mode string `json:"mode"`
	}
	if err := optionalBody(c, &in); err != nil {
		return err
	}
	n, err := api.m.ResetUser(c.Request().Context(), actor(c), param(c, "user"), in.Mode)
	if err != nil {
		return err
	}
	mode := in.Mode
	if mode == "" {
		mode = lifecycle.ResetDelete
	}
	return c.JSON(http.StatusOK, map[string]any{"mode": mode, "factors": n})
}

func (api adminAPI) listFactors(c echo.Context) error {
	fs, err := api.m.ListFactors(c.Request().Context(), param(c, "user"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"factors": fs})
}

func (api adminAPI) enrollFactor(c echo.Context) error {
	var in lifecycle.Enrollment
	if err := decodeStrict(c, &in); err != nil {
		return err
	}
	out, err := api.m.EnrollFactor(c.Request().Context(), actor(c), param(c, "user"), in)
	if err != nil {
		return err
	}
	// The answer holds what is shown once (a seed, an activation code): never cached.
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.JSON(http.StatusCreated, out)
}

func (api adminAPI) getFactor(c echo.Context) error {
	f, err := api.m.GetFactor(c.Request().Context(), param(c, "user"), param(c, "factor"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, f)
}

func (api adminAPI) renameFactor(c echo.Context) error {
	var in struct {
		Label string `json:"label"`
	}
	if err := decodeStrict(c, &in); err != nil {
		return err
	}
	f, err := api.m.RenameFactor(c.Request().Context(), actor(c), param(c, "user"), param(c, "factor"), in.Label)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, f)
}

func (api adminAPI) deleteFactor(c echo.Context) error {
	if err := api.m.DeleteFactor(c.Request().Context(), actor(c), param(c, "user"), param(c, "factor")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (api adminAPI) activateFactor(c echo.Context) error {
	var in struct {
		Passcode string `json:"passcode"`
	}
	if err := decodeStrict(c, &in); err != nil {
		return err
	}
	f, err := api.m.ActivateFactor(c.Request().Context(), actor(c), param(c, "user"), param(c, "factor"), in.Passcode)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, f)
}

func (api adminAPI) resendActivation(c echo.Context) error {
	expires, err := api.m.ResendActivation(c.Request().Context(), actor(c), param(c, "user"), param(c, "factor"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"activationExpiresAt": expires.UTC().Format(time.RFC3339)})
}

func (api adminAPI) factorState(disabled bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		f, err := api.m.SetFactorState(c.Request().Context(), actor(c), param(c, "user"), param(c, "factor"), disabled)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, f)
	}
}

func (api adminAPI) unlockFactor(c echo.Context) error {
	f, err := api.m.UnlockFactor(c.Request().Context(), actor(c), param(c, "user"), param(c, "factor"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, f)
}

func (api adminAPI) resyncFactor(c echo.Context) error {
	var in struct {
		Codes []string `json:"codes"`
	}
	if err := decodeStrict(c, &in); err != nil {
		return err
	}
	f, next, err := api.m.ResyncFactor(c.Request().Context(), actor(c), param(c, "user"), param(c, "factor"), in.Codes)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"factor": f, "nextCounter": next})
}

func (api adminAPI) listSwitches(c echo.Context) error {
	sws, err := api.m.ListSwitches(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"switches": sws})
}

func (api adminAPI) setSwitch(disabled bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		var in struct {
			Reason string `json:"reason"`
		}
		if err := optionalBody(c, &in); err != nil {
			return err
		}
		sw, err := api.m.SetSwitch(c.Request().Context(), actor(c), param(c, "provider"), param(c, "capability"), disabled, in.Reason)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, sw)
	}
}

func (api adminAPI) audit(c echo.Context) error {
	q := c.QueryParams()
	limit, err := intParam(q, "limit")
	if err != nil {
		return err
	}
	aq := lifecycle.AuditQuery{User: q.Get("user"), Action: q.Get("action"), Outcome: q.Get("outcome"), Actor: q.Get("actor"),
		RequestID: q.Get("requestId"), Cursor: q.Get("cursor"), Limit: limit}
	for name, dst := range map[string]*time.Time{"since": &aq.Since, "until": &aq.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				msg := "must be an RFC 3339 time"
				if _, perr := time.Parse(time.RFC3339, strings.ReplaceAll(v, " ", "+")); perr == nil {
					// A positive offset pasted as written (…12:00:00+02:00): its '+' arrived
					// as a space, and "not a time" told the caller they had not sent one.
					msg += ": its '+' arrived as a space, as a '+' in a query does; send it as %2B"
				}
				return &lifecycle.Error{Kind: lifecycle.Invalid, Code: "invalid_parameter", Field: name, Msg: msg}
			}
			*dst = t
		}
	}
	page, err := api.m.QueryAudit(c.Request().Context(), aq)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

func (api adminAPI) importUsers(c echo.Context) error {
	q := c.QueryParams()
	format := q.Get("format")
	if format == "" {
		// The media type alone, in any case (RFC 9110 §8.3.1: "Text/CSV" is text/csv),
		// its parameters (a charset) aside.
		mt, _, _ := strings.Cut(c.Request().Header.Get(echo.HeaderContentType), ";")
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "text/csv":
			format = lifecycle.FormatCSV
		case "application/x-ndjson", "application/jsonl", "application/jsonlines":
			format = lifecycle.FormatJSONL
		}
	}
	// checkQuery let only true or false through.
	opts := lifecycle.ImportOptions{MaxDeletes: lifecycle.DefaultMaxDeletes, DryRun: q.Get("dryRun") == "true", Full: q.Get("full") == "true"}
	invite := q.Get("invite") == "true"
	if q.Has("maxDeletes") {
		n, err := strconv.Atoi(q.Get("maxDeletes"))
		if err != nil || n < 0 {
			return &lifecycle.Error{Kind: lifecycle.Invalid, Code: "invalid_parameter", Field: "maxDeletes", Msg: "must be a non-negative integer"}
		}
		opts.MaxDeletes = n
	}
	if invite && api.ss == nil {
		return errSelfServiceDisabled
	}
	data, err := readBody(c)
	if err != nil {
		return bodyRefused(err)
	}
	rows, bad, err := lifecycle.ParseImportMax(bytes.NewReader(data), format, importMaxRows)
	if errors.Is(err, lifecycle.ErrTooManyRows) {
		return errTooManyRows
	}
	if err != nil {
		return err
	}
	rep, err := api.m.Import(c.Request().Context(), actor(c), rows, bad, opts)
	if err != nil && len(rep.Rows) == 0 {
		return err
	}
	if invite {
		// After a store fault part way too: the users created by then are invited now or
		// never, as the same file again finds them unchanged.
		api.ss.InviteImported(c.Request().Context(), actor(c), &rep)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rep)
}
