package adapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/internal/jsonkeys"
	"github.com/emfa/emfa/provider"
)

// Okta event hooks (lifecycle.md §4): a one-time GET verification, then POSTs of System
// Log events under data.events, delivered at least once, possibly out of order, with a
// 3-second timeout: the handler only queues them.

type oktaEvent struct {
	UUID      string                   `json:"uuid"`
	Published string                   `json:"published"`
	EventType string                   `json:"eventType"`
	Actor     *oktaTarget              `json:"actor"`
	Outcome   *struct{ Result string } `json:"outcome"`
	Target    []oktaTarget             `json:"target"`
}

type oktaTarget struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	AlternateID string `json:"alternateId"`
	DisplayName string `json:"displayName"`
}

// oktaFields are the objects of an event that emfa reads into fields (oktaEvent's): only
// they are held to keys unique in any case. Okta relays data it does not own elsewhere
// (debugContext.debugData, a target's detailEntry, the client's userAgent), where
// {"Foo": …, "foo": …} are two keys, and such an event, refused, was lost with the user's
// change: Okta sends no batch answered 4xx again.
var oktaFields = jsonkeys.NewFields("", "actor", "outcome", "target.[]")

// oktaTypes are the event types emfa acts on. Okta's values are compared as Okta spells
// them (an eventType in lower case; a target's type "User", "UserGroup"), unlike its keys,
// which encoding/json matches in any case: "User.Lifecycle.Deactivate" is no event type
// of Okta's, and is ignored. Only outcome.result's FAILURE is taken in any case: it keeps
// emfa from acting, and a failure in any case did not happen.
var oktaTypes = map[string]string{
	"user.lifecycle.create":           provider.EventUserCreate,
	"user.lifecycle.delete.initiated": provider.EventUserDelete,
	"user.lifecycle.suspend":          provider.EventUserDisable,
	"user.lifecycle.unsuspend":        provider.EventUserEnable,
	"user.lifecycle.deactivate":       provider.EventUserDisable,
	"user.lifecycle.activate":         provider.EventUserEnable,
	"user.lifecycle.reactivate":       provider.EventUserEnable,
	"user.account.update_profile":     provider.EventUserUpdate,
	"user.mfa.factor.deactivate":      provider.EventUserMFAReset,
	"user.mfa.factor.reset_all":       provider.EventUserMFAReset,
	"group.user_membership.add":       provider.EventGroupMemberAdd,
	"group.user_membership.remove":    provider.EventGroupMemberRemove,
}

// oktaVerify answers the one-time verification of the hook.
func (api *syncAPI) oktaVerify(c echo.Context) error {
	ch := c.Request().Header.Get("X-Okta-Verification-Challenge")
	if ch == "" {
		return badRequest("no X-Okta-Verification-Challenge header")
	}
	return c.JSON(http.StatusOK, map[string]string{"verification": ch})
}

// Which of Okta's factor deactivations and resets (user.mfa.factor.deactivate, .reset_all)
// reset the user's emfa factors: sync.okta.mfaReset.
const (
	// OktaResetOthers (the default, also ""): every reset_all, and the deactivations made
	// by someone other than the user (an administrator, Okta itself); Okta sends the same
	// event when users remove one of their own Okta factors, which are not their emfa ones.
	OktaResetOthers = "others"
	OktaResetAll    = "all"  // every one
	OktaResetNone   = "none" // none: emfa's factors are reset only through emfa
)

// parseOkta reads a hook's events with sync.okta.mfaReset's default.
func parseOkta(c echo.Context, body []byte) (parsed, error) { return parseOktaAs("")(c, body) }

// parseOktaAs reads a hook's events, resetting a user's factors as mfaReset says.
func parseOktaAs(mfaReset string) func(echo.Context, []byte) (parsed, error) {
	return func(_ echo.Context, body []byte) (parsed, error) { return readOkta(mfaReset, body) }
}

func readOkta(mfaReset string, body []byte) (parsed, error) {
	batch, events, err := oktaEnvelope(body)
	if err != nil {
		return parsed{}, err
	}
	p := parsed{batch: batch}
	for i, raw := range events {
		if !jsonObjectAhead(raw) {
			p.refuseAt("", "data.events[", i, "]: not a JSON object")
			continue
		}
		if !p.keeps() && len(raw) < len(shortestOktaID) {
			// Too short to name a uuid (an event needs one), its reason not kept: refused
			// unread, as Auth0's entries are.
			p.refuse("", "")
			continue
		}
		var e oktaEvent
		if err := decodeFieldsWorded(raw, &e, oktaFields, p.keeps()); err != nil {
			// Past the listed refusals, without words: a batch of events each refused
			// for a key named twice or a value of the wrong kind worded every one (its
			// place, the key quoted) for a log line that lists twenty.
			why := ""
			if p.keeps() {
				why = "]: " + err.Error()
			}
			p.refuseAt("", "data.events[", i, why)
			continue
		}
		if e.UUID == "" || e.EventType == "" {
			p.refuseAt(e.UUID, "data.events[", i, "]: uuid and eventType are required")
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, e.Published)
		if err != nil {
			p.refuseAt(e.UUID, "data.events[", i, "].published is not an RFC 3339 time")
			continue
		}
		typ, ok := oktaTypes[e.EventType]
		if !ok || (e.Outcome != nil && strings.EqualFold(e.Outcome.Result, "FAILURE")) {
			p.ignored++
			continue
		}
		ev := provider.LifecycleEvent{ID: e.UUID, Type: typ, Time: at}
		userID := ""
		for _, t := range e.Target {
			switch t.Type {
			case "User":
				ev.Username, userID = t.AlternateID, t.ID
				if typ == provider.EventUserCreate || typ == provider.EventUserUpdate {
					ev.DisplayName = strp(t.DisplayName)
				}
			case "UserGroup":
				ev.Group = t.DisplayName
			}
		}
		if ev.Username == "" {
			p.refuseAt(e.UUID, "data.events[", i, "]: no User target with an alternateId")
			continue
		}
		if (typ == provider.EventGroupMemberAdd || typ == provider.EventGroupMemberRemove) && ev.Group == "" {
			p.refuseAt(e.UUID, "data.events[", i, "]: no UserGroup target with a displayName")
			continue
		}
		if typ == provider.EventUserMFAReset && !oktaResets(mfaReset, e.EventType, e.Actor, userID) {
			p.ignored++
			continue
		}
		p.events = append(p.events, ev)
	}
	return p.whole()
}

// shortestOktaID is the shortest event that names a uuid: any event shorter is refused
// (an event needs one) without an id to list. encoding/json matches the key in any case,
// but no folding of uuid's letters is shorter, and an escape is longer.
const shortestOktaID = `{"uuid":"x"}`

// oktaResets reports whether a factor deactivation or reset (eventType) made by actor on
// the user whose Okta id is userID resets the user's emfa factors, as mfaReset says. An
// event without an actor (or naming no user id) is taken as not the user's own doing. A
// reset of all the user's factors (user.mfa.factor.reset_all, an administrator's, which
// may be their own) is never a user's removing one of their own Okta factors: it resets.
func oktaResets(mfaReset, eventType string, actor *oktaTarget, userID string) bool {
	switch mfaReset {
	case OktaResetAll:
		return true
	case OktaResetNone:
		return false
	}
	return eventType == "user.mfa.factor.reset_all" || actor == nil || userID == "" || actor.ID != userID
}

// oktaEnvelope reads a hook's body: its eventId and data.events, each event left as its
// bytes, for parseOkta to read one at a time, so that one event that cannot be read (a key
// named twice, a value of the wrong type, nested too deep) is refused alone and the rest
// of the batch queued. The envelope is held to what decodeJSON holds a body to: one JSON
// object, no key named twice in it or in data (in any case, as encoding/json matches
// keys), and no key named twice in any other value it holds.
func oktaEnvelope(body []byte) (batch string, events []json.RawMessage, err error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	hasData := false
	var isObject bool
	isObject, err = jsonObject(dec, func(key string) error {
		switch {
		case strings.EqualFold(key, "eventId"):
			return batchID(dec, &batch)
		case !strings.EqualFold(key, "data"):
			return skipValue(dec)
		}
		var err error
		hasData, err = jsonObject(dec, func(key string) error {
			if !strings.EqualFold(key, "events") {
				return skipValue(dec)
			}
			switch t, err := dec.Token(); {
			case err != nil:
				return err
			case t == nil: // null: no events
				return nil
			case t != json.Delim('['):
				return malformed("data.events is not an array")
			}
			for dec.More() {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return err
				}
				events = append(events, raw)
			}
			_, err := dec.Token() // ]
			return err
		})
		return err
	})
	switch {
	case err != nil:
	case !isObject:
		err = malformed("body is not a JSON object")
	case !hasData:
		err = malformed("no data.events")
	default:
		if _, end := dec.Token(); end != io.EOF {
			err = malformed("body is more than one JSON value")
		}
	}
	if err != nil {
		if m := (errMalformed{}); !errors.As(err, &m) {
			err = malformed(oktaFault(body, err))
		}
		return "", nil, err
	}
	return batch, events, nil
}

// oktaFault is why the envelope's decoder refused body with err. A syntax error is placed
// by the body read whole: the decoder's offset counts only the bytes it decoded as values
// (an event, a key), not the delimiters and white space between them that its Token
// read, and named a place some way before the fault.
func oktaFault(body []byte, err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) || errors.Is(err, io.ErrUnexpectedEOF) {
		var raw json.RawMessage
		if whole := json.Unmarshal(body, &raw); whole != nil {
			if at, ok := jsonSyntax(body, whole); ok {
				return "body is " + at
			}
		}
	}
	return "body is not the JSON expected: " + jsonFault(err)
}

// batchID reads the envelope's eventId, the batch's own id, into batch when it is a JSON
// string. emfa reads nothing by it and only logs it beside refused events, so any other
// value (a number, an object; null) leaves batch empty, as no eventId does, and the
// batch's events are read: refusing the batch for it lost every event in it, since Okta
// sends no batch answered 4xx again. Like any value of the envelope it names no key twice.
func batchID(dec *json.Decoder, batch *string) error {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	if len(raw) > 0 && raw[0] == '"' {
		return json.Unmarshal(raw, batch)
	}
	if err := checkUniqueKeys(raw); err != nil {
		return malformed("body is not valid JSON without duplicate keys: " + jsonFault(err))
	}
	return nil
}

// jsonObject reads the object dec is at, calling each for each key with dec at its value,
// which each reads; a key named twice (in any case) is refused. A null is no object;
// anything else is refused.
func jsonObject(dec *json.Decoder, each func(key string) error) (bool, error) {
	switch t, err := dec.Token(); {
	case err != nil:
		return false, err
	case t == nil:
		return false, nil
	case t != json.Delim('{'):
		return false, malformed("body is not the JSON expected: a value that should be an object is not one")
	}
	// Few keys are searched one by one; past maxLinearKeys they are kept folded in a map,
	// as jsonkeys keeps them: searching every key before it, a 4 MiB envelope of distinct
	// keys took minutes of CPU.
	var seen []string
	var folded map[string]struct{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return false, err
		}
		key, _ := t.(string)
		var dup bool
		if folded != nil {
			f := jsonkeys.FoldKey(key)
			if _, dup = folded[f]; !dup {
				folded[f] = struct{}{}
			}
		} else if dup = slices.ContainsFunc(seen, func(k string) bool { return strings.EqualFold(k, key) }); !dup {
			seen = append(seen, key)
			if len(seen) > maxLinearKeys {
				folded = make(map[string]struct{}, 2*len(seen))
				for _, k := range seen {
					folded[jsonkeys.FoldKey(k)] = struct{}{}
				}
				seen = nil
			}
		}
		if dup {
			return false, malformed("body is not valid JSON without duplicate keys: the key " +
				strconv.Quote(logID(key)) + " is named twice")
		}
		if err := each(key); err != nil {
			return false, err
		}
	}
	_, err := dec.Token() // }
	return true, err
}

// maxLinearKeys is how many keys of an envelope's object are searched one by one.
const maxLinearKeys = 16

// skipValue reads the value dec is at, refusing one that names a key twice.
func skipValue(dec *json.Decoder) error {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	if err := checkUniqueKeys(raw); err != nil {
		return malformed("body is not valid JSON without duplicate keys: " + jsonFault(err))
	}
	return nil
}
