package adapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"

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
	var raws []json.RawMessage
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return parsed{}, malformed("empty body")
	case trimmed[0] == '[':
		// Each entry is read, and refused, by itself: an array has no key of its own to
		// check, and one entry with a key named twice must not take the batch with it.
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return parsed{}, malformed("body is not a JSON array: " + jsonFault(err))
		}
	case trimmed[0] == '{' && json.Valid(trimmed):
		// One object, however it is laid out: the "JSON object" format, or a sender that
		// indents. Read as lines, each line of an indented object was refused, and the
		// entry with them. JSON lines of two entries or more are never one valid value
		// (Valid stops at the second), so they are read below, a line at a time.
		raws = append(raws, trimmed)
	default: // JSON lines
		for line := range bytes.Lines(trimmed) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				raws = append(raws, line)
			}
		}
	}
	var p parsed
	for i, raw := range raws {
		if !jsonObjectAhead(raw) {
			p.refuseAt("", "entry ", i, ": not a JSON object")
			continue
		}
		var e auth0Entry
		if err := decodeAuth0(raw, &e); err != nil {
			p.refuseAt("", "entry ", i, ": "+err.Error())
			continue
		}
		if len(e.Data) > 0 {
			var inner auth0Entry
			if err := decodeAuth0(e.Data, &inner); err != nil {
				p.refuseAt(e.LogID, "entry ", i, ".data: "+err.Error())
				continue
			}
			if inner.LogID == "" {
				inner.LogID = e.LogID
			}
			e = inner
		}
		if e.LogID == "" || e.Type == "" {
			p.refuseAt(e.LogID, "entry ", i, ": log_id and type are required")
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, e.Date)
		if err != nil {
			p.refuseAt(e.LogID, "entry ", i, ": date is not an RFC 3339 time")
			continue
		}
		var call *auth0Call
		if e.Type == "sapi" && len(e.Details) > 0 {
			if err := json.Unmarshal(e.Details, &call); err != nil {
				p.refuseAt(e.LogID, "entry ", i, ": details are not the JSON expected: "+jsonFault(err))
				continue
			}
		}
		ev, ok := auth0Event(e, call)
		if !ok {
			p.ignored++
			continue
		}
		ev.ID, ev.Time = e.LogID, at
		p.events = append(p.events, ev)
	}
	return p.whole()
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

// decodeAuth0 is decodeJSON for an entry (or its data), but for keys that differ only in
// case outside the objects emfa reads into fields: Auth0 logs customers' data as they sent
// it (a user's metadata in a Management API call's body, {"Team": …, "team": …}), whose
// keys are distinct, and such an entry was refused as unreadable, a user's creation lost
// with it. A key named twice exactly is refused anywhere (encoding/json keeps the last),
// and one named twice in any case among the fields (auth0Fields) too, as encoding/json
// matches them. Check is tried first: the walk below runs only for an entry it refuses.
func decodeAuth0(data []byte, v any) error {
	err := checkUniqueKeys(data)
	// A key named twice in an object of fields is refused as it is; one deeper may be
	// two keys of a customer's data, which only the walk tells apart.
	if dup := (*jsonkeys.DuplicateError)(nil); errors.As(err, &dup) && !auth0Fields[jsonkeys.FoldKey(parentPath(dup.Path))] {
		err = auth0Keys(json.NewDecoder(bytes.NewReader(data)), "", "", 0)
	}
	if err != nil {
		return malformed("body is not valid JSON without duplicate keys: " + jsonFault(err))
	}
	if err := json.Unmarshal(data, v); err != nil {
		return malformed("body is not the JSON expected: " + jsonFault(err))
	}
	return nil
}

// auth0Fields are the paths (keys folded by jsonkeys.FoldKey, joined by '.') of the
// objects of an entry whose keys encoding/json matches to fields, in any case.
var auth0Fields = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range []string{"", "data", "details", "details.request", "details.response",
		"data.details", "data.details.request", "data.details.response"} {
		m[jsonkeys.FoldKey(p)] = true
	}
	return m
}()

// auth0Keys walks the value dec is at, under path (folded; shown as the entry spells it)
// inside depth containers, and refuses a key named twice: exactly, or in any case in an
// object of auth0Fields.
func auth0Keys(dec *json.Decoder, path, shown string, depth int) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := t.(json.Delim)
	if !ok {
		return nil
	}
	if depth >= jsonkeys.MaxDepth {
		return jsonkeys.ErrTooDeep
	}
	if d == '[' {
		for dec.More() {
			if err := auth0Keys(dec, path+".[]", shown+".[]", depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	}
	fields := auth0Fields[path]
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		k := key
		if fields {
			k = jsonkeys.FoldKey(key)
		}
		if seen[k] {
			return &jsonkeys.DuplicateError{Path: strings.TrimPrefix(shown+"."+key, ".")}
		}
		seen[k] = true
		sub := jsonkeys.FoldKey(key)
		if path != "" {
			sub = path + "." + sub
		}
		if err := auth0Keys(dec, sub, strings.TrimPrefix(shown+"."+key, "."), depth+1); err != nil {
			return err
		}
	}
	_, err = dec.Token()
	return err
}

// parentPath is the path of the object that holds the key at path.
func parentPath(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}
