package adapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/internal/jsonkeys"
	"github.com/emfa/emfa/provider"
)

// Auth0 log streams, custom webhook (lifecycle.md §5): a batch of log entries as a JSON
// array, JSON lines or one object (on one line or several), each either the entry or
// {log_id, data: entry}.
// Recognised: signup (ss), user deletion (du, sdu), MFA account deletion (gd_user_delete),
// and successful Management API calls (sapi) that create, block/unblock, delete a user or
// delete its MFA enrollments. A user is named by the entry's user_name, but for sapi only
// by the response's username or email (user_name is the caller); an entry naming none is
// ignored.

type auth0Entry struct {
	LogID    string          `json:"log_id"`
	Data     json.RawMessage `json:"data"`
	Type     string          `json:"type"`
	Date     string          `json:"date"`
	UserName string          `json:"user_name"`
	// Details are read only for the types emfa acts on by them (sapi): each type has its
	// own, and one emfa does not act on is no reason to refuse the entry.
	Details json.RawMessage `json:"details"`
}

// auth0Call is the details of an sapi entry. A body is whatever JSON the call sent or
// answered (an object, but an array for PUT /api/v2/users/{id}/authentication-methods
// or the answer of POST /api/v2/users/{id}/identities): only an object's keys are read.
type auth0Call struct {
	Request *struct {
		Method string `json:"method"`
		Path   string `json:"path"`
		Body   any    `json:"body"`
	} `json:"request"`
	Response *struct {
		StatusCode int `json:"statusCode"`
		Body       any `json:"body"`
	} `json:"response"`
}

func parseAuth0(_ echo.Context, body []byte) (parsed, error) {
	trimmed := bytes.TrimSpace(body)
	var p parsed
	// e is each entry as it is read: one for the body, where one an entry, which decoding
	// sends to the heap, was a third of what a body of tiny entries cost.
	var e auth0Entry
	switch {
	case len(trimmed) == 0:
		return parsed{}, malformed("empty body")
	case trimmed[0] == '[':
		// Each entry is read, and refused, by itself: an array has no key of its own to
		// check, and one entry with a key named twice must not take the batch with it.
		var raws []json.RawMessage
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			if at, ok := syntaxIn(body, err); ok {
				return parsed{}, malformed("body is not a JSON array: " + at)
			}
			return parsed{}, malformed("body is not a JSON array: " + jsonFault(err))
		}
		for i, raw := range raws {
			p.auth0Entry(&e, body, i, raw, nil)
		}
	case trimmed[0] == '{' && json.Valid(trimmed):
		// One object, however it is laid out: the "JSON object" format, or a sender that
		// indents. Read as lines, each line of an indented object was refused, and the
		// entry with them. JSON lines of two entries or more are never one valid value
		// (Valid stops at the second), so they are read below, a line at a time.
		p.auth0Entry(&e, body, 0, trimmed, nil)
	default: // JSON lines, each read as it is found: kept as a list first, the list of
		// a body of two million tiny lines was most of what reading them cost.
		var first []byte
		i := 0
		for pos, n := 0, 0; pos < len(body); n++ {
			end := len(body)
			if n := bytes.IndexByte(body[pos:], '\n'); n >= 0 {
				end = pos + n + 1
			}
			if line := bytes.TrimSpace(body[pos:end]); len(line) > 0 {
				if first == nil {
					first = line
				}
				at := lineEntry{textLine{n, pos}, end - len(bytes.TrimLeftFunc(body[pos:end], unicode.IsSpace))}
				p.auth0Entry(&e, body, i, line, &at)
				i++
			}
			pos = end
		}
		if p.nRefused > 0 && len(p.events) == 0 && p.ignored == 0 && cutOff(first) {
			// Nothing read, and the first line is JSON cut off at its end: one value over
			// several lines that is not valid JSON (an indented object), not JSON lines. Its
			// lines, each refused as an entry, named none of them the fault and counted as
			// many lost events: it is one body, refused where it stops being JSON.
			var raw json.RawMessage
			if err := json.Unmarshal(trimmed, &raw); err != nil {
				if at, ok := syntaxIn(body, err); ok {
					return parsed{}, malformed("body is " + at)
				}
			}
		}
	}
	return p.whole()
}

// auth0Entry reads raw, the i-th entry of body, into p, decoding it into e: an event, an
// entry ignored or one refused. at is where it begins when body is JSON lines, else nil.
func (p *parsed) auth0Entry(e *auth0Entry, body []byte, i int, raw []byte, at *lineEntry) {
	if !jsonObjectAhead(raw) {
		p.refuseAt("", "entry ", i, ": not a JSON object")
		return
	}
	if !p.keeps() && (!jsonObjectEnds(raw) || len(raw) < len(shortestAuth0ID)) {
		// Not JSON, or too short to name a log_id (and an entry without one is refused,
		// its id unknown), and its reason not kept: refused unread. The first was all
		// that a line of "{" allocated with json.Valid's error; the second, checking a
		// line of "{}" for its keys and decoding it to find no log_id, was two of
		// encoding/json's allocations and three scans of each line, 50 times the body.
		p.refuse("", "")
		return
	}
	*e = auth0Entry{}
	if !p.keeps() {
		if p.auth0Unlisted(e, raw) {
			return
		}
	} else if err := decodeFields(raw, e, auth0Fields); err != nil {
		if where, ok := lineFault(body, at, raw); ok {
			err = errors.New(where)
		}
		p.refuseAt("", "entry ", i, ": "+err.Error())
		return
	}
	if len(e.Data) > 0 {
		// Null too: read as an entry of nothing, it was refused as one without log_id
		// and type, though the wrapper had its log_id and it was data that was wrong.
		if !jsonObjectAhead(e.Data) {
			p.refuseAt(e.LogID, "entry ", i, ".data: not a JSON object")
			return
		}
		// Its keys were checked with the entry's (auth0Fields' "data…").
		var inner auth0Entry
		if err := json.Unmarshal(e.Data, &inner); err != nil {
			why := ""
			if p.keeps() {
				why = ".data: body is not the JSON expected: " + jsonFault(err)
			}
			p.refuseAt(e.LogID, "entry ", i, why)
			return
		}
		if inner.LogID == "" {
			inner.LogID = e.LogID
		}
		*e = inner
	}
	if e.LogID == "" || e.Type == "" {
		p.refuseAt(e.LogID, "entry ", i, ": log_id and type are required")
		return
	}
	when, err := time.Parse(time.RFC3339Nano, e.Date)
	if err != nil {
		p.refuseAt(e.LogID, "entry ", i, ": date is not an RFC 3339 time")
		return
	}
	var call *auth0Call
	if e.Type == "sapi" && len(e.Details) > 0 {
		if err := json.Unmarshal(e.Details, &call); err != nil {
			why := ""
			if p.keeps() {
				why = ": details are not the JSON expected: " + jsonFault(err)
			}
			p.refuseAt(e.LogID, "entry ", i, why)
			return
		}
	}
	ev, ok := auth0Event(*e, call)
	if !ok {
		p.ignored++
		return
	}
	ev.ID, ev.Time = e.LogID, when
	p.events = append(p.events, ev)
}

// auth0Unlisted decodes raw into e, an entry past the refusals whose reasons are listed,
// or refuses it, as decoding it refuses it or as auth0Entry would once it is decoded, and
// reports which. An entry refused for what its top-level keys hold (no log_id, type or
// date; data that is not an object; a field of the wrong kind) is refused from the walk
// of the key check, which hands them back, without decoding it: decoded, a 4 MiB body of
// {"log_id":"x"} took 0.2-0.45 s of CPU and allocated 60 MB, its key check and
// json.Unmarshal four allocations a line. One that only decoding can tell of (a date to
// parse, data's own fields) is decoded, and so is a log_id with an escape or a byte that
// is not UTF-8, which decoding makes another string.
func (p *parsed) auth0Unlisted(e *auth0Entry, raw []byte) (refused bool) {
	if !json.Valid(raw) {
		p.refuse("", "")
		return true
	}
	v := [...]jsonkeys.Value{{Name: "log_id"}, {Name: "type"}, {Name: "date"}, {Name: "user_name"}, {Name: "data"}}
	if err := jsonkeys.CheckValues(raw, auth0Fields, v[:]); err != nil {
		p.refuse("", "")
		return true
	}
	id, typ, date, data := v[0].Raw, v[1].Raw, v[2].Raw, v[4].Raw
	for _, f := range v[:4] {
		if len(f.Raw) > 0 && f.Raw[0] != '"' && string(f.Raw) != "null" {
			p.refuse("", "") // decoding refuses a field of the wrong kind, naming no id
			return true
		}
	}
	if s := unquoted(id); s == nil || plain(s) {
		switch {
		case data != nil && data[0] != '{': // null too, as decoding reads it
			p.refuseUnlisted(s)
			return true
		case data == nil && (len(s) == 0 || len(unquoted(typ)) == 0 || len(unquoted(date)) == 0):
			p.refuseUnlisted(s)
			return true
		}
	}
	// Valid, its keys checked: decoding refuses only a field of the wrong kind.
	if json.Unmarshal(raw, e) != nil {
		p.refuse("", "")
		return true
	}
	return false
}

// unquoted is a string field's bytes between its quotes, as the key check hands it back;
// nil for null or a field not named.
func unquoted(raw []byte) []byte {
	if len(raw) < 2 || raw[0] != '"' {
		return nil
	}
	return raw[1 : len(raw)-1]
}

// plain reports whether s, a JSON string's bytes, are the string decoded: no escape, and
// valid UTF-8 (encoding/json replaces what is not).
func plain(s []byte) bool { return bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) }

// refuseUnlisted refuses an entry past those listed, with id, its log_id when it names
// one: made a string only while ids are still listed; past them, that it has one is all
// that is counted, and a string a line was what a body of them allocated.
func (p *parsed) refuseUnlisted(id []byte) {
	switch {
	case len(id) == 0:
		p.refuse("", "")
	case len(p.refusedIDs) < maxListedRefusals:
		p.refuse(string(id), "")
	default:
		p.refuse(unlistedID, "")
	}
}

// unlistedID stands for the id of a refused entry past those listed: counted, never
// shown.
const unlistedID = "-"

// shortestAuth0ID is the shortest entry that names a log_id: any entry shorter is refused
// (an entry needs one, and a wrapper's data names it only inside a longer entry) without an
// id to list. encoding/json matches the key in any case, but no folding of log_id's letters
// is shorter, and an escape is longer.
const shortestAuth0ID = `{"log_id":"x"}`

// syntaxIn is jsonSyntax for a syntax error of body without the white space around it
// (bytes.TrimSpace's, Unicode's, which JSON's is not), placed in body, where a line count
// starts.
func syntaxIn(body []byte, err error) (string, bool) {
	var syn *json.SyntaxError
	if !errors.As(err, &syn) {
		return "", false
	}
	moved := *syn
	moved.Offset += int64(len(body) - len(bytes.TrimLeftFunc(body, unicode.IsSpace)))
	return jsonSyntax(body, &moved)
}

// lineEntry is where an entry of JSON lines begins in body: its line, and its own offset
// (after the line's indentation).
type lineEntry struct {
	line  textLine
	start int
}

// lineFault is where raw, an entry of JSON lines beginning at at in body, stops being
// JSON, placed in body (its line, and its column with the line's indentation); ok is
// false when raw is not JSON lines' (at is nil) or is valid JSON. Worked out only for an
// entry refused whose reason is kept, from its own line alone.
func lineFault(body []byte, at *lineEntry, raw []byte) (string, bool) {
	if at == nil {
		return "", false
	}
	var v json.RawMessage
	var syn *json.SyntaxError
	if !errors.As(json.Unmarshal(raw, &v), &syn) {
		return "", false
	}
	moved := *syn
	moved.Offset += int64(at.start)
	return jsonSyntaxTo(body, at.line, at.start+len(raw), &moved)
}

// cutOff reports whether line is JSON that encoding/json refuses at its last byte: a
// value that goes on past it, or ends wrongly there.
func cutOff(line []byte) bool {
	var raw json.RawMessage
	var syn *json.SyntaxError
	return errors.As(json.Unmarshal(line, &raw), &syn) && syn.Offset == int64(len(line))
}

// auth0Event is the event e says; d is its details, read when it is an sapi entry.
func auth0Event(e auth0Entry, d *auth0Call) (provider.LifecycleEvent, bool) {
	ev := provider.LifecycleEvent{Username: e.UserName}
	switch e.Type {
	case "ss":
		ev.Type = provider.EventUserCreate
	case "du", "sdu":
		ev.Type = provider.EventUserDelete
	case "gd_user_delete":
		ev.Type = provider.EventUserMFAReset
	case "sapi":
		if d == nil || d.Request == nil {
			return ev, false
		}
		// Auth0 logs a Management API call under its caller: the entry's user_name is the
		// administrator or is absent, never the user acted on. Only the answer (the user
		// object a create or update returns) names that user; a DELETE answers with no
		// body, so it names no one and is ignored.
		ev.Username = ""
		if d.Response != nil {
			body, _ := d.Response.Body.(map[string]any)
			for _, k := range []string{"username", "email"} {
				if s, ok := body[k].(string); ok && s != "" {
					ev.Username = s
					break
				}
			}
		}
		path := strings.TrimSuffix(d.Request.Path, "/")
		rest, ok := strings.CutPrefix(path, "/api/v2/users")
		if !ok {
			return ev, false
		}
		parts := strings.Split(strings.TrimPrefix(rest, "/"), "/")
		req, _ := d.Request.Body.(map[string]any)
		switch m := strings.ToUpper(d.Request.Method); {
		case m == "POST" && rest == "":
			ev.Type = provider.EventUserCreate
			ev.Disabled, _ = req["blocked"].(bool) // created blocked: disabled from the start
		case m == "PATCH" && len(parts) == 1 && parts[0] != "":
			b, ok := req["blocked"].(bool)
			if !ok {
				return ev, false
			}
			ev.Type = provider.EventUserEnable
			if b {
				ev.Type = provider.EventUserDisable
			}
		case m == "DELETE" && len(parts) == 1 && parts[0] != "":
			ev.Type = provider.EventUserDelete
		case m == "DELETE" && len(parts) >= 2 && (parts[1] == "multifactor" || parts[1] == "authenticators" || parts[1] == "authentication-methods"):
			ev.Type = provider.EventUserMFAReset
		default:
			return ev, false
		}
	default:
		return ev, false
	}
	return ev, ev.Username != ""
}

// auth0Fields are the objects of an entry (bare, or as {log_id, data}) that emfa reads
// into fields. Auth0 logs customers' data as they sent it (a user's metadata in a
// Management API call's body, {"Team": …, "team": …}): only those objects are held to
// keys unique in any case (decodeFields).
var auth0Fields = jsonkeys.NewFields("", "data", "details", "details.request", "details.response",
	"data.details", "data.details.request", "data.details.response")
