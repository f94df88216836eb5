package adapter

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/labstack/echo/v4"
)

// TestEverySurfaceAnswersTheSameErrors pins how each surface answers the same three errors
// (an adapter refusal, a router's, one nobody classified): the same status and the same
// decision to log a server fault everywhere, each in its own format — the contract's
// Verify-style JSON, the admin API's, SCIM's error schema, the page's HTML.
func TestEverySurfaceAnswersTheSameErrors(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	refusal := &Error{Status: http.StatusBadRequest, ID: "invalid_request", Msg: "the body is not JSON"}
	notFound := echo.ErrNotFound
	fault := errors.New("disk on fire")
	scim := func(status, detail, typ string) string {
		b, _ := json.Marshal(map[string]any{"schemas": []string{scimErrSchema}, "status": status, "detail": detail, "scimType": typ})
		if typ == "" {
			b = []byte(strings.Replace(string(b), `,"scimType":""`, "", 1))
		}
		return string(b)
	}
	for _, tc := range []struct {
		surface, path, contentType string
		err                        error
		status                     int
		body                       string // the whole JSON body; for the page, its title
		fault                      bool
	}{
		{"contract", "/v1/providers/acme/initiate", "application/json", refusal, 400,
			`{"messageId":"invalid_request","messageDescription":"the body is not JSON"}`, false},
		{"contract", "/v1/providers/acme/initiate", "application/json", notFound, 404,
			`{"messageId":"not_found","messageDescription":"Not Found"}`, false},
		{"contract", "/v1/providers/acme/initiate", "application/json", fault, 503,
			`{"messageId":"unavailable","messageDescription":"a backend is unavailable; retry"}`, true},

		{"admin", "/admin/v1/users", "application/json", refusal, 400,
			`{"error":{"code":"invalid_json","message":"the body is not JSON"}}`, false},
		{"admin", "/admin/v1/users", "application/json", notFound, 404,
			`{"error":{"code":"not_found","message":"Not Found"}}`, false},
		{"admin", "/admin/v1/users", "application/json", fault, 503,
			`{"error":{"code":"unavailable","message":"a backend is unavailable; retry"}}`, true},

		{"scim", SCIMPrefix + "/Users", scimContentType, refusal, 400, scim("400", "the body is not JSON", "invalidSyntax"), false},
		{"scim", SCIMPrefix + "/Users", scimContentType, notFound, 404, scim("404", "Not Found", ""), false},
		{"scim", SCIMPrefix + "/Users", scimContentType, fault, 503, scim("503", "a backend is unavailable; retry", ""), true},

		{"page", "/self-service/enroll", "text/html", refusal, 400, "That did not work", false},
		{"page", "/self-service/enroll", "text/html", notFound, 404, "There is no such page", false},
		{"page", "/self-service/enroll", "text/html", fault, 503, "Something went wrong", true},
	} {
		t.Run(tc.surface+"/"+http.StatusText(tc.status), func(t *testing.T) {
			before := strings.Count(h.logs.String(), `"msg":"server fault"`)
			rec := httptest.NewRecorder()
			h.srv.handleError(tc.err, h.srv.echo.NewContext(httptest.NewRequest("POST", tc.path, nil), rec))
			if rec.Code != tc.status || !strings.HasPrefix(rec.Header().Get("Content-Type"), tc.contentType) {
				t.Errorf("%d %q, want %d %s", rec.Code, rec.Header().Get("Content-Type"), tc.status, tc.contentType)
			}
			got := strings.TrimSpace(rec.Body.String())
			if tc.surface == "page" {
				if !strings.Contains(got, tc.body) || strings.Contains(got, "disk on fire") {
					t.Errorf("the page says:\n%s\nwant %q, and never the cause", got, tc.body)
				}
			} else if diff := cmp.Diff(tc.body, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if logged := strings.Count(h.logs.String(), `"msg":"server fault"`) > before; logged != tc.fault {
				t.Errorf("logged as a server fault: %v, want %v", logged, tc.fault)
			}
		})
	}
}
