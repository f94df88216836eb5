package adapter

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/internal/phone"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// SCIM 2.0 service provider (RFC 7643/7644) at /scim/v2, as Microsoft Entra ID, Okta and
// other clients use it: Users and Groups, filters of `eq` clauses joined by `and`, paging,
// PATCH with Entra's quirks (capitalised ops, string booleans, path-less replace with
// dotted keys, members[value eq "…"]), ETags. The country of the work address is the
// user's country (lifecycle.UserInput.Country), which reads the user's national numbers. Writes are lifecycle events applied at
// once through the sync queue's applier (the same rules as every other source), then
// queued, applied, for propagation. A user's SCIM id is emfa's user id; externalId and
// name parts are kept as the attributes scim.externalId, scim.givenName, scim.familyName.

const (
	scimUserSchema  = "urn:ietf:params:scim:schemas:core:2.0:User"
	scimGroupSchema = "urn:ietf:params:scim:schemas:core:2.0:Group"
	scimListSchema  = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	scimPatchSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	scimErrSchema   = "urn:ietf:params:scim:api:messages:2.0:Error"
	scimContentType = "application/scim+json"

	attrExternalID = store.ExternalIDAttribute
	attrGiven      = "scim.givenName"
	attrFamily     = "scim.familyName"
	// The type of the e-mail address or phone number kept, when it is not the one emfa
	// prefers (work, mobile) but the primary one of another type: shown as it is.
	attrEmailType = "scim.emailType"
	attrPhoneType = "scim.phoneType"
	// The type of the address whose country is kept, when it is not the work address but
	// the primary one of another type: shown as it is.
	attrAddressType = "scim.addressType"

	keptEmailType   = "work"
	keptPhoneType   = "mobile"
	keptAddressType = "work"
)

// scimError is a SCIM error response.
type scimError struct {
	Status int
	Type   string
	Detail string
}

func (e *scimError) Error() string { return e.Detail }

func scimErr(status int, typ, detail string) error {
	return &scimError{Status: status, Type: typ, Detail: detail}
}

// scimErrorOf answers an error under /scim/ in SCIM's shape; it reports whether it did.
func (s *Server) scimErrorOf(err error, c echo.Context) bool {
	if !strings.HasPrefix(c.Request().URL.Path, SCIMPrefix+"/") && c.Request().URL.Path != SCIMPrefix {
		return false
	}
	var se *scimError
	var fault bool
	switch {
	case errors.As(err, &se):
		fault = se.Status >= 500
	case errors.Is(err, sync.ErrPaused):
		// An operator's guard, not a fault: 503 with what to do about it.
		se = &scimError{Status: http.StatusServiceUnavailable, Detail: err.Error()}
	default:
		f := classify(err)
		se, fault = &scimError{Status: f.Status, Detail: f.Msg}, f.Fault
		switch {
		case f.Kind == refusal:
			se.Detail = f.Refusal.Error()
			switch f.Refusal.Kind {
			case lifecycle.Invalid:
				se.Type = "invalidValue"
			case lifecycle.Conflict:
				se.Type = "uniqueness"
			}
			if f.Refusal.RetryAfter > 0 {
				retryAfter(c, f.Refusal.RetryAfter)
			}
		case f.Kind == adapterError && f.Status == http.StatusBadRequest:
			se.Type = "invalidSyntax"
		}
	}
	if fault {
		s.logFault(c, err)
	}
	body := map[string]any{"schemas": []string{scimErrSchema}, "status": strconv.Itoa(se.Status), "detail": se.Detail}
	if se.Type != "" {
		body["scimType"] = se.Type
	}
	writeSCIM(c, se.Status, body)
	return true
}

func writeSCIM(c echo.Context, status int, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.Blob(status, scimContentType, data)
}

// routeSCIM serves /scim/v2 behind its bearer token.
func (api *syncAPI) routeSCIM(e *echo.Echo) {
	g := e.Group(SCIMPrefix)
	auth := api.scimAuth
	g.GET("/ServiceProviderConfig", api.scimConfig, auth)
	g.GET("/ResourceTypes", api.scimResourceTypes, auth)
	g.GET("/ResourceTypes/:id", api.scimResourceType, auth)
	g.GET("/Schemas", api.scimSchemas, auth)
	g.GET("/Schemas/:id", api.scimSchema, auth)
	g.GET("/Users", api.listUsers, auth)
	g.POST("/Users", api.createUser, auth)
	g.GET("/Users/:id", api.getUser, auth)
	g.PUT("/Users/:id", api.replaceUser, auth)
	g.PATCH("/Users/:id", api.patchUser, auth)
	g.DELETE("/Users/:id", api.deleteUser, auth)
	g.GET("/Groups", api.listGroups, auth)
	g.POST("/Groups", api.createGroup, auth)
	g.GET("/Groups/:id", api.getGroup, auth)
	g.PUT("/Groups/:id", api.replaceGroup, auth)
	g.PATCH("/Groups/:id", api.patchGroup, auth)
	g.DELETE("/Groups/:id", api.deleteGroup, auth)
}

func (api *syncAPI) scimAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		token, ok := bearerToken(c.Request()) // the scheme in any case, as auth.go reads it
		if !ok || !equalSecret(token, api.o.SCIMToken) {
			api.s.authFailures.Add(1)
			api.s.log.Warn("scim authentication failed", "remote", c.RealIP(), "request_id", callRequestID(c))
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="emfa scim"`)
			return scimErr(http.StatusUnauthorized, "", "missing or wrong bearer token")
		}
		api.s.widenConn(c)
		if err := scimQueryReadable(c); err != nil {
			return err
		}
		return next(c)
	}
}

// scimQueryReadable refuses a query Go does not read whole (unreadableQuery), whose
// parameter c.QueryParam would miss without a word: GET /Users with an unencoded ';' in
// its filter ("Smith; Ann") answered every user as a match, and a sync acting on the
// matches acted on everyone. A filter is 400 invalidFilter (RFC 7644 §3.4.2.2), another
// parameter invalidValue.
func scimQueryReadable(c echo.Context) error {
	name, why := unreadableQuery(c.Request().URL.RawQuery)
	switch {
	case why == "":
		return nil
	case name == "filter":
		return scimErr(http.StatusBadRequest, "invalidFilter", "query parameter filter "+why)
	case name == "":
		return scimErr(http.StatusBadRequest, "invalidValue", why)
	}
	return scimErr(http.StatusBadRequest, "invalidValue", "query parameter "+strconv.Quote(name)+" "+why)
}

// --- the user model ---

type scimUser struct {
	userName, externalID, givenName, familyName, displayName, email, phone string
	emailType, phoneType, addressType                                      string // "": work, mobile, work
	country                                                                string // the work address's, as emfa reads it
	active                                                                 bool
}

func scimUserOf(u lifecycle.User) scimUser {
	return scimUser{userName: u.Name, externalID: u.Attributes[attrExternalID], givenName: u.Attributes[attrGiven],
		familyName: u.Attributes[attrFamily], displayName: u.DisplayName, email: u.Email, phone: u.Phone,
		emailType: u.Attributes[attrEmailType], phoneType: u.Attributes[attrPhoneType], addressType: u.Attributes[attrAddressType],
		country: u.Country, active: u.State == lifecycle.StateActive}
}

type scimMulti struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// scimAddress is an address as emfa keeps it: its country alone.
type scimAddress struct {
	Type    string `json:"type,omitempty"`
	Country string `json:"country"`
	Primary bool   `json:"primary,omitempty"`
}

type scimRef struct {
	Value   string `json:"value"`
	Display string `json:"display,omitempty"`
	Ref     string `json:"$ref,omitempty"`
}

type scimMeta struct {
	ResourceType string `json:"resourceType"`
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Version      string `json:"version"`
	Location     string `json:"location"`
}

type scimUserResource struct {
	Schemas      []string          `json:"schemas"`
	ID           string            `json:"id"`
	ExternalID   string            `json:"externalId,omitempty"`
	UserName     string            `json:"userName"`
	Name         map[string]string `json:"name,omitempty"`
	DisplayName  string            `json:"displayName,omitempty"`
	Active       bool              `json:"active"`
	Emails       []scimMulti       `json:"emails,omitempty"`
	PhoneNumbers []scimMulti       `json:"phoneNumbers,omitempty"`
	Addresses    []scimAddress     `json:"addresses,omitempty"`
	Groups       []scimRef         `json:"groups,omitempty"`
	Meta         scimMeta          `json:"meta"`
}

func version(v any) string {
	data, _ := json.Marshal(v)
	sum := sha256.Sum256(data)
	return `W/"` + hex.EncodeToString(sum[:8]) + `"`
}

// scimTime is t as meta shows it (RFC 7643 §3.1, xsd:dateTime): to the millisecond, as
// the store keeps it, so that created and lastModified have one precision, a time that
// is not the store's (a creation answered as written, createdUser) included.
func scimTime(t time.Time) string { return t.Truncate(time.Millisecond).UTC().Format(time.RFC3339Nano) }

// location is the URL of the resource of kind with id, or of kind itself without one
// (/ServiceProviderConfig: with a trailing slash, a URL answered 404).
func location(c echo.Context, kind, id string) string {
	loc := c.Scheme() + "://" + c.Request().Host + SCIMPrefix + "/" + kind
	if id != "" {
		loc += "/" + url.PathEscape(id)
	}
	return loc
}

// userView is u's resource, its groups named by their ids (read at once; a group SCIM
// does not know, the admin API's, is left out).
func (api *syncAPI) userView(c echo.Context, u lifecycle.User) (scimUserResource, error) {
	ids := map[string]string{}
	if len(u.Groups) > 0 {
		gs, err := api.o.Queue.Store.GetGroupsByName(c.Request().Context(), u.Groups)
		if err != nil {
			return scimUserResource{}, err
		}
		for _, g := range gs {
			ids[g.Name] = g.ID
		}
	}
	return userResource(c, u, ids), nil
}

// userResource is u as SCIM shows it; groupIDs are its groups' ids by name: a user's
// groups are named by their ids (RFC 7643 §4.1.2), those SCIM has no record of (set by
// the admin API) are not listed.
func userResource(c echo.Context, u lifecycle.User, groupIDs map[string]string) scimUserResource {
	m := scimUserOf(u)
	r := scimUserResource{Schemas: []string{scimUserSchema}, ID: u.ID, ExternalID: m.externalID, UserName: u.Name,
		DisplayName: m.displayName, Active: m.active}
	if m.givenName != "" || m.familyName != "" {
		r.Name = map[string]string{}
		if m.givenName != "" {
			r.Name["givenName"] = m.givenName
		}
		if m.familyName != "" {
			r.Name["familyName"] = m.familyName
		}
	}
	if m.email != "" {
		r.Emails = []scimMulti{{Value: m.email, Type: cmp.Or(m.emailType, keptEmailType), Primary: true}}
	}
	if m.phone != "" {
		r.PhoneNumbers = []scimMulti{{Value: m.phone, Type: cmp.Or(m.phoneType, keptPhoneType), Primary: true}}
	}
	if m.country != "" {
		r.Addresses = []scimAddress{{Type: cmp.Or(m.addressType, keptAddressType), Country: m.country, Primary: true}}
	}
	for _, g := range u.Groups {
		if id, ok := groupIDs[g]; ok {
			r.Groups = append(r.Groups, scimRef{Value: id, Display: g})
		}
	}
	r.Meta = scimMeta{ResourceType: "User", Created: scimTime(u.Created)}
	if u.Updated != nil {
		r.Meta.LastModified = scimTime(*u.Updated)
	} else {
		r.Meta.LastModified = r.Meta.Created
	}
	r.Meta.Version = version(r) // of what the client sees, not of where it asked
	r.Meta.Location = location(c, "Users", u.ID)
	return r
}

// apply sets one attribute (path p) from value; remove clears it. Attributes this server
// does not keep are ignored, as RFC 7644 allows for attributes it does not support.
func (m *scimUser) apply(op string, p scimPath, value any) error {
	remove := op == "remove"
	str := func() (string, error) {
		if remove || value == nil {
			return "", nil
		}
		s, ok := value.(string)
		if !ok {
			name := p.attr
			if p.sub != "" {
				name += "." + p.sub
			}
			return "", scimErr(400, "invalidValue", scimAttrName(name)+" must be a string")
		}
		return s, nil
	}
	if !p.ofSchema(scimUserSchema) {
		// An extension's attribute (RFC 7644 §3.10), though it has a core one's name:
		// not kept.
		return nil
	}
	var err error
	switch p.attr {
	case "username":
		var s string
		if s, err = str(); err == nil {
			// A name in another case is the same user's (store.FoldName): a directory
			// may send it as its source has it now. The name stays as created.
			if m.userName != "" && !store.SameName(s, m.userName) {
				return scimErr(400, "mutability", "userName cannot change (it is what Verify sends)")
			}
			if m.userName == "" {
				m.userName = s
			}
		}
	case "externalid":
		m.externalID, err = str()
	case "displayname":
		m.displayName, err = str()
	case "active":
		if remove || value == nil {
			return nil // unassigned (RFC 7643 §2.5: null is the same): the state is kept
		}
		b, ok := scimBool(value)
		if !ok {
			return scimErr(400, "invalidValue", "active must be a boolean")
		}
		m.active = b
	case "name":
		switch p.sub {
		case "givenname":
			m.givenName, err = str()
		case "familyname":
			m.familyName, err = str()
		case "":
			if remove || value == nil {
				m.givenName, m.familyName = "", ""
				return nil
			}
			obj, ok := value.(map[string]any)
			if !ok {
				return scimErr(400, "invalidValue", "name must be an object")
			}
			for k, v := range obj {
				if err := m.apply(op, scimPath{attr: "name", sub: strings.ToLower(k)}, v); err != nil {
					return err
				}
			}
		}
	case "emails", "phonenumbers":
		return m.applyMulti(op, p, value)
	case "addresses":
		return m.applyAddress(op, p, value)
	}
	return err
}

// applyAddress keeps the country of the user's work address (else of the primary one,
// else of the first without a type): RFC 7643 writes it in ISO 3166-1 alpha-2, and one
// emfa does not read as a country (a name, "United States") is kept as none, not refused,
// so that the rest of the directory's write applies. The country of a primary address of
// another type is kept with its type (shown): a path naming that type changes it. A path
// naming another type (addresses[type eq "home"]) changes nothing, but one setting the
// work address's country, which is preferred.
func (m *scimUser) applyAddress(op string, p scimPath, value any) error {
	kept := cmp.Or(m.addressType, keptAddressType)
	clears := op == "remove" || value == nil
	if p.selAttr == "type" && !strings.EqualFold(p.selV, kept) && (clears || !strings.EqualFold(p.selV, keptAddressType)) ||
		p.selAttr != "" && p.selAttr != "type" ||
		p.sub != "" && p.sub != "country" {
		return nil
	}
	if clears {
		m.country, m.addressType = "", ""
		return nil
	}
	var country string
	typ := m.addressType // addresses.country: of the address kept
	if p.selAttr == "type" {
		typ = p.selV
	}
	switch x := value.(type) {
	case string:
		if p.sub != "country" {
			return scimErr(400, "invalidValue", "addresses holds objects")
		}
		country = x
	case map[string]any:
		if p.sub == "country" {
			return scimErr(400, "invalidValue", "addresses.country must be a string")
		}
		if p.selAttr == "type" {
			country, _ = subAttr(x, "country").(string) // the work address's, by the path
			break
		}
		return m.applyAddress(op, p, []any{x}) // one address: the user's if it is work's, primary or untyped
	case []any:
		if p.sub != "" {
			return scimErr(400, "invalidValue", "addresses.country must be a string")
		}
		pick, primary, untyped := -1, -1, -1
		for i, e := range x {
			obj, ok := e.(map[string]any)
			if !ok {
				return scimErr(400, "invalidValue", "a multi-valued attribute holds objects")
			}
			t, _ := subAttr(obj, "type").(string)
			switch p, _ := scimBool(subAttr(obj, "primary")); {
			case strings.EqualFold(t, keptAddressType) && pick < 0:
				pick = i
			case p && primary < 0:
				primary = i
			case t == "" && untyped < 0:
				untyped = i
			}
		}
		if pick < 0 {
			pick = primary
		}
		if pick < 0 {
			pick = untyped
		}
		if pick >= 0 {
			country, _ = subAttr(x[pick].(map[string]any), "country").(string)
			typ, _ = subAttr(x[pick].(map[string]any), "type").(string)
		} else if op == "add" {
			return nil // none of them is the user's address
		}
	default:
		return scimErr(400, "invalidValue", "addresses holds objects")
	}
	m.country, _ = lifecycle.CountryCode(country)
	m.addressType = strings.ToLower(typ)
	if m.country == "" || strings.EqualFold(typ, keptAddressType) {
		m.addressType = ""
	}
	return nil
}

// applyMulti sets the e-mail address or the phone number. emfa keeps one of each: the
// work address and the mobile number codes go to, else the primary one of another type
// (its type kept with it, and shown). A path naming another type (Entra maps the desk
// phone to phoneNumbers[type eq "work"], a personal address to emails[type eq "home"])
// leaves the one kept alone, unless that is the type kept; an add of values none of
// which is kept changes nothing; a remove filtered on another type or value removes
// nothing. A sub-attribute other than the value (emails[type eq "work"].display, Entra's
// phoneNumbers[type eq "mobile"].primary) names nothing kept: it changes nothing, rather
// than its value being taken for the address or its remove clearing it.
func (m *scimUser) applyMulti(op string, p scimPath, value any) error {
	if p.sub != "" && p.sub != "value" {
		return nil
	}
	if b, ok := scimBool(p.selV); ok && p.selAttr == "primary" && !b {
		return nil // the one kept is shown as primary: a path of another entry
	}
	if p.selAttr == "value" && op != "remove" {
		// Another address's or number's entry: a number compared as emfa reads it, the
		// directory writing it in another format than the E.164 one kept. (One emfa
		// cannot read, a national number of no country, is not compared.)
		other := !strings.EqualFold(p.selV, m.email)
		if p.attr == "phonenumbers" {
			_, err := phone.Parse(p.selV, m.country)
			other = err == nil && !samePhone(p.selV, m.phone, m.country)
		}
		if other {
			return nil
		}
	}
	target, typ, prefer := &m.email, &m.emailType, keptEmailType
	if p.attr == "phonenumbers" {
		target, typ, prefer = &m.phone, &m.phoneType, keptPhoneType
	}
	kept := cmp.Or(*typ, prefer)
	if op == "remove" {
		// same: whether a value the remove names is the one kept; listed: whether one its
		// value lists is (a phone number emfa cannot read is not compared, and counts).
		same := func(s string) bool { return strings.EqualFold(s, *target) }
		listed := same
		if p.attr == "phonenumbers" {
			same = func(s string) bool { return samePhone(s, *target, m.country) }
			listed = func(s string) bool {
				_, err := phone.Parse(s, m.country)
				return err != nil || same(s)
			}
		}
		switch {
		case p.selAttr == "type" && !strings.EqualFold(p.selV, kept),
			p.selAttr == "value" && !same(p.selV),
			value != nil && !namesValue(value, listed):
		default:
			*target, *typ = "", ""
		}
		return nil
	}
	var v, t string
	switch {
	case p.selAttr == "type":
		if !strings.EqualFold(p.selV, prefer) && !strings.EqualFold(p.selV, kept) {
			return nil
		}
		var err error
		if v, _, _, err = multiValue(value, prefer); err != nil {
			return err
		}
		t = p.selV
	default:
		var ok bool
		var err error
		if v, t, ok, err = multiValue(value, prefer); err != nil {
			return err
		}
		if !ok && op == "add" {
			return nil
		}
	}
	*target, *typ = v, strings.ToLower(t)
	if v == "" || strings.EqualFold(t, prefer) {
		*typ = ""
	}
	return nil
}

// namesValue reports whether a remove's value (a string, an object or an array of them, as
// Entra names the values it removes) names the one kept (same), or an entry without a
// value.
func namesValue(v any, same func(string) bool) bool {
	switch x := v.(type) {
	case string:
		return same(x)
	case map[string]any:
		s, ok := subAttr(x, "value").(string)
		return !ok || same(s)
	case []any:
		return slices.ContainsFunc(x, func(e any) bool { return namesValue(e, same) })
	}
	return true
}

// samePhone reports whether a number as a directory wrote it ("+1 (555) 010-0199",
// "tel:+1-555-010-0199", a national number of the user's country) is kept, the E.164
// number emfa stores.
func samePhone(sent, kept, country string) bool {
	if strings.EqualFold(sent, kept) {
		return true
	}
	n, err := phone.Parse(sent, country)
	return err == nil && n == kept
}

// multiValue picks the value of a multi-valued attribute and its type: the entry of type
// prefer, else the primary one, else the first without a type (an array, one object, or
// the bare string of a .value path). ok is false when it holds none of these: a desk
// phone, a personal address that is not primary, is not the user's.
func multiValue(v any, prefer string) (value, typ string, ok bool, err error) {
	switch x := v.(type) {
	case string:
		return x, "", true, nil
	case map[string]any:
		return multiValue([]any{x}, prefer)
	case []any:
		primary, untyped := -1, -1
		entries := make([][2]string, len(x))
		for i, e := range x {
			obj, isObj := e.(map[string]any)
			if !isObj {
				return "", "", false, scimErr(400, "invalidValue", "a multi-valued attribute holds objects")
			}
			s, _ := subAttr(obj, "value").(string)
			t, _ := subAttr(obj, "type").(string)
			entries[i] = [2]string{s, t}
			switch p, _ := scimBool(subAttr(obj, "primary")); {
			case strings.EqualFold(t, prefer):
				return s, t, true, nil
			case p && primary < 0:
				primary = i
			case t == "" && untyped < 0:
				untyped = i
			}
		}
		for _, i := range []int{primary, untyped} {
			if i >= 0 {
				return entries[i][0], entries[i][1], true, nil
			}
		}
		return "", "", false, nil
	case nil:
		return "", "", true, nil
	}
	return "", "", false, scimErr(400, "invalidValue", "unexpected value")
}

// applyObject applies a path-less add/replace (or a whole resource): each key a path, in
// the keys' sorted order, not the map's, which varies from one range to the next: where
// two keys name one attribute (displayName and its URN form) the same one is kept each
// time, and where two are invalid the same one is refused.
func (m *scimUser) applyObject(op string, obj map[string]any) error {
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		v := obj[k]
		switch strings.ToLower(k) {
		case "schemas", "id", "meta", "groups":
			continue
		}
		p, err := parseSCIMPath(k)
		if err != nil {
			return err
		}
		if err := m.apply(op, p, v); err != nil {
			return err
		}
	}
	return nil
}

// events are what turn the user from old into m (old.userName empty: a creation): one
// event, so one commit, whatever changes; none when nothing does.
func (m scimUser) events(old scimUser, attrs map[string]string) []provider.LifecycleEvent {
	attrs = maps.Clone(attrs)
	if attrs == nil {
		attrs = map[string]string{}
	}
	for k, v := range map[string]string{attrExternalID: m.externalID, attrGiven: m.givenName, attrFamily: m.familyName,
		attrEmailType: m.emailType, attrPhoneType: m.phoneType, attrAddressType: m.addressType} {
		if v == "" {
			delete(attrs, k)
		} else {
			attrs[k] = v
		}
	}
	anyAttrs := map[string]any{}
	for k, v := range attrs {
		anyAttrs[k] = v
	}
	ev := provider.LifecycleEvent{Username: m.userName, Email: &m.email, Phone: &m.phone, Country: &m.country, DisplayName: &m.displayName, Attributes: anyAttrs}
	if old.userName == "" {
		ev.Type, ev.Disabled = provider.EventUserCreate, !m.active
		return []provider.LifecycleEvent{ev}
	}
	oldCmp, newCmp := old, m
	oldCmp.active, newCmp.active = false, false
	switch {
	case oldCmp != newCmp:
		// The profile and the state, when both change, in one event and one commit.
		ev.Type = provider.EventUserUpdate
		if m.active != old.active {
			ev.State = provider.StateDisabled
			if m.active {
				ev.State = provider.StateActive
			}
		}
		return []provider.LifecycleEvent{ev}
	case m.active != old.active:
		typ := provider.EventUserEnable
		if !m.active {
			typ = provider.EventUserDisable
		}
		return []provider.LifecycleEvent{{Type: typ, Username: m.userName}}
	}
	return nil
}

// scimActor is who SCIM's writes are recorded as: the actor its events are applied as
// (sync:SOURCE).
const scimActor lifecycle.Actor = "sync:scim"

// applyEvents applies events at once, in order (sync.Queue.ApplyNow).
func (api *syncAPI) applyEvents(ctx context.Context, evs []provider.LifecycleEvent) error {
	for i := range evs {
		evs[i].Source = "scim"
	}
	return api.o.Queue.ApplyNow(ctx, evs...)
}

// readSCIM reads a JSON object body, refusing duplicate keys.
func readSCIM(c echo.Context) (map[string]any, error) {
	data, err := readBody(c)
	if err != nil {
		return nil, err
	}
	if err := checkUniqueKeys(data); err != nil {
		return nil, scimErr(400, "invalidSyntax", "body is not valid JSON without duplicate keys")
	}
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, scimErr(400, "invalidSyntax", "body is not a JSON object")
	}
	return obj, nil
}

// errNoUserID answers a request for a user id that no user has.
var errNoUserID = scimErr(404, "", "no user with this id")

func (api *syncAPI) userByID(c echo.Context) (lifecycle.User, error) {
	name, err := api.o.Queue.Store.UserNameByID(c.Request().Context(), param(c, "id"))
	if err != nil {
		if errorsIsNotFound(err) {
			return lifecycle.User{}, errNoUserID
		}
		return lifecycle.User{}, err
	}
	return api.userOfID(c, name)
}

// userOfID reads the user named name, which must be the user of the request's id: one
// deleted and another created under its name since the name was read is another user,
// and the user of the id is gone (404), not answered as that other.
func (api *syncAPI) userOfID(c echo.Context, name string) (lifecycle.User, error) {
	u, err := api.o.Manager.GetUser(c.Request().Context(), name)
	if err == nil && u.ID != param(c, "id") {
		return lifecycle.User{}, errNoUserID
	}
	return u, err
}

// userToWrite is the user a PUT, PATCH or DELETE names, if its If-Match holds.
func (api *syncAPI) userToWrite(c echo.Context) (lifecycle.User, error) {
	u, err := api.userByID(c)
	if err != nil || !ifMatchSet(c) {
		return u, err
	}
	r, err := api.userView(c, u)
	if err != nil {
		return u, err
	}
	return u, checkIfMatch(c, r.Meta.Version)
}

// checkIfMatch answers 412 when none of the tags the client's If-Match lists (in any of
// its fields) is the current version.
func checkIfMatch(c echo.Context, current string) error {
	if !ifMatchSet(c) || slices.Contains(ifMatchTags(c), current) {
		return nil
	}
	return errChanged
}

// noneMatch reports whether the request's If-None-Match names the current version: `*`,
// or any tag of its list, in any of its fields (as ifMatchTags reads them), compared
// weakly (RFC 9110 §13.1.2).
func noneMatch(c echo.Context, current string) bool {
	return slices.ContainsFunc(entityTags(c, "If-None-Match"), func(tag string) bool {
		return tag == "*" || strings.TrimPrefix(tag, "W/") == strings.TrimPrefix(current, "W/")
	})
}

// errChanged answers a write whose If-Match names a version the resource no longer has.
var errChanged = scimErr(http.StatusPreconditionFailed, "", "the resource changed (If-Match does not match its version)")

func (api *syncAPI) answerUser(c echo.Context, status int, u lifecycle.User) error {
	r, err := api.userView(c, u)
	if err != nil {
		return err
	}
	return answerView(c, status, r)
}

// answerView answers r, a user's resource.
func answerView(c echo.Context, status int, r scimUserResource) error {
	c.Response().Header().Set("ETag", r.Meta.Version)
	if status == http.StatusCreated {
		c.Response().Header().Set(echo.HeaderLocation, r.Meta.Location)
	}
	return writeSCIM(c, status, r)
}

func (api *syncAPI) getUser(c echo.Context) error {
	u, err := api.userByID(c)
	if err != nil {
		return err
	}
	r, err := api.userView(c, u)
	if err != nil {
		return err
	}
	if noneMatch(c, r.Meta.Version) {
		return c.NoContent(http.StatusNotModified)
	}
	return answerView(c, http.StatusOK, r)
}

func (api *syncAPI) createUser(c echo.Context) error {
	obj, err := readSCIM(c)
	if err != nil {
		return err
	}
	m := scimUser{active: true}
	if err := m.applyObject("add", obj); err != nil {
		return err
	}
	// Refused as the admin API's creation is, and recorded so with the actor the events
	// are applied as.
	ctx := c.Request().Context()
	var le *lifecycle.Error
	switch err := api.o.Manager.CheckCreate(ctx, scimActor, m.userName); {
	case errors.As(err, &le) && le.Code == "user_exists":
		return scimErr(http.StatusConflict, "uniqueness", "a user with this userName exists")
	case errors.As(err, &le):
		return scimErr(400, "invalidValue", "userName "+le.Msg) // the attribute the caller sent
	case err != nil:
		return err
	}
	evs := m.events(scimUser{}, nil)
	evs[0].Exclusive = true // a POST creates, or is refused: of two at once, one gets 409
	evs[0].UserID = builtin.NewID()
	if err := api.applyEvents(ctx, evs); err != nil {
		return err
	}
	u, err := api.createdUser(ctx, evs[0])
	if err != nil {
		return err
	}
	return api.answerUser(c, http.StatusCreated, u)
}

// createdUser is the user ev, a POST's creation, made under its UserID: read back by
// it, not by the name, which another may hold already (this one deleted, another made).
// Gone already, it is answered as written: it was created, and RFC 7644 §3.3 answers a
// creation 201 with the resource created; an error would have the directory retry the
// POST, making again a user deleted after it, or taking the other as its own. Its next
// read of the id tells it the user is gone (404).
func (api *syncAPI) createdUser(ctx context.Context, ev provider.LifecycleEvent) (lifecycle.User, error) {
	name, err := api.o.Queue.Store.UserNameByID(ctx, ev.UserID)
	if err == nil {
		u, err := api.o.Manager.GetUser(ctx, name)
		var le *lifecycle.Error
		if err == nil && u.ID == ev.UserID {
			return u, nil
		}
		if err != nil && !(errors.As(err, &le) && le.Kind == lifecycle.NotFound) {
			return lifecycle.User{}, err
		}
	} else if !errorsIsNotFound(err) {
		return lifecycle.User{}, err
	}
	u := lifecycle.User{ID: ev.UserID, Name: ev.Username, State: lifecycle.StateActive, Groups: []string{},
		Attributes: map[string]string{}, Created: cmp.Or(ev.Time, api.o.Queue.Now())}
	if ev.Disabled {
		u.State = lifecycle.StateDisabled
	}
	return asWritten(u, ev), nil
}

// asWritten is u with what ev, a write of a SCIM request, wrote over it: its profile
// fields, its attributes (said whole), its state.
func asWritten(u lifecycle.User, ev provider.LifecycleEvent) lifecycle.User {
	for _, f := range []struct{ to, from *string }{{&u.Email, ev.Email}, {&u.Phone, ev.Phone}, {&u.Country, ev.Country}, {&u.DisplayName, ev.DisplayName}} {
		if f.from != nil {
			*f.to = *f.from
		}
	}
	if ev.Attributes != nil {
		u.Attributes = map[string]string{}
		for k, v := range ev.Attributes {
			if s, ok := v.(string); ok {
				u.Attributes[k] = s
			}
		}
	}
	switch {
	case ev.Type == provider.EventUserDisable:
		u.State = lifecycle.StateDisabled
	case ev.Type == provider.EventUserEnable:
		u.State = lifecycle.StateActive
	case ev.State != "":
		u.State = ev.State
	}
	return u
}

func (api *syncAPI) replaceUser(c echo.Context) error {
	obj, err := readSCIM(c)
	if err != nil {
		return err
	}
	return api.writeUser(c, func(u lifecycle.User, old scimUser) (scimUser, error) {
		// A replacement: what it omits is cleared, except the state, kept unless said.
		m := scimUser{userName: u.Name, active: old.active}
		return m, m.applyObject("replace", obj)
	})
}

// writeUser makes the user a PUT or PATCH names what edit makes of it, as read (old, its
// SCIM attributes). The events say the whole profile, so they apply only to the user as
// read (IfRevision): when another change came between, a request that named its version
// (If-Match) is answered 412, that version being gone, and one that did not is edited
// again from the user as it is now, until it applies (contention: 503 if it cannot).
func (api *syncAPI) writeUser(c echo.Context, edit func(u lifecycle.User, old scimUser) (scimUser, error)) error {
	ctx := c.Request().Context()
	w := newContention(c)
	unlock, err := w.lock(&api.writes, "user:"+param(c, "id"))
	if err != nil {
		return err
	}
	defer unlock()
	edit = api.asStored(ctx, edit)
	var u lifecycle.User
	var evs []provider.LifecycleEvent
	for {
		var err error
		if u, err = api.userToWrite(c); err != nil {
			if err == errChanged && holds(u, edit) {
				// On a version gone, but the user has its change already (a directory
				// sending it again after a lost answer): done (RFC 9110 §13.1.1).
				return api.answerUser(c, http.StatusOK, u)
			}
			return err
		}
		old := scimUserOf(u)
		m, err := edit(u, old)
		if err != nil {
			return err
		}
		evs = m.events(old, u.Attributes)
		conditional := ifMatchSet(c)
		for i := range evs {
			// The update says the whole profile: it applies to the user as read. So does
			// a change of the state alone: dated when it is queued, one written over a
			// change committed since, dated later, would reach the vendors before it, and
			// they would keep that change's state while emfa has this one's. Made again,
			// it is dated after it.
			evs[i].IfRevision = &u.Revision
			// Of the user of the id it names: one deleted and created again under its
			// name since is another, whose revision restarted.
			evs[i].IfUser = param(c, "id")
		}
		err = api.applyEvents(ctx, evs)
		if !changed(err) {
			if err != nil {
				return err
			}
			break
		}
		if conditional {
			return errChanged
		}
		if err := w.wait(); err != nil {
			return err
		}
	}
	read, err := api.userOfID(c, u.Name)
	var le *lifecycle.Error
	if len(evs) > 0 && (err == errNoUserID || errors.As(err, &le) && le.Kind == lifecycle.NotFound) {
		// Written, then deleted (or deleted and another created under its name) before
		// this read: answered as written, stamped at its time, as the admin API's change is
		// (and a POST's creation, createdUser). A 404 told the directory that a write
		// that stands, and was recorded, was not made.
		at := time.UnixMilli(cmp.Or(evs[0].Time, api.o.Queue.Now()).UnixMilli()).UTC()
		read, err = asWritten(u, evs[0]), nil
		read.Updated = &at
	}
	if err != nil {
		return err
	}
	return api.answerUser(c, http.StatusOK, read)
}

// asStored is edit making the e-mail address and phone number as emfa stores them
// (lifecycle.Manager.AsStored, a national number as the user's country's as edited): a
// directory's "+1 (555) 010-0199" is the user's "+15550100199", so a write that changes
// nothing is seen to, and one sent again after a lost answer is seen to hold.
func (api *syncAPI) asStored(ctx context.Context, edit func(u lifecycle.User, old scimUser) (scimUser, error)) func(u lifecycle.User, old scimUser) (scimUser, error) {
	return func(u lifecycle.User, old scimUser) (scimUser, error) {
		m, err := edit(u, old)
		if err == nil && (m.email != old.email || m.phone != old.phone) {
			email, tel := api.o.Manager.AsStored(ctx, u.Name, &m.email, &m.phone, &m.country)
			m.email, m.phone = *email, *tel
		}
		return m, err
	}
}

// holds reports whether edit would change nothing of u.
func holds(u lifecycle.User, edit func(u lifecycle.User, old scimUser) (scimUser, error)) bool {
	old := scimUserOf(u)
	m, err := edit(u, old)
	return err == nil && len(m.events(old, u.Attributes)) == 0
}

// readPatch reads a PatchOp request.
func readPatch(c echo.Context) ([]patchOp, error) {
	obj, err := readSCIM(c)
	if err != nil {
		return nil, err
	}
	return patchOps(obj)
}

// patchOps reads a PatchOp body: each op lower-cased (Entra capitalises them).
func patchOps(obj map[string]any) ([]patchOp, error) {
	raw, ok := obj["Operations"].([]any)
	if !ok {
		for k, v := range obj {
			if strings.EqualFold(k, "operations") {
				raw, ok = v.([]any)
			}
		}
	}
	if !ok || len(raw) == 0 {
		return nil, scimErr(400, "invalidSyntax", "Operations must be a non-empty array")
	}
	var ops []patchOp
	for _, r := range raw {
		o, ok := r.(map[string]any)
		if !ok {
			return nil, scimErr(400, "invalidSyntax", "an operation must be an object")
		}
		var op patchOp
		hasValue := false
		for k, v := range o {
			switch strings.ToLower(k) {
			case "op":
				s, _ := v.(string)
				op.op = strings.ToLower(s)
			case "path":
				// null is no path; any other value not a string is refused, not read as
				// none, which would apply the value to the resource's top level.
				var isString bool
				if op.path, isString = v.(string); !isString && v != nil {
					return nil, scimErr(400, "invalidPath", "an operation's path must be a string")
				}
			case "value":
				op.value, hasValue = v, true
			}
		}
		switch op.op {
		case "add", "replace":
			if !hasValue {
				// RFC 7644 §3.5.2.1, §3.5.2.3: it MUST hold one. Read as null, a replace
				// of members without one emptied the group.
				return nil, scimErr(400, "invalidSyntax", op.op+" needs a value (null to unassign the attribute)")
			}
		case "remove":
			if op.path == "" {
				return nil, scimErr(400, "noTarget", "remove needs a path")
			}
		default:
			return nil, scimErr(400, "invalidSyntax", fmt.Sprintf("unknown op %q", op.op))
		}
		ops = append(ops, op)
	}
	return ops, nil
}

type patchOp struct {
	op, path string
	value    any
}

func (api *syncAPI) patchUser(c echo.Context) error {
	ops, err := readPatch(c)
	if err != nil {
		return err
	}
	return api.writeUser(c, func(_ lifecycle.User, old scimUser) (scimUser, error) {
		m := old
		for _, op := range ops {
			var err error
			if op.path == "" {
				vo, ok := op.value.(map[string]any)
				if !ok {
					return m, scimErr(400, "invalidValue", "an operation without a path needs an object value")
				}
				err = m.applyObject(op.op, vo)
			} else {
				var p scimPath
				if p, err = parseSCIMPath(op.path); err == nil {
					if err = readOnly(p, scimUserSchema, "groups"); err == nil {
						err = m.apply(op.op, p, op.value)
					}
				}
			}
			if err != nil {
				return m, err
			}
		}
		return m, nil
	})
}

func (api *syncAPI) deleteUser(c echo.Context) error {
	u, err := api.userToWrite(c)
	if err != nil {
		return err
	}
	// The user of the id it names, not another deleted and created again under its name.
	ev := provider.LifecycleEvent{Type: provider.EventUserDelete, Username: u.Name, IfUser: param(c, "id")}
	if ifMatchSet(c) {
		ev.IfRevision = &u.Revision // the version If-Match named, not one that came after it
	}
	err = api.applyEvents(c.Request().Context(), []provider.LifecycleEvent{ev})
	if changed(err) && ev.IfRevision == nil {
		return errNoUserID // the user of its name is another now
	}
	if changed(err) {
		return errChanged
	}
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// ifMatchTags are the entity tags the request's If-Match lists, in one field or in
// several (RFC 9110 §5.3, §13.1.1: a recipient combines them as one list); empty ones
// (a field sent empty, a stray comma) are no tags.
func ifMatchTags(c echo.Context) []string { return entityTags(c, "If-Match") }

// entityTags are the entity tags the request's header (If-Match, If-None-Match) lists, in
// one field or several, as one list; empty ones are no tags.
func entityTags(c echo.Context, header string) []string {
	tags, _ := entityTagList(c.Request().Header, header)
	return tags
}

// entityTagList is the one reader of an entity-tag header (If-Match, If-None-Match):
// the tags it lists, in one field or several, as one list, empty ones being no tags; and
// whether it was given at all, in any field, even one that lists no tag. SCIM's writes,
// the admin API's and the admin API's Idempotency-Key fingerprint (adminRequestFingerprint)
// all read If-Match through it, so that what decides a write and what names the request
// cannot disagree.
func entityTagList(h http.Header, header string) (tags []string, given bool) {
	fields := h.Values(header)
	for _, v := range fields {
		for tag := range strings.SplitSeq(v, ",") {
			if tag = strings.TrimSpace(tag); tag != "" {
				tags = append(tags, tag)
			}
		}
	}
	return tags, len(fields) > 0
}

// ifMatchGiven says whether the request has an If-Match, in any of its fields, even one
// that lists no tag: SCIM and the admin API read it alike. Empty list elements are
// ignored (RFC 9110 §5.6.1.2), so `If-Match:` sent empty and `If-Match: ,` are both a
// list of no tags, which no version matches (§13.1.1): the write is refused 412, not made
// unconditionally as if the client had asked for no condition (its tag lost on the way).
func ifMatchGiven(c echo.Context) bool {
	_, given := entityTagList(c.Request().Header, "If-Match")
	return given
}

// ifMatchSet says whether the request is conditional on a version (If-Match, not *).
func ifMatchSet(c echo.Context) bool { return ifMatchGiven(c) && !anyVersion(ifMatchTags(c)) }

// anyVersion says whether an If-Match's tags are `*`: any version the resource has.
func anyVersion(tags []string) bool {
	return len(tags) > 0 && !slices.ContainsFunc(tags, func(t string) bool { return t != "*" })
}

// readOnly refuses a PATCH whose path names a read-only attribute of schema (RFC 7643:
// id and meta; also, of a user, groups, which a group's members set): RFC 7644 §3.5.2, a
// client MUST NOT modify one, 400 mutability. Ignored, as an attribute this server does
// not keep is, it answered 200 a change never made (a user added to a group by its
// groups). A PUT, and a path-less PATCH whose value holds them (the resource as read,
// Okta's group rename with its id), ignore them (§3.5.1).
func readOnly(p scimPath, schema string, more ...string) error {
	if p.ofSchema(schema) && (p.attr == "id" || p.attr == "meta" || slices.Contains(more, p.attr)) {
		return scimErr(400, "mutability", p.attr+" is read-only"+readOnlyHint[p.attr])
	}
	return nil
}

var readOnlyHint = map[string]string{"groups": ": change a group's members instead"}

// changed says whether err refused a change made on a revision the user no longer has.
func changed(err error) bool {
	var le *lifecycle.Error
	return errors.As(err, &le) && le.Code == lifecycle.CodeChanged
}

// paging reads startIndex (1-based) and count; one given twice is refused, not read by
// its first.
func paging(c echo.Context) (start, count int, err error) {
	start, count = 1, 100
	for _, name := range []string{"startIndex", "count"} {
		if len(c.QueryParams()[name]) > 1 {
			return 0, 0, scimErr(400, "invalidValue", name+" is given more than once")
		}
	}
	if s := c.QueryParam("startIndex"); s != "" {
		if start, err = pagingInt(s); err != nil {
			return 0, 0, scimErr(400, "invalidValue", "startIndex must be an integer")
		}
		start = max(start, 1)
	}
	if s := c.QueryParam("count"); s != "" {
		if count, err = pagingInt(s); err != nil {
			return 0, 0, scimErr(400, "invalidValue", "count must be an integer")
		}
		count = min(max(count, 0), 1000)
	}
	return start, count, nil
}

// pagingInt reads an integer of paging; one beyond an int is the int nearest it (which
// paging clamps as it would the number itself: RFC 7644 §3.4.2.4, a count above the
// maximum is the maximum, a startIndex past the results a page of none), not refused as
// no integer.
func pagingInt(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if errors.Is(err, strconv.ErrRange) {
		return n, nil // Atoi gives the int nearest in range
	}
	return n, err
}

func listResponse[T any](total, start int, items []T) map[string]any {
	if items == nil {
		items = []T{}
	}
	return map[string]any{"schemas": []string{scimListSchema}, "totalResults": total, "itemsPerPage": len(items),
		"startIndex": start, "Resources": items}
}

func userMatches(u lifecycle.User, cl scimClause) (bool, error) {
	m := scimUserOf(u)
	if err := checkLiteral(cl, cl.attr == "active"); err != nil {
		return false, err
	}
	if cl.selAttr != "" {
		// The one address emfa keeps is shown with its type (userResource).
		if cl.attr != "emails.value" || cl.selAttr != "type" {
			return false, scimErr(400, "invalidFilter", "cannot filter on "+scimAttrName(cl.attr)+" by "+cl.selAttr)
		}
		kept := strings.EqualFold(cl.selV, cmp.Or(m.emailType, keptEmailType)) && m.email != ""
		if cl.literal == "null" {
			return !kept, nil // no address of that type
		}
		return kept && strings.EqualFold(m.email, cl.value), nil
	}
	switch cl.attr {
	case "username":
		return store.SameName(u.Name, cl.value), nil
	case "externalid":
		return m.externalID == cl.value, nil
	case "id":
		return u.ID == cl.value, nil
	case "displayname":
		return strings.EqualFold(m.displayName, cl.value), nil // caseExact false (RFC 7643 §4.1.1)
	case "active":
		return strconv.FormatBool(m.active) == strings.ToLower(cl.value), nil
	case "emails", "emails.value":
		return strings.EqualFold(m.email, cl.value), nil
	}
	return false, scimErr(400, "invalidFilter", "cannot filter on "+scimAttrName(cl.attr))
}

// queryFilter reads the request's filter: none without the parameter. One given empty or
// blank (`?filter=`) is no filter of RFC 7644 §3.4.2.2's grammar, and is refused 400
// invalidFilter rather than read as none: every resource would match it, and a client
// that built it from a value it failed to set would act on all of them.
func queryFilter(c echo.Context) ([]scimClause, error) {
	q := c.QueryParams()
	if !q.Has("filter") {
		return nil, nil
	}
	if len(q["filter"]) > 1 {
		// Which one the client meant cannot be told; the first alone would drop the
		// other's clauses without a word, matching more than either says.
		return nil, scimErr(400, "invalidFilter", "filter is given more than once: join its clauses with `and` in one")
	}
	f := q.Get("filter")
	if strings.TrimSpace(f) == "" {
		return nil, scimErr(400, "invalidFilter", "filter is empty: give one, or leave the parameter out to list every resource")
	}
	return parseSCIMFilter(f)
}

func (api *syncAPI) listUsers(c echo.Context) error {
	clauses, err := queryFilter(c)
	if err != nil {
		return err
	}
	clauses = unqualified(clauses, scimUserSchema)
	start, count, err := paging(c)
	if err != nil {
		return err
	}
	for _, cl := range clauses {
		// Refused whether or not there is a user to test it on (its errors are of the
		// clause alone).
		if _, err := userMatches(lifecycle.User{}, cl); err != nil {
			return err
		}
	}
	ctx := c.Request().Context()
	if q, none, ok := storeUserQuery(clauses); ok {
		// The store selects and counts: a page reads its own users, not every one (an
		// IdP's import pages through all of them, startIndex after startIndex).
		return api.listUserPage(c, q, none, start, count)
	}
	// Each user read is matched as it comes, and only those of the page asked for are
	// kept: a listing that reads every user (a value no index selects) held them all
	// before matching, a heap that grew with the directory on each request.
	var (
		matched int
		page    []lifecycle.User
	)
	consider := func(users []lifecycle.User) error {
		for _, u := range users {
			ok := true
			for _, cl := range clauses {
				m, err := userMatches(u, cl)
				if err != nil {
					return err
				}
				ok = ok && m
			}
			if !ok {
				continue
			}
			if matched >= start-1 && len(page) < count {
				page = append(page, u)
			}
			matched++
		}
		return nil
	}
	var candidates []lifecycle.User
	if i := slices.IndexFunc(clauses, func(cl scimClause) bool { return cl.attr == "username" }); i >= 0 {
		if candidates, err = api.userNamed(ctx, clauses[i].value); err != nil {
			return err
		}
	} else if i := slices.IndexFunc(clauses, func(cl scimClause) bool { return cl.attr == "id" }); i >= 0 {
		// The user of the id alone (Okta and Entra ask so), not every user: its name's
		// user is matched on the id below, another created under it since is not.
		name, err := api.o.Queue.Store.UserNameByID(ctx, clauses[i].value)
		if err != nil && !errorsIsNotFound(err) {
			return err
		}
		if err == nil {
			if candidates, err = api.userNamed(ctx, name); err != nil {
				return err
			}
		}
	} else {
		// Every user, page by page: totalResults is the whole count. With an externalId
		// (Okta and Entra ask so), the users of that externalId alone, by the store's
		// index: those are matched on every clause below as every user would be. "" is
		// every user without one, read so. With an e-mail address or a display name
		// (Entra's matching attributes), the users whose one folds as one of the value's
		// case variants does, by the store's indexes: every user the clause matches, and
		// those are matched below. A value of too many variants, the users whose one
		// starts as one of the variants of its first letters does: more, matched so too.
		var q lifecycle.UserQuery
		if i := slices.IndexFunc(clauses, func(cl scimClause) bool { return cl.attr == "externalid" && cl.value != "" }); i >= 0 {
			q.ExternalID = clauses[i].value
		}
		for _, cl := range clauses {
			keys, whole, ok := foldPrefixKeys(cl.value)
			email := cl.attr == "emails" || cl.attr == "emails.value"
			switch {
			case !ok:
			case email && q.Emails == nil && q.EmailPrefixes == nil:
				if whole {
					q.Emails = keys
				} else {
					q.EmailPrefixes = keys
				}
			case cl.attr == "displayname" && q.DisplayNames == nil && q.DisplayNamePrefixes == nil:
				if whole {
					q.DisplayNames = keys
				} else {
					q.DisplayNamePrefixes = keys
				}
			}
		}
		cursor, limit := "", api.o.userPage
		if limit == 0 {
			limit = 1000
		}
		for {
			q.Cursor, q.Limit = cursor, limit
			users, err := api.o.Manager.ListUsers(ctx, q)
			if err != nil {
				return err
			}
			if err := consider(users.Users); err != nil {
				return err
			}
			if cursor = users.Next; cursor == "" {
				break
			}
			if q.EmailPrefixes != nil || q.DisplayNamePrefixes != nil {
				// More than a page of users start as the value does: the ranges select
				// about every user, and each page selects them all again (20 pages of
				// "Пользователь …" among 20,000 took 5 times reading every user). Every
				// user instead, from the first.
				q.EmailPrefixes, q.DisplayNamePrefixes, cursor = nil, nil, ""
				matched, page = 0, nil
			}
		}
	}
	if err := consider(candidates); err != nil {
		return err
	}
	return api.writeUserList(c, matched, start, page)
}

// maxFoldKeys is the most case variants of a value looked up by the store's index;
// a value of more (many letters outside ASCII) is looked up by those of its longest
// prefix of at most so many.
const maxFoldKeys = 64

// foldKeys is what every text equal to v regardless of case (strings.EqualFold, as
// userMatches compares e-mail addresses and display names) folds to (store.FoldText):
// the store selects the users of those keys, and no other can match v. ok is false
// when the store cannot select them so: for "" (a user without a profile has none),
// for text not UTF-8 or with U+FFFD (EqualFold reads an invalid byte as U+FFFD), or
// when v has more than maxFoldKeys variants.
func foldKeys(v string) (keys []string, ok bool) {
	keys, whole, ok := foldPrefixKeys(v)
	return keys, ok && whole
}

// foldPrefixKeys is foldKeys, or, when v has more than maxFoldKeys variants (whole
// false), the keys of its longest prefix of at most so many: every text equal to v
// regardless of case folds to one starting with one of them (EqualFold compares rune
// by rune, and FoldText folds each rune alone).
func foldPrefixKeys(v string) (keys []string, whole, ok bool) {
	if v == "" || !utf8.ValidString(v) || strings.ContainsRune(v, utf8.RuneError) {
		return nil, false, false
	}
	keys = []string{""}
	for _, r := range v {
		// The folded forms of r's case variants: one for an ASCII letter (the Kelvin
		// sign and the long s fold to theirs), each of its own for most others.
		var forms []string
		for f := r; ; {
			if s := store.FoldText(string(f)); !slices.Contains(forms, s) {
				forms = append(forms, s)
			}
			if f = unicode.SimpleFold(f); f == r {
				break
			}
		}
		if len(keys)*len(forms) > maxFoldKeys {
			return keys, false, true
		}
		next := make([]string, 0, len(keys)*len(forms))
		for _, k := range keys {
			for _, s := range forms {
				next = append(next, k+s)
			}
		}
		keys = next
	}
	return keys, true, true
}

// userNamed is the user named name, or none.
func (api *syncAPI) userNamed(ctx context.Context, name string) ([]lifecycle.User, error) {
	u, err := api.o.Manager.GetUser(ctx, name)
	var le *lifecycle.Error
	if errors.As(err, &le) && le.Kind == lifecycle.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []lifecycle.User{u}, nil
}

// storeUserQuery is the query of the store that selects the users clauses do, when it
// can: no clause, or only ones on active. none: no user can match (active eq 1, or both
// true and false).
func storeUserQuery(clauses []scimClause) (q lifecycle.UserQuery, none, ok bool) {
	for _, cl := range clauses {
		if cl.attr != "active" || cl.selAttr != "" {
			return lifecycle.UserQuery{}, false, false
		}
		var state string
		switch strings.ToLower(cl.value) { // as userMatches reads it
		case "true":
			state = lifecycle.StateActive
		case "false":
			state = lifecycle.StateDisabled
		default:
			none = true
			continue
		}
		if q.State != "" && q.State != state {
			none = true
		}
		q.State = state
	}
	return q, none, true
}

// listUserPage answers a listing of the users q selects by asking the store for the
// page from start (1-based) of count users, and for their number.
func (api *syncAPI) listUserPage(c echo.Context, q lifecycle.UserQuery, none bool, start, count int) error {
	if none {
		return api.writeUserList(c, 0, start, nil)
	}
	ctx := c.Request().Context()
	total, err := api.o.Manager.CountUsers(ctx, q)
	if err != nil {
		return err
	}
	var users []lifecycle.User
	if count > 0 && start-1 < total {
		q.Offset, q.Limit = start-1, count
		page, err := api.o.Manager.ListUsers(ctx, q)
		if err != nil {
			return err
		}
		users = page.Users
	}
	return api.writeUserList(c, total, start, users)
}

// writeUserList answers a listing of total users with page, those from start, their
// groups named by their ids (read at once, those of page's users only).
func (api *syncAPI) writeUserList(c echo.Context, total, start int, page []lifecycle.User) error {
	var names []string
	for _, u := range page {
		names = append(names, u.Groups...)
	}
	ids := map[string]string{}
	if len(names) > 0 {
		gs, err := api.o.Queue.Store.GetGroupsByName(c.Request().Context(), names)
		if err != nil {
			return err
		}
		for _, g := range gs {
			ids[g.Name] = g.ID
		}
	}
	out := make([]scimUserResource, 0, len(page))
	for _, u := range page {
		out = append(out, userResource(c, u, ids))
	}
	return writeSCIM(c, http.StatusOK, listResponse(total, start, out))
}
