package adapter

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/provider"
)

// Okta event hooks (lifecycle.md §4): a one-time GET verification, then POSTs of System
// Log events under data.events, delivered at least once, possibly out of order, with a
// 3-second timeout: the handler only queues them.

type oktaHook struct {
	EventID string `json:"eventId"`
	Data    *struct {
		Events []oktaEvent `json:"events"`
	} `json:"data"`
}

type oktaEvent struct {
	UUID      string                   `json:"uuid"`
	Published string                   `json:"published"`
	EventType string                   `json:"eventType"`
	Outcome   *struct{ Result string } `json:"outcome"`
	Target    []oktaTarget             `json:"target"`
}

type oktaTarget struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	AlternateID string `json:"alternateId"`
	DisplayName string `json:"displayName"`
}

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

func parseOkta(_ echo.Context, body []byte) (parsed, error) {
	var h oktaHook
	if err := decodeJSON(body, &h); err != nil {
		return parsed{}, err
	}
	if h.Data == nil {
		return parsed{}, malformed("no data.events")
	}
	p := parsed{batch: h.EventID}
	for i, e := range h.Data.Events {
		if e.UUID == "" || e.EventType == "" {
			p.refuse(e.UUID, "data.events["+itoa(i)+"]: uuid and eventType are required")
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, e.Published)
		if err != nil {
			p.refuse(e.UUID, "data.events["+itoa(i)+"].published is not an RFC 3339 time")
			continue
		}
		typ, ok := oktaTypes[e.EventType]
		if !ok || (e.Outcome != nil && strings.EqualFold(e.Outcome.Result, "FAILURE")) {
			p.ignored++
			continue
		}
		ev := provider.LifecycleEvent{ID: e.UUID, Type: typ, Time: at}
		for _, t := range e.Target {
			switch t.Type {
			case "User":
				ev.Username = t.AlternateID
				if typ == provider.EventUserCreate || typ == provider.EventUserUpdate {
					ev.DisplayName = strp(t.DisplayName)
				}
			case "UserGroup":
				ev.Group = t.DisplayName
			}
		}
		if ev.Username == "" {
			p.refuse(e.UUID, "data.events["+itoa(i)+"]: no User target with an alternateId")
			continue
		}
		if (typ == provider.EventGroupMemberAdd || typ == provider.EventGroupMemberRemove) && ev.Group == "" {
			p.refuse(e.UUID, "data.events["+itoa(i)+"]: no UserGroup target with a displayName")
			continue
		}
		p.events = append(p.events, ev)
	}
	return p.whole()
}
