package adapter

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func parseCtx(hdr ...string) echo.Context {
	req := httptest.NewRequest("POST", "/", nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return echo.New().NewContext(req, httptest.NewRecorder())
}

// TestSourceMappings: what each source's payload becomes (type user group), or ignored.
func TestSourceMappings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parse func(echo.Context, []byte) (parsed, error)
		body  string
		want  string
	}{
		{"okta reset", parseOkta, oktaBatch(okEv("1", "user.mfa.factor.deactivate", "a", 1)), "user.mfa.reset a"},
		{"okta membership", parseOkta, oktaBatch(okEv("1", "group.user_membership.remove", "a", 1, "g")), "group.member.remove a g"},
		{"okta failure", parseOkta, oktaBatch(strings.Replace(okEv("1", "user.lifecycle.create", "a", 1), "SUCCESS", "FAILURE", 1)), "ignored"},
		{"verify group", parseVerify, `{"id":"1","event_type":"management","data":{"resource":"group","action":"created","displayname":"g"}}`, "group.create  g"},
		{"verify no username", parseVerify, `{"id":"1","event_type":"management","data":{"resource":"user","action":"created","targetid":"6"}}`, "ignored"},
		{"verify mfa device", parseVerify, `{"id":"1","event_type":"management","data":{"resource":"mfa_device","action":"deleted","username":"a"}}`, "ignored"},
		{"auth0 mfa reset", parseAuth0, `{"log_id":"1","type":"sapi","date":"2026-05-01T09:00:00Z","details":{"request":{"method":"DELETE","path":"/api/v2/users/auth0|1/authenticators"},"response":{"statusCode":200,"body":{"username":"a"}}}}`, "user.mfa.reset a"},
		// A Management API call is logged under its caller: user_name is the administrator,
		// and a DELETE answers with no body, so nothing names the user it acted on.
		{"auth0 reset by an admin", parseAuth0, `{"log_id":"1","type":"sapi","date":"2026-05-01T09:00:00Z","user_name":"admin@example.com","user_id":"google-oauth2|1","details":{"request":{"method":"DELETE","path":"/api/v2/users/auth0|1/authenticators"},"response":{"statusCode":204}}}`, "ignored"},
		{"auth0 delete by an admin", parseAuth0, `{"log_id":"1","type":"sapi","date":"2026-05-01T09:00:00Z","user_name":"admin@example.com","details":{"request":{"method":"DELETE","path":"/api/v2/users/auth0|1"},"response":{"statusCode":204}}}`, "ignored"},
		{"auth0 block by an admin", parseAuth0, `{"log_id":"1","type":"sapi","date":"2026-05-01T09:00:00Z","user_name":"admin@example.com","details":{"request":{"method":"PATCH","path":"/api/v2/users/auth0|1","body":{"blocked":true}},"response":{"statusCode":200,"body":{"email":"carol@example.com"}}}}`, "user.disable carol@example.com"},
		{"auth0 guardian", parseAuth0, `[{"log_id":"1","type":"gd_user_delete","date":"2026-05-01T09:00:00Z","user_name":"a"}]`, "user.mfa.reset a"},
		{"auth0 signup", parseAuth0, `{"log_id":"1","type":"ss","date":"2026-05-01T09:00:00Z","user_name":"a"}`, "user.create a"},
		{"auth0 login", parseAuth0, `{"log_id":"1","type":"s","date":"2026-05-01T09:00:00Z","user_name":"a"}`, "ignored"},
		{"auth0 create", parseAuth0, `{"log_id":"1","type":"sapi","date":"2026-05-01T09:00:00Z","details":{"request":{"method":"POST","path":"/api/v2/users","body":{"blocked":false}},"response":{"statusCode":201,"body":{"username":"a"}}}}`, "user.create a"},
		{"auth0 create blocked", parseAuth0, `{"log_id":"1","type":"sapi","date":"2026-05-01T09:00:00Z","details":{"request":{"method":"POST","path":"/api/v2/users","body":{"blocked":true}},"response":{"statusCode":201,"body":{"username":"a"}}}}`, "user.create a disabled"},
		{"auth0 roles", parseAuth0, `{"log_id":"1","type":"sapi","date":"2026-05-01T09:00:00Z","user_name":"a","details":{"request":{"method":"POST","path":"/api/v2/users/x/roles"}}}`, "ignored"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.parse(parseCtx(), []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			got := "ignored"
			if len(p.events) == 1 {
				e := p.events[0]
				got = strings.TrimSpace(e.Type + " " + e.Username + " " + e.Group)
				if e.Disabled {
					got += " disabled"
				}
			} else if p.ignored != 1 {
				t.Fatalf("%+v", p)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
