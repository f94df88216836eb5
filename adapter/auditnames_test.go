package adapter

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TestRefusedAdminNamesAudited: the README's security model promises that what a
// caller sent is escaped and cut before it reaches an audit row, "so the audit write never
// fails on it", and the admin API that each refusal of a valid token is one admin.refused
// row. A token of scope read that asks to delete a user whose name in the path holds a NUL
// (a%00b), a byte that is not UTF-8 (a%FFb) or 3 KB of random text, or a write token whose
// body is refused there, left no row on PostgreSQL (a NUL or a bad byte in text is
// SQLSTATE 22021, and 3 KB is past a btree entry of the audit's user index) and the raw
// bytes on SQLite. Each refusal is now one row on both, the name escaped and cut as the
// contract's refusals write theirs.
func TestRefusedAdminNamesAudited(t *testing.T) {
	// Random-looking text does not compress, as a repeated letter would under the index.
	var long strings.Builder
	for i := 0; long.Len() < 3000; i++ {
		long.WriteString(provider.NewID())
	}
	bad := []struct{ path, want string }{
		{"a%00b", `a\x00b`},
		{"a%FFb", `a\xffb`},
		{long.String(), long.String()[:provider.MaxUsernameBytes] + "…[truncated]"},
	}
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		h := newAdminHarnessOn(t, st)
		if code, out := h.admin(t, h.write, http.MethodPost, AdminPrefix+"/users", `{"name":"alice"}`); code != http.StatusCreated {
			t.Fatalf("create alice: %d %v", code, out)
		}
		for _, b := range bad {
			if code, out := h.admin(t, h.read, http.MethodDelete, AdminPrefix+"/users/"+b.path, ""); code != http.StatusForbidden {
				t.Errorf("read token, DELETE /users/%.20s: %d %v; want 403", b.path, code, out)
			}
			if code, out := h.admin(t, h.write, http.MethodPatch, AdminPrefix+"/users/"+b.path, `{"nope":1}`); code != http.StatusBadRequest {
				t.Errorf("write token, PATCH /users/%.20s with an unknown field: %d %v; want 400", b.path, code, out)
			}
			if code, out := h.admin(t, h.read, http.MethodDelete, AdminPrefix+"/users/alice/factors/"+b.path, ""); code != http.StatusForbidden {
				t.Errorf("read token, DELETE /users/alice/factors/%.20s: %d %v; want 403", b.path, code, out)
			}
		}
		evs, err := st.ListAudit(context.Background(), store.AuditFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		users, factors := map[string]int{}, map[string]int{}
		for _, e := range evs {
			if e.Resource != "admin.refused" {
				continue
			}
			users[e.Username]++
			factors[e.FactorID]++
		}
		for _, b := range bad {
			if users[b.want] != 2 {
				t.Errorf("admin.refused rows naming the user %.30q…: %d, want 2 (the 403 and the 400)", b.want, users[b.want])
			}
			want := b.want
			if len(want) > provider.MaxFactorIDBytes+len("…[truncated]") {
				want = b.path[:provider.MaxFactorIDBytes] + "…[truncated]"
			}
			if factors[want] != 1 {
				t.Errorf("admin.refused rows naming the factor %.30q…: %d, want 1", want, factors[want])
			}
		}
	})
}

// TestRefusedSCIMNameAudited: a SCIM create whose userName holds a NUL is refused
// 400 and audited (admin.users.create FAILED): on PostgreSQL its row was lost, on SQLite
// it held the raw NUL. It is now written escaped on both.
func TestRefusedSCIMNameAudited(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		h := newSyncHarnessOn(t, st)
		auth := []string{"Authorization", "Bearer " + testSCIMToken, "Content-Type", "application/scim+json"}
		if code, out, _ := h.do("POST", SCIMPrefix+"/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a\u0000b"}`, auth...); code != http.StatusBadRequest {
			t.Fatalf("SCIM create of a\\u0000b: %d %v; want 400", code, out)
		}
		evs, err := st.ListAudit(context.Background(), store.AuditFilter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].Resource != "admin.users.create" || evs[0].Outcome != "FAILED" || evs[0].Username != `a\x00b` {
			t.Errorf("audit rows %+v; want one admin.users.create FAILED naming a\\x00b", evs)
		}
	})
}

// TestRefusalReasonCut: an admin refusal's audit reason quotes what the caller
// sent (an e-mail address, masked but for its domain; a country), and was written whole: a
// write token's PATCH of 60 KB of e-mail domain left a 60 KB row per request, where the
// security model promises what a caller sent is cut to its limit before an audit row. The
// reason is now cut, with the marker, and still says what was refused.
func TestRefusalReasonCut(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		h := newAdminHarnessOn(t, st)
		if code, out := h.admin(t, h.write, http.MethodPost, AdminPrefix+"/users", `{"name":"alice"}`); code != http.StatusCreated {
			t.Fatalf("create alice: %d %v", code, out)
		}
		long := strings.Repeat("x", 60<<10)
		for _, body := range []string{`{"email":"a@` + long + `.example"}`, `{"country":"` + long + `"}`} {
			if code, out := h.admin(t, h.write, http.MethodPatch, AdminPrefix+"/users/alice", body); code != http.StatusBadRequest {
				t.Fatalf("PATCH %.20s…: %d %v; want 400", body, code, out)
			}
		}
		evs, err := st.ListAudit(context.Background(), store.AuditFilter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		refusals := 0
		for _, e := range evs {
			if e.Resource != "admin.users.update" || e.Outcome != "FAILED" {
				continue
			}
			refusals++
			if len(e.Reason) > 1024+len("…[truncated]") || !strings.HasSuffix(e.Reason, "…[truncated]") ||
				!strings.HasPrefix(e.Reason, "invalid_") {
				t.Errorf("reason of %d bytes, %.60q…; want it cut to 1 KiB with the marker, saying what was refused", len(e.Reason), e.Reason)
			}
		}
		if refusals != 2 {
			t.Errorf("%d admin.users.update FAILED rows, want 2", refusals)
		}
	})
}
