package adapter

import (
	"encoding/json"
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
	at := time.Time{}
	var num json.Number // a number, or a string of one; null: none
	if len(n.Time) > 0 && json.Unmarshal(n.Time, &num) != nil {
		return parsed{}, malformed("time is not epoch milliseconds")
	}
	if num != "" {
		ms, err := num.Int64()
		if err != nil || ms < 0 {
			return parsed{}, malformed("time is not epoch milliseconds")
		}
		at = time.UnixMilli(ms).UTC()
	}
	d := n.Data
	if n.EventType != "management" || (d.Result != "" && !strings.EqualFold(d.Result, "success")) {
		return parsed{ignored: 1}, nil
	}
	ev := provider.LifecycleEvent{ID: n.ID, Time: at, Username: d.Username}
	switch lower(d.Resource) {
	case "user":
		typ, ok := verifyUserActions[lower(d.Action)]
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
		switch lower(d.Action) {
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
