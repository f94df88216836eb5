package adapter

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/remote"
)

// adminRefusal is one request the admin API must refuse: the status, code and field of
// its answer, and words its message must hold (a suggestion, what to send instead).
type adminRefusal struct {
	name, method, path, body string
	want                     int
	code, field              string
	says                     []string
}

// checkRefusals sends each request with the write token and checks its answer.
func (h *adminHarness) checkRefusals(t *testing.T, cases []adminRefusal) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out := h.admin(t, h.write, tc.method, tc.path, tc.body)
			c, f := errorCode(out)
			if code != tc.want || c != tc.code || f != tc.field {
				t.Errorf("%d %s %s, want %d %s %s (%v)", code, c, f, tc.want, tc.code, tc.field, out)
			}
			e, _ := out["error"].(map[string]any)
			msg, _ := e["message"].(string)
			for _, s := range tc.says {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q does not say %q", msg, s)
				}
			}
		})
	}
}

// TestAdminQueryParameters: a query parameter a route does not take, or a value outside
// what it takes, is refused before anything is done, never ignored: a misspelt dryRun
// must not apply an import, a misspelt filter must not list everything, and a filter no
// event can match must not answer an empty page a script reads as "none".
func TestAdminQueryParameters(t *testing.T) {
	h := newAdminHarness(t)
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create alice: %d %v", code, out)
	}
	csv := "username\nbob\n"
	h.checkRefusals(t, []adminRefusal{
		{"a misspelt dryRun", "POST", "/admin/v1/import?format=csv&dryrun=true", csv, 400, "unknown_parameter", "dryrun", []string{`"dryRun"`}},
		{"a misspelt filter", "GET", "/admin/v1/users?stat=disabled", "", 400, "unknown_parameter", "stat", []string{`"state"`}},
		{"nothing like a parameter", "GET", "/admin/v1/audit?colour=red", "", 400, "unknown_parameter", "colour", []string{"user", "outcome"}},
		{"a route without parameters", "GET", "/admin/v1/users/alice?expand=factors", "", 400, "unknown_parameter", "expand", []string{"takes no query parameters"}},
		{"a route served apart", "POST", "/admin/v1/users/alice/activation-link?deliver=false", "", 400, "unknown_parameter", "deliver", nil},
		{"an outcome in lower case", "GET", "/admin/v1/audit?outcome=failed", "", 400, "invalid_parameter", "outcome", []string{`"FAILED"`}},
		{"an outcome never recorded", "GET", "/admin/v1/audit?outcome=nope", "", 400, "invalid_parameter", "outcome", []string{"SUCCESS", "FAILED"}},
		{"an action in upper case", "GET", "/admin/v1/audit?action=ADMIN.IMPORT", "", 400, "invalid_parameter", "action", []string{`"admin.import"`}},
		{"an unknown state", "GET", "/admin/v1/users?state=gone", "", 400, "invalid_parameter", "state", []string{"active", "disabled"}},
		{"a state in upper case", "GET", "/admin/v1/users?state=DISABLED", "", 400, "invalid_parameter", "state", []string{`"disabled"`}},
		{"a boolean left empty", "POST", "/admin/v1/import?format=csv&dryRun=", csv, 400, "invalid_parameter", "dryRun", []string{"true or false"}},
		{"a boolean as yes", "POST", "/admin/v1/import?format=csv&dryRun=yes", csv, 400, "invalid_parameter", "dryRun", []string{"true or false"}},
		{"a boolean as 1", "POST", "/admin/v1/import?format=csv&full=1", csv, 400, "invalid_parameter", "full", []string{"true or false"}},
		{"a parameter given twice", "GET", "/admin/v1/users?state=active&state=disabled", "", 400, "invalid_parameter", "state", []string{"once"}},
		{"a format left empty", "POST", "/admin/v1/import?format=", csv, 400, "invalid_parameter", "format", []string{"csv", "jsonl"}},
	})
	if u, err := h.store.GetUserRecord(context.Background(), "bob"); err == nil {
		t.Errorf("a refused import created %+v", u)
	}
	// What the routes do take still works, an authentication still comes first, and the
	// suggested spelling does what was meant.
	for _, tc := range []struct {
		token, method, path, body string
		want                      int
	}{
		{h.write, "GET", "/admin/v1/audit?outcome=FAILED&action=admin.users.create&user=alice&limit=5", "", 200},
		{h.write, "GET", "/admin/v1/users?state=disabled&prefix=a&group=g&limit=2", "", 200},
		{h.write, "POST", "/admin/v1/import?format=csv&dryRun=true&full=false&maxDeletes=3", csv, 200},
		{"", "GET", "/admin/v1/users?stat=disabled", "", 401},
		{h.read, "POST", "/admin/v1/import?dryrun=true", csv, 403},
	} {
		if code, out := h.admin(t, tc.token, tc.method, tc.path, tc.body); code != tc.want {
			t.Errorf("%s %s: %d %v, want %d", tc.method, tc.path, code, out, tc.want)
		}
	}
	if u, err := h.store.GetUserRecord(context.Background(), "bob"); err == nil {
		t.Errorf("a dry run created %+v", u)
	}
}

// TestAdminQueryDeclarations: every admin route finds its parameters in the document
// (a route it misses would refuse every parameter), and ?outcome= takes exactly the
// outcomes the audit trail records.
func TestAdminQueryDeclarations(t *testing.T) {
	h := newAdminHarness(t)
	n := 0
	for _, r := range h.srv.echo.Routes() {
		if !strings.HasPrefix(r.Path, AdminPrefix+"/") {
			continue
		}
		n++
		if _, ok := adminQueries()[operationOf(r.Method, r.Path)]; !ok {
			t.Errorf("%s %s: no operation %q in the document", r.Method, r.Path, operationOf(r.Method, r.Path))
		}
	}
	if n < 20 {
		t.Errorf("only %d admin routes", n)
	}
	var outcomes []string
	for _, p := range adminQueries()["GET /audit"] {
		if p.name == "outcome" {
			// A copy: the values are the process's, which the refusals word in the
			// document's order (TestAdminAuditRefusesWhatMatchesNothing).
			outcomes = slices.Clone(p.values)
		}
	}
	recorded := []string{string(provider.StatusSuccess), string(provider.StatusFailed), string(provider.StatusPending),
		string(provider.StatusCanceled), string(provider.StatusTimeout), remote.OutcomeSkipped, remote.OutcomeDone, remote.OutcomeFailed}
	slices.Sort(outcomes)
	slices.Sort(recorded)
	if recorded = slices.Compact(recorded); !slices.Equal(outcomes, recorded) {
		t.Errorf("?outcome= takes %v, the audit trail records %v", outcomes, recorded)
	}
}
