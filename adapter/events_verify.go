package adapter

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/internal/jsonkeys"
	"github.com/emfa/emfa/provider"
)

// IBM Verify notification webhooks (verify-contract.md §13): one event per request, its
// id (also X-Webhook-ID) the dedup key. Management events on users map to lifecycle
// events when they carry data.username; Verify's payload carries no profile values and no
// group membership, so "modified" only checks the user exists, and group membership is
// not synced from Verify (use SCIM or the admin API).

type verifyNotification struct {
	ID        string `json:"id"`
	EventType string `json:"event_type"`
	// Time is read by parseVerify: as a json.Number, a string that is not a number was
	// refused by encoding/json in words that name no field.
	Time json.RawMessage `json:"time"`
	Data *struct {
		Resource    string `json:"resource"`
		Action      string `json:"action"`
		TargetID    string `json:"targetid"`
		Username    string `json:"username"`
		Result      string `json:"result"`
		DisplayName string `json:"displayname"`
	} `json:"data"`
}

// verifyFields are the objects of a notification that emfa reads into fields: only they
// are held to keys unique in any case; deeper, {"Host": …, "host": …} are two keys, and
// the notification, refused, was lost.
var verifyFields = jsonkeys.NewFields("", "data")

// verifyTime reads a notification's time, epoch milliseconds (§13): a JSON number, or a
// string of one, that is a whole number in any notation (1777626000000, 1.777626e12,
// 1777626000000.0: one number to JSON, and a serializer of doubles writes the second); the
// zero time when there is none (null). A fraction is refused, not rounded: epoch seconds
// with a fraction, read as milliseconds, dated the event in 1970. Each refusal says which
// it is, naming time and quoting none of it.
func verifyTime(raw json.RawMessage) (time.Time, error) {
	var num json.Number
	if len(raw) > 0 && json.Unmarshal(raw, &num) != nil {
		return time.Time{}, malformed("time is not a number of epoch milliseconds")
	}
	if num == "" {
		return time.Time{}, nil
	}
	ms, whole, inRange := wholeNumber(string(num))
	switch {
	case !whole:
		return time.Time{}, malformed("time is not a whole number of epoch milliseconds")
	case !inRange:
		return time.Time{}, malformed("time is out of range: epoch milliseconds from 0 to " + strconv.FormatInt(math.MaxInt64, 10))
	}
	return time.UnixMilli(ms).UTC(), nil
}

// wholeNumber reads num, a JSON number, exactly: whether it is a whole number (a float's
// rounding took 1e-400 and 1777626000000.0000001 for whole ones), and, when it is one
// from 0 to MaxInt64, its value. An exponent of any size costs nothing: its digits are
// never written out past 19.
func wholeNumber(num string) (v int64, whole, inRange bool) {
	neg := strings.HasPrefix(num, "-")
	mant, exp := strings.TrimPrefix(num, "-"), ""
	if i := strings.IndexAny(mant, "eE"); i >= 0 {
		mant, exp = mant[:i], mant[i+1:]
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	e, err := strconv.Atoi(exp)
	switch {
	case exp == "":
		e = 0
	case err != nil && strings.HasPrefix(exp, "-"): // beyond an int: as far as matters
		e = math.MinInt32
	case err != nil:
		e = math.MaxInt32
	}
	e = max(min(e, math.MaxInt32), math.MinInt32) - len(frac)
	digits := strings.TrimLeft(intPart+frac, "0")
	trimmed := strings.TrimRight(digits, "0")
	e += len(digits) - len(trimmed)
	switch {
	case trimmed == "":
		return 0, true, true
	case e < 0:
		return 0, false, false
	case neg || len(trimmed)+e > 19:
		return 0, true, false
	}
	v, err = strconv.ParseInt(trimmed+strings.Repeat("0", e), 10, 64)
	return v, true, err == nil
}

// verifyWord is a value a notification is read by (event_type, data.resource, data.action,
// data.result) as it is compared: in any letter case, all four alike, and nothing else
// loosened (no spaces trimmed). IBM spells them in lower case in its samples but "Success
// or Failure" in its tables of fields. Only these words are folded; the id, user and group
// names are taken as sent. (Okta's values, which its System Log spells one way, are
// compared exactly: oktaTypes.)
func verifyWord(s string) string { return strings.ToLower(s) }

var verifyUserActions = map[string]string{
	"created":  provider.EventUserCreate,
	"deleted":  provider.EventUserDelete,
	"modified": provider.EventUserUpdate,
	// Not in IBM's pages we hold; accepted when Verify sends them.
	"disabled": provider.EventUserDisable,
	"enabled":  provider.EventUserEnable,
}

func parseVerify(c echo.Context, body []byte) (parsed, error) {
	var n verifyNotification
	if err := decodeFields(body, &n, verifyFields); err != nil {
		return parsed{}, err
	}
	if n.ID == "" {
		n.ID = c.Request().Header.Get("X-Webhook-ID")
	}
	if n.ID == "" || n.EventType == "" || n.Data == nil {
		return parsed{}, malformed("id, event_type and data are required")
	}
	if h := c.Request().Header.Get("X-Webhook-ID"); h != "" && h != n.ID {
		return parsed{}, malformed("X-Webhook-ID is not the event's id")
	}
	at, err := verifyTime(n.Time)
	if err != nil {
		return parsed{}, err
	}
	d := n.Data
	if verifyWord(n.EventType) != "management" || (d.Result != "" && verifyWord(d.Result) != "success") {
		return parsed{ignored: 1}, nil
	}
	ev := provider.LifecycleEvent{ID: n.ID, Time: at, Username: d.Username}
	switch verifyWord(d.Resource) {
	case "user":
		typ, ok := verifyUserActions[verifyWord(d.Action)]
		if !ok || d.Username == "" {
			return parsed{ignored: 1}, nil
		}
		ev.Type = typ
	case "group":
		// The group's name is carried only as displayname, when it is.
		if d.DisplayName == "" {
			return parsed{ignored: 1}, nil
		}
		ev.Group, ev.Username = d.DisplayName, ""
		switch verifyWord(d.Action) {
		case "created":
			ev.Type = provider.EventGroupCreate
		case "deleted":
			ev.Type = provider.EventGroupDelete
		default:
			return parsed{ignored: 1}, nil
		}
	default:
		return parsed{ignored: 1}, nil
	}
	return parsed{events: []provider.LifecycleEvent{ev}}, nil
}
