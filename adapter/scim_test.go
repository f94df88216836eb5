package adapter

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	gosync "sync"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

func (h *syncHarness) scim(method, path, body string, hdr ...string) (int, map[string]any, http.Header) {
	h.t.Helper()
	return h.do(method, SCIMPrefix+path, body, append([]string{"Authorization", "Bearer " + testSCIMToken,
		"Content-Type", "application/scim+json"}, hdr...)...)
}

// created POSTs body to path (/Users, /Groups) and returns the resource, failing the test
// unless it was created; its path, with its id, is "path/"+id.
func (h *syncHarness) created(path, body string) (map[string]any, string) {
	h.t.Helper()
	code, out, _ := h.scim("POST", path, body)
	if code != http.StatusCreated {
		h.t.Fatalf("create %s %s: %d %v", path, body, code, out)
	}
	return out, path + "/" + out["id"].(string)
}

// TestSCIMEntraShapedClient replays what Microsoft Entra ID sends (lifecycle.md §3).
func TestSCIMEntraShapedClient(t *testing.T) {
	h := newSyncHarness(t)
	if code, body, _ := h.do("GET", SCIMPrefix+"/Users", "", "Authorization", "Bearer nope"); code != 401 || body["status"] != "401" {
		t.Fatalf("bad token: %d %v", code, body)
	}
	// Entra looks the user up, finds none, creates it.
	code, list, _ := h.scim("GET", "/Users?filter="+url.QueryEscape(`userName eq "dana@example.com"`), "")
	if code != 200 || list["totalResults"].(float64) != 0 {
		t.Fatalf("empty filter: %d %v", code, list)
	}
	create := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	 "externalId":"e-1","userName":"dana@example.com","active":true,"displayName":"Dana",
	 "emails":[{"primary":true,"type":"work","value":"dana@example.com"}],
	 "phoneNumbers":[{"type":"mobile","value":"+1 (555) 010-0123"}],
	 "name":{"givenName":"Dana","familyName":"Scully"},"title":"Agent",
	 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"X"}}`
	code, u, hdr := h.scim("POST", "/Users", create)
	if code != 201 || u["userName"] != "dana@example.com" || u["externalId"] != "e-1" || hdr.Get("ETag") == "" {
		t.Fatalf("create: %d %v", code, u)
	}
	id := u["id"].(string)
	if code, _, _ := h.scim("POST", "/Users", create); code != 409 {
		t.Fatalf("second create: %d", code)
	}
	rec, _ := h.user("dana@example.com")
	if rec.Phone != "+15550100123" || rec.Email != "dana@example.com" {
		t.Fatalf("stored %+v", rec)
	}
	for _, f := range []string{`externalId eq "e-1"`, `userName eq "dana@example.com" and externalId eq "e-1"`} {
		code, list, _ := h.scim("GET", "/Users?filter="+url.QueryEscape(f), "")
		if code != 200 || list["totalResults"].(float64) != 1 {
			t.Fatalf("%s: %d %v", f, code, list)
		}
	}
	if code, e, _ := h.scim("GET", "/Users?filter="+url.QueryEscape(`userName co "d"`), ""); code != 400 || e["scimType"] != "invalidFilter" {
		t.Fatalf("unsupported filter: %d %v", code, e)
	}
	// Entra without aadOptscim062020: capitalised op, string boolean.
	code, u, _ = h.scim("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
	 "Operations":[{"op":"Replace","path":"active","value":"False"}]}`)
	if code != 200 || u["active"] != false {
		t.Fatalf("disable: %d %v", code, u)
	}
	// With it: one path-less replace, dotted keys, real booleans.
	code, u, hdr = h.scim("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
	 "Operations":[{"op":"replace","value":{"active":true,"name.givenName":"Danielle","displayName":"Danielle S",
	   "emails[type eq \"work\"].value":"danielle@example.com"}}]}`)
	if code != 200 || u["active"] != true || u["displayName"] != "Danielle S" {
		t.Fatalf("path-less replace: %d %v", code, u)
	}
	if rec, _ := h.user("dana@example.com"); rec.Email != "danielle@example.com" || rec.Attributes["scim.givenName"] != "Danielle" {
		t.Fatalf("stored %+v", rec)
	}
	etag := hdr.Get("ETag")
	if code, _, _ := h.scim("PATCH", "/Users/"+id, `{"Operations":[{"op":"add","path":"displayName","value":"x"}]}`, "If-Match", `W/"stale"`); code != 412 {
		t.Fatalf("stale If-Match: %d", code)
	}
	if code, _, _ := h.scim("PATCH", "/Users/"+id, `{"Operations":[{"op":"remove","path":"displayName"}]}`, "If-Match", etag); code != 200 {
		t.Fatalf("current If-Match: %d", code)
	}
	if code, e, _ := h.scim("PATCH", "/Users/"+id, `{"Operations":[{"op":"remove"}]}`); code != 400 || e["scimType"] != "noTarget" {
		t.Fatalf("remove without path: %d %v", code, e)
	}
	if code, e, _ := h.scim("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"userName","value":"other"}]}`); code != 400 || e["scimType"] != "mutability" {
		t.Fatalf("rename: %d %v", code, e)
	}
	if code, _, _ := h.scim("PATCH", "/Users/"+id, `{"Operations":[],"Operations":[]}`); code != 400 {
		t.Fatalf("duplicate keys: %d", code)
	}
	// Okta's PUT with the whole object.
	code, u, _ = h.scim("PUT", "/Users/"+id, `{"userName":"dana@example.com","active":false,"emails":[{"value":"d@example.com","primary":true}]}`)
	if code != 200 || u["active"] != false || u["displayName"] != nil {
		t.Fatalf("put: %d %v", code, u)
	}

	// Groups: create with a member, filter, remove by members[value eq], add back.
	code, g, _ := h.scim("POST", "/Groups", fmt.Sprintf(`{"displayName":"sms-allowed","externalId":"g-1","members":[{"value":%q}]}`, id))
	if code != 201 || len(g["members"].([]any)) != 1 {
		t.Fatalf("group create: %d %v", code, g)
	}
	gid := g["id"].(string)
	if rec, _ := h.user("dana@example.com"); len(rec.Groups) != 1 || rec.Groups[0] != "sms-allowed" {
		t.Fatalf("groups %+v", rec.Groups)
	}
	code, list, _ = h.scim("GET", "/Groups?excludedAttributes=members&filter="+url.QueryEscape(`displayName eq "sms-allowed"`), "")
	if code != 200 || list["totalResults"].(float64) != 1 {
		t.Fatalf("group filter: %d %v", code, list)
	}
	code, _, _ = h.scim("PATCH", "/Groups/"+gid, fmt.Sprintf(`{"Operations":[{"op":"Remove","path":"members[value eq \"%s\"]"}]}`, id))
	if rec, _ := h.user("dana@example.com"); code != 200 || len(rec.Groups) != 0 {
		t.Fatalf("member removal: %d %+v", code, rec.Groups)
	}
	code, _, _ = h.scim("PATCH", "/Groups/"+gid, fmt.Sprintf(`{"Operations":[{"op":"Add","path":"members","value":[{"value":%q}]},{"op":"Replace","path":"displayName","value":"sms-ok"}]}`, id))
	if rec, _ := h.user("dana@example.com"); code != 200 || len(rec.Groups) != 1 || rec.Groups[0] != "sms-ok" {
		t.Fatalf("member add + rename: %d %+v", code, rec.Groups)
	}
	if code, _, _ := h.scim("DELETE", "/Groups/"+gid, ""); code != 204 {
		t.Fatalf("group delete: %d", code)
	}
	if rec, _ := h.user("dana@example.com"); len(rec.Groups) != 0 {
		t.Fatalf("groups after delete %+v", rec.Groups)
	}

	if code, _, _ := h.scim("DELETE", "/Users/"+id, ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, e, _ := h.scim("GET", "/Users/"+id, ""); code != 404 || e["schemas"] == nil {
		t.Fatalf("after delete: %d %v", code, e)
	}
	for _, p := range []string{"/ServiceProviderConfig", "/ResourceTypes", "/Schemas"} {
		if code, _, _ := h.scim("GET", p, ""); code != 200 {
			t.Fatalf("%s: %d", p, code)
		}
	}
	// Paging.
	for i := range 5 {
		h.scim("POST", "/Users", fmt.Sprintf(`{"userName":"p%d"}`, i))
	}
	code, list, _ = h.scim("GET", "/Users?startIndex=2&count=2", "")
	if code != 200 || list["totalResults"].(float64) != 5 || list["itemsPerPage"].(float64) != 2 || list["startIndex"].(float64) != 2 {
		t.Fatalf("paging: %d %v", code, list)
	}
	h.drain() // applied already: only their propagation remains
	// 17: a write that changes the profile and active is one event (the path-less replace,
	// Okta's PUT), as it is one commit.
	if st, _ := h.q.Status(t.Context()); st.Counts["scim"]["done"] != 17 {
		t.Fatalf("scim events not queued for propagation: %+v", st)
	}
}

// TestSCIMUserNameIgnoresCase: userName is case-insensitive (RFC 7643 §4.1.1, and this
// server's /Schemas says caseExact false). A directory that created "Dana@Example.com"
// finds it by "dana@example.com", cannot create that name beside it, and may send it in
// another case on an update; the name stays as created.
func TestSCIMUserNameIgnoresCase(t *testing.T) {
	h := newSyncHarness(t)
	code, u, _ := h.scim("POST", "/Users", `{"userName":"Dana@Example.com","externalId":"e-1","active":true}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, u)
	}
	id := u["id"].(string)
	for _, name := range []string{"dana@example.com", "DANA@EXAMPLE.COM"} {
		code, list, _ := h.scim("GET", "/Users?filter="+url.QueryEscape(fmt.Sprintf(`userName eq %q`, name)), "")
		if code != 200 || list["totalResults"] != float64(1) {
			t.Fatalf("filter %s: %d %v", name, code, list)
		}
		if r := list["Resources"].([]any)[0].(map[string]any); r["id"] != id || r["userName"] != "Dana@Example.com" {
			t.Fatalf("filter %s found %v", name, r)
		}
		if code, e, _ := h.scim("POST", "/Users", fmt.Sprintf(`{"userName":%q}`, name)); code != 409 || e["scimType"] != "uniqueness" {
			t.Fatalf("create %s beside Dana@Example.com: %d %v", name, code, e)
		}
	}
	code, u, _ = h.scim("PUT", "/Users/"+id, `{"userName":"dana@example.com","active":true,"displayName":"Dana"}`)
	if code != 200 || u["userName"] != "Dana@Example.com" || u["displayName"] != "Dana" {
		t.Fatalf("put with the name in another case: %d %v", code, u)
	}
	code, u, _ = h.scim("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"userName","value":"DANA@example.com"}]}`)
	if code != 200 || u["userName"] != "Dana@Example.com" {
		t.Fatalf("patch with the name in another case: %d %v", code, u)
	}
	if code, e, _ := h.scim("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","path":"userName","value":"dana@example.org"}]}`); code != 400 || e["scimType"] != "mutability" {
		t.Fatalf("rename: %d %v", code, e)
	}
	// Only ASCII letters fold: the Kelvin sign is not K. A new name holding it is refused
	// for it (it is not in NFC, which writes it K), not taken for kate's.
	if code, _, _ := h.scim("POST", "/Users", `{"userName":"kate"}`); code != 201 {
		t.Fatalf("create kate: %d", code)
	}
	if code, u, _ := h.scim("POST", "/Users", `{"userName":"\u212Aate"}`); code != 400 || !strings.Contains(fmt.Sprint(u["detail"]), "U+212A is U+004B in NFC") {
		t.Fatalf("create with the Kelvin sign beside kate: %d %v, want 400 naming U+212A", code, u)
	}
	code, list, _ := h.scim("GET", "/Users?filter="+url.QueryEscape(`userName eq "KATE"`), "")
	if code != 200 || list["totalResults"] != float64(1) || list["Resources"].([]any)[0].(map[string]any)["userName"] != "kate" {
		t.Fatalf("filter KATE: %d %v", code, list)
	}
}

// A user a directory creates inactive is created disabled, in one commit: the trail has
// its creation and no later disable, so no moment existed when it was active.
func TestSCIMCreateInactive(t *testing.T) {
	h := newSyncHarness(t)
	code, u, _ := h.scim("POST", "/Users", `{"userName":"dee@example.com","active":false,"emails":[{"value":"dee@example.com","primary":true}]}`)
	if code != 201 || u["active"] != false {
		t.Fatalf("create inactive: %d %v", code, u)
	}
	if rec, ok := h.user("dee@example.com"); !ok || rec.State != lifecycle.StateDisabled {
		t.Fatalf("stored %+v", rec)
	}
	page, err := h.m.QueryAudit(context.Background(), lifecycle.AuditQuery{User: "dee@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 1 || page.Events[0].Action != "admin.users.create" || page.Events[0].Reason != "created disabled" || page.Events[0].Actor != "sync:scim" {
		t.Errorf("audit %+v, want one creation, disabled", page.Events)
	}
}

// TestSCIMConcurrentWritesLoseNothing: a SCIM PATCH says the user's whole profile, read
// before it is written; PATCHes of different attributes at once, and memberships added
// at once to one user, keep every one of them, across two replicas on one store.
func TestSCIMConcurrentWritesLoseNothing(t *testing.T) {
	st := testdb.SQLite(t)
	replicas := []*syncHarness{newSyncHarnessOn(t, st), newSyncHarnessOn(t, st)}
	h := replicas[0]
	code, u, _ := h.scim("POST", "/Users", `{"userName":"kim@example.com"}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, u)
	}
	id := u["id"].(string)
	// all sends the requests at once, each to a replica in turn, and answers their codes.
	all := func(method string, reqs [][2]string) map[string]int {
		var mu gosync.Mutex
		var wg gosync.WaitGroup
		codes := map[string]int{}
		for i, pb := range reqs {
			path, body, r := pb[0], pb[1], replicas[i%len(replicas)]
			wg.Go(func() {
				req := httptest.NewRequest(method, SCIMPrefix+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+testSCIMToken)
				req.Header.Set("Content-Type", "application/scim+json")
				rec := httptest.NewRecorder()
				r.h.ServeHTTP(rec, req)
				mu.Lock()
				codes[path+" "+body] = rec.Code
				mu.Unlock()
			})
		}
		wg.Wait()
		return codes
	}
	for round := range 3 {
		v := fmt.Sprint(round)
		var reqs [][2]string
		for _, op := range []string{`"path":"displayName","value":"Kim ` + v + `"`, `"path":"name.givenName","value":"K` + v + `"`,
			`"path":"name.familyName","value":"L` + v + `"`, `"path":"externalId","value":"x-` + v + `"`,
			`"path":"emails","value":[{"value":"kim` + v + `@example.com","primary":true}]`,
			`"path":"phoneNumbers","value":[{"value":"+1555010012` + v + `"}]`} {
			reqs = append(reqs, [2]string{"/Users/" + id, `{"Operations":[{"op":"replace",` + op + `}]}`})
		}
		for req, code := range all("PATCH", reqs) {
			if code != 200 {
				t.Fatalf("round %d: %s: %d", round, req, code)
			}
		}
		got, _ := h.user("kim@example.com")
		want := lifecycle.User{DisplayName: "Kim " + v, Email: "kim" + v + "@example.com", Phone: "+1555010012" + v}
		if got.DisplayName != want.DisplayName || got.Email != want.Email || got.Phone != want.Phone ||
			got.Attributes["scim.givenName"] != "K"+v || got.Attributes["scim.familyName"] != "L"+v || got.Attributes["scim.externalId"] != "x-"+v {
			t.Fatalf("round %d: after six PATCHes of six attributes at once: %+v", round, got)
		}
	}

	var groups [][2]string
	for g := range 8 {
		code, body, _ := h.scim("POST", "/Groups", fmt.Sprintf(`{"displayName":"g%d"}`, g))
		if code != 201 {
			t.Fatalf("group: %d %v", code, body)
		}
		groups = append(groups, [2]string{"/Groups/" + body["id"].(string), fmt.Sprintf(`{"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, id)})
	}
	for req, code := range all("PATCH", groups) {
		if code != 200 && code != 204 {
			t.Fatalf("%s: %d", req, code)
		}
	}
	if got, _ := h.user("kim@example.com"); len(got.Groups) != 8 {
		t.Fatalf("after eight memberships added at once: %v", got.Groups)
	}
}

// TestSCIMIfMatchOneWriterWins: writes sent at once, each conditional on the same
// version (If-Match), whatever they change (the profile, the state, or the user's
// existence): one applies, the others are answered 412, however they interleave
// between reading the user and writing it, on two replicas of one store.
func TestSCIMIfMatchOneWriterWins(t *testing.T) {
	st := testdb.SQLite(t)
	replicas := []*syncHarness{newSyncHarnessOn(t, st), newSyncHarnessOn(t, st)}
	h := replicas[0]
	for round := range 8 {
		code, u, hdr := h.scim("POST", "/Users", fmt.Sprintf(`{"userName":"lee%d@example.com"}`, round))
		if code != 201 {
			t.Fatalf("create: %d %v", code, u)
		}
		path, etag := "/Users/"+u["id"].(string), hdr.Get("ETag")
		reqs := [][2]string{
			{"PATCH", `{"Operations":[{"op":"replace","path":"displayName","value":"Lee"}]}`},
			{"PATCH", `{"Operations":[{"op":"replace","path":"active","value":false}]}`},
			{"PUT", fmt.Sprintf(`{"userName":"lee%d@example.com","active":true,"name":{"givenName":"L"}}`, round)},
			{"DELETE", ""},
		}
		codes := make([]int, len(reqs))
		var wg gosync.WaitGroup
		for i, mb := range reqs {
			r := replicas[i%len(replicas)]
			wg.Go(func() {
				req := httptest.NewRequest(mb[0], SCIMPrefix+path, strings.NewReader(mb[1]))
				req.Header.Set("Authorization", "Bearer "+testSCIMToken)
				req.Header.Set("Content-Type", "application/scim+json")
				req.Header.Set("If-Match", etag)
				rec := httptest.NewRecorder()
				r.h.ServeHTTP(rec, req)
				codes[i] = rec.Code
			})
		}
		wg.Wait()
		won := 0
		for i, code := range codes {
			switch code {
			case 200, 204:
				won++
			case 412, 404: // 404: the DELETE came first
			default:
				t.Fatalf("round %d: %s: %d", round, reqs[i][0], code)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d writes on one version applied (%v), want 1", round, won, codes)
		}
	}
	// One write that changes the profile and the state, on its version: both applied.
	_, u, hdr := h.scim("POST", "/Users", `{"userName":"max@example.com"}`)
	code, u, _ := h.scim("PATCH", "/Users/"+u["id"].(string), `{"Operations":[{"op":"replace","value":{"active":false,"displayName":"Max"}}]}`,
		"If-Match", hdr.Get("ETag"))
	if code != 200 || u["active"] != false || u["displayName"] != "Max" {
		t.Fatalf("PATCH of the profile and the state on the current version: %d %v", code, u)
	}
}

// TestSCIMGroupETags: a group's ETag works as a user's: If-None-Match of the current one
// is 304, a DELETE with a stale If-Match is 412 and deletes nothing.
func TestSCIMGroupETags(t *testing.T) {
	h := newSyncHarness(t)
	code, g, hdr := h.scim("POST", "/Groups", `{"displayName":"g1"}`)
	if code != 201 {
		t.Fatalf("create: %d", code)
	}
	path := "/Groups/" + g["id"].(string)
	if code, _, _ := h.scim("GET", path, "", "If-None-Match", hdr.Get("ETag")); code != 304 {
		t.Errorf("GET with If-None-Match of its ETag: %d, want 304", code)
	}
	if code, _, _ := h.scim("GET", path, "", "If-None-Match", `W/"other"`); code != 200 {
		t.Errorf("GET with If-None-Match of another ETag: %d, want 200", code)
	}
	if code, _, _ := h.scim("DELETE", path, "", "If-Match", `W/"stale"`); code != 412 {
		t.Errorf("DELETE with a stale If-Match: %d, want 412", code)
	}
	if code, _, _ := h.scim("GET", path, ""); code != 200 {
		t.Fatalf("the group after a refused DELETE: %d", code)
	}
	if code, _, _ := h.scim("DELETE", path, "", "If-Match", hdr.Get("ETag")); code != 204 {
		t.Errorf("DELETE with its ETag: %d, want 204", code)
	}
}

// TestSCIMOtherPhonesLeaveTheMobile: emfa keeps the mobile number codes go to. Entra maps
// the desk phone to phoneNumbers[type eq "work"]: setting or removing it must leave the
// mobile; a full resource with both keeps the mobile, even when the desk phone is primary.
func TestSCIMOtherPhonesLeaveTheMobile(t *testing.T) {
	h := newSyncHarness(t)
	_, u, _ := h.scim("POST", "/Users", `{"userName":"pat","phoneNumbers":[{"value":"+15550100123","type":"mobile","primary":true}]}`)
	id := u["id"].(string)
	phone := func() string {
		rec, _ := h.user("pat")
		return rec.Phone
	}
	for _, op := range []string{
		`{"op":"replace","path":"phoneNumbers[type eq \"work\"].value","value":"+15550199999"}`,
		`{"op":"add","path":"phoneNumbers[type eq \"work\"].value","value":"+15550199999"}`,
		`{"op":"Remove","path":"phoneNumbers[type eq \"work\"].value"}`,
		`{"op":"remove","path":"phoneNumbers[value eq \"+15550199999\"]"}`,
	} {
		if code, out, _ := h.scim("PATCH", "/Users/"+id, `{`+patchSchema+`,"Operations":[`+op+`]}`); code != 200 || phone() != "+15550100123" {
			t.Errorf("%s: %d, phone %q (%v)", op, code, phone(), out)
		}
	}
	put := `{"userName":"pat","phoneNumbers":[{"value":"+15550199999","type":"work","primary":true},{"value":"+15550100124","type":"mobile"}]}`
	if code, _, _ := h.scim("PUT", "/Users/"+id, put); code != 200 || phone() != "+15550100124" {
		t.Errorf("PUT with a primary desk phone and a mobile: %d, phone %q", code, phone())
	}
	if code, _, _ := h.scim("PATCH", "/Users/"+id, `{`+patchSchema+`,"Operations":[{"op":"remove","path":"phoneNumbers[type eq \"mobile\"]"}]}`); code != 200 || phone() != "" {
		t.Errorf("removing the mobile: %d, phone %q", code, phone())
	}
}

const patchSchema = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`

// TestSCIMCreateOneWins: POSTs of one userName sent at once, to two replicas of one store:
// one creates the user (201), the others are answered 409 uniqueness and change nothing,
// however they interleave between the existence check and the write.
func TestSCIMCreateOneWins(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		replicas := []*syncHarness{newSyncHarnessOn(t, st), newSyncHarnessOn(t, st)}
		for round := range 5 {
			name := fmt.Sprintf("race%d@example.com", round)
			const n = 6
			codes, names := make([]int, n), make([]string, n)
			var wg gosync.WaitGroup
			for i := range n {
				r := replicas[i%2]
				wg.Go(func() {
					body := fmt.Sprintf(`{"userName":%q,"displayName":"writer %d"}`, name, i)
					req := httptest.NewRequest("POST", SCIMPrefix+"/Users", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+testSCIMToken)
					req.Header.Set("Content-Type", "application/scim+json")
					rec := httptest.NewRecorder()
					r.h.ServeHTTP(rec, req)
					codes[i], names[i] = rec.Code, fmt.Sprintf("writer %d", i)
				})
			}
			wg.Wait()
			winner := ""
			for i, c := range codes {
				switch c {
				case 201:
					if winner != "" {
						t.Fatalf("round %d: two 201s: %v", round, codes)
					}
					winner = names[i]
				case 409:
				default:
					t.Fatalf("round %d: %v, want one 201 and 409s", round, codes)
				}
			}
			if u, _ := replicas[0].user(name); winner == "" || u.DisplayName != winner {
				t.Fatalf("round %d: %v; the user's displayName is %q, the 201 was %q's", round, codes, u.DisplayName, winner)
			}
		}
	})
}

// TestSCIMGroupCreateOneWins: POSTs of one group displayName at once, to two replicas:
// one creates it (201), the others are answered 409 uniqueness and change nothing.
func TestSCIMGroupCreateOneWins(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		replicas := []*syncHarness{newSyncHarnessOn(t, st), newSyncHarnessOn(t, st)}
		for round := range 5 {
			const n = 6
			codes := make([]int, n)
			var wg gosync.WaitGroup
			for i := range n {
				r := replicas[i%2]
				wg.Go(func() {
					body := fmt.Sprintf(`{"displayName":"grp%d","externalId":"ext-%d"}`, round, i)
					req := httptest.NewRequest("POST", SCIMPrefix+"/Groups", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+testSCIMToken)
					req.Header.Set("Content-Type", "application/scim+json")
					rec := httptest.NewRecorder()
					r.h.ServeHTTP(rec, req)
					codes[i] = rec.Code
				})
			}
			wg.Wait()
			created := 0
			for _, c := range codes {
				switch c {
				case 201:
					created++
				case 409:
				default:
					t.Fatalf("round %d: %v, want one 201 and 409s", round, codes)
				}
			}
			if created != 1 {
				t.Fatalf("round %d: %v, want one 201", round, codes)
			}
		}
	})
}

// TestSCIMFilterEmailsOfAType: Entra ID may match users on their work e-mail,
// `emails[type eq "work"].value eq "…"` (lifecycle.md §3). emfa's one address is shown
// as type work: it matches that, not another type.
func TestSCIMFilterEmailsOfAType(t *testing.T) {
	h := newSyncHarness(t)
	h.scim("POST", "/Users", `{"userName":"dana","emails":[{"value":"dana@example.com","type":"work","primary":true}]}`)
	h.scim("POST", "/Users", `{"userName":"eli","emails":[{"value":"eli@example.com","type":"work","primary":true}]}`)
	for f, want := range map[string]float64{
		`emails[type eq "work"].value eq "DANA@example.com"`:                    1,
		`emails[TYPE EQ "work"].value eq "dana@example.com" and active eq true`: 1,
		`emails[type eq "home"].value eq "dana@example.com"`:                    0,
		`emails[type eq "work"].value eq "nobody@example.com"`:                  0,
	} {
		code, list, _ := h.scim("GET", "/Users?filter="+url.QueryEscape(f), "")
		if code != 200 || list["totalResults"] != want {
			t.Errorf("%s: %d %v, want %v result(s)", f, code, list["totalResults"], want)
		}
	}
	for _, path := range []string{
		"/Users?filter=" + url.QueryEscape(`phoneNumbers[type eq "work"].value eq "+15550100123"`),
		"/Groups?filter=" + url.QueryEscape(`displayName[type eq "x"] eq "g"`),
	} {
		h.scim("POST", "/Groups", `{"displayName":"g"}`)
		if code, out, _ := h.scim("GET", path, ""); code != 400 || out["scimType"] != "invalidFilter" {
			t.Errorf("%s: %d %v, want 400 invalidFilter", path, code, out)
		}
	}
}

// TestSCIMResendAfterALostAnswer: a conditional PATCH applied, its answer lost, and sent
// again with the same If-Match: the user has its change already, so it is answered as
// done (RFC 9110 §13.1.1), not 412. A different change on that version is still 412.
func TestSCIMResendAfterALostAnswer(t *testing.T) {
	h := newSyncHarness(t)
	_, u, hdr := h.scim("POST", "/Users", `{"userName":"res"}`)
	id, etag := u["id"].(string), hdr.Get("ETag")
	body := `{` + patchSchema + `,"Operations":[{"op":"replace","path":"active","value":false}]}`
	if code, _, _ := h.scim("PATCH", "/Users/"+id, body, "If-Match", etag); code != 200 {
		t.Fatalf("first: %d", code)
	}
	if code, out, _ := h.scim("PATCH", "/Users/"+id, body, "If-Match", etag); code != 200 || out["active"] != false {
		t.Errorf("the same PATCH sent again: %d %v, want 200", code, out)
	}
	other := `{` + patchSchema + `,"Operations":[{"op":"replace","path":"displayName","value":"R"}]}`
	if code, _, _ := h.scim("PATCH", "/Users/"+id, other, "If-Match", etag); code != 412 {
		t.Errorf("another change on the old version: %d, want 412", code)
	}
}

// TestSCIMGroupIfMatchOneWriterWins: PATCHes, PUTs and a DELETE of one group sent at once, each on
// the version it read (If-Match), to two replicas of one store: one applies, the others
// are answered 412 and change nothing, however they interleave between reading the
// group and writing it (RFC 7644 §3.14).
func TestSCIMGroupIfMatchOneWriterWins(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		replicas := []*syncHarness{newSyncHarnessOn(t, st), newSyncHarnessOn(t, st)}
		h := replicas[0]
		_, u, _ := h.scim("POST", "/Users", `{"userName":"gil@example.com"}`)
		uid := u["id"].(string)
		for round := range 6 {
			code, g, hdr := h.scim("POST", "/Groups", fmt.Sprintf(`{"displayName":"team%d"}`, round))
			if code != 201 {
				t.Fatalf("create: %d %v", code, g)
			}
			path, etag := "/Groups/"+g["id"].(string), hdr.Get("ETag")
			reqs := [][2]string{
				{"PATCH", fmt.Sprintf(`{"Operations":[{"op":"replace","path":"displayName","value":"team%d-a"}]}`, round)},
				{"PATCH", `{"Operations":[{"op":"replace","path":"externalId","value":"ext-b"}]}`},
				{"PATCH", fmt.Sprintf(`{"Operations":[{"op":"add","path":"members","value":[{"value":%q}]}]}`, uid)},
				{"PUT", fmt.Sprintf(`{"displayName":"team%d-d","externalId":"ext-d"}`, round)},
				{"PATCH", fmt.Sprintf(`{"Operations":[{"op":"replace","path":"displayName","value":"team%d-e"}]}`, round)},
				{"PATCH", `{"Operations":[{"op":"replace","path":"externalId","value":"ext-f"}]}`},
				{"DELETE", ""},
			}
			codes := make([]int, len(reqs))
			var wg gosync.WaitGroup
			for i, mb := range reqs {
				r := replicas[i%len(replicas)]
				wg.Go(func() {
					req := httptest.NewRequest(mb[0], SCIMPrefix+path, strings.NewReader(mb[1]))
					req.Header.Set("Authorization", "Bearer "+testSCIMToken)
					req.Header.Set("Content-Type", "application/scim+json")
					req.Header.Set("If-Match", etag)
					rec := httptest.NewRecorder()
					r.h.ServeHTTP(rec, req)
					codes[i] = rec.Code
				})
			}
			wg.Wait()
			won := -1
			for i, code := range codes {
				switch {
				case (code == 200 || code == 204) && won >= 0:
					t.Fatalf("round %d: more than one write on one version applied (%v), want 1", round, codes)
				case code == 200 || code == 204:
					won = i
				case code != 412 && code != 404: // 404: the DELETE came first
					t.Fatalf("round %d: %s: %d", round, reqs[i][0], code)
				}
			}
			if won < 0 {
				t.Fatalf("round %d: no write applied (%v)", round, codes)
			}
			// The group is what the winner made of it, nothing of the others.
			code, got, _ := h.scim("GET", path, "")
			if won == 6 {
				if u, _ := h.user("gil@example.com"); code != 404 || slices.Contains(u.Groups, fmt.Sprintf("team%d", round)) {
					t.Fatalf("round %d: the DELETE won, the group is %d %v, the user in %v", round, code, got, u.Groups)
				}
				continue
			}
			name, ext, members := got["displayName"], got["externalId"], got["members"]
			wantName, wantExt, wantMembers := fmt.Sprintf("team%d", round), any(nil), false
			switch won {
			case 0:
				wantName = fmt.Sprintf("team%d-a", round)
			case 1:
				wantExt = "ext-b"
			case 2:
				wantMembers = true
			case 3:
				wantName, wantExt = fmt.Sprintf("team%d-d", round), "ext-d"
			case 4:
				wantName = fmt.Sprintf("team%d-e", round)
			case 5:
				wantExt = "ext-f"
			}
			if name != wantName || ext != wantExt || (members != nil) != wantMembers {
				t.Fatalf("round %d: writer %d won, the group is %v", round, won, got)
			}
		}
	})
}

// TestSCIMGroupPatchAllOrNothing: a PATCH refused part-way (a member it adds is at its
// limit of groups) changes nothing, neither the rename before that operation nor the
// member added with it (RFC 7644 §3.5.2).
func TestSCIMGroupPatchAllOrNothing(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		h := newSyncHarnessOn(t, st)
		full, free := fullAndFree(t, h)
		code, g, hdr := h.scim("POST", "/Groups", `{"displayName":"team"}`)
		if code != 201 {
			t.Fatalf("create: %d %v", code, g)
		}
		path := "/Groups/" + g["id"].(string)
		for _, req := range []struct {
			method, body string
		}{
			{"PATCH", fmt.Sprintf(`{"Operations":[{"op":"replace","path":"displayName","value":"renamed"},
				{"op":"replace","path":"externalId","value":"ext"},
				{"op":"add","path":"members","value":[{"value":%q},{"value":%q}]}]}`, free["id"], full["id"])},
			{"PATCH", fmt.Sprintf(`{"Operations":[{"op":"add","path":"members","value":[{"value":%q}]},
				{"op":"replace","value":{"displayName":"renamed"}},
				{"op":"add","path":"members","value":[{"value":%q}]}]}`, free["id"], full["id"])},
			{"PUT", fmt.Sprintf(`{"displayName":"renamed","externalId":"ext","members":[{"value":%q},{"value":%q}]}`, free["id"], full["id"])},
		} {
			code, out, _ := h.scim(req.method, path, req.body, "If-Match", hdr.Get("ETag"))
			if code < 400 || code >= 500 {
				t.Errorf("%s adding a member at its limit: %d %v, want 4xx", req.method, code, out)
			}
			_, got, ghdr := h.scim("GET", path, "")
			if got["displayName"] != "team" || got["externalId"] != nil || got["members"] != nil || ghdr.Get("ETag") != hdr.Get("ETag") {
				t.Errorf("%s refused part-way left the group %v (ETag %s, was %s)", req.method, got, ghdr.Get("ETag"), hdr.Get("ETag"))
			}
			if u, _ := h.user("free@example.com"); len(u.Groups) != 0 {
				t.Errorf("%s refused part-way added the other member: %v", req.method, u.Groups)
			}
		}
		// The same without the member at its limit applies, all of it.
		code, out, _ := h.scim("PATCH", path, fmt.Sprintf(`{"Operations":[{"op":"replace","path":"displayName","value":"renamed"},
			{"op":"add","path":"members","value":[{"value":%q}]}]}`, free["id"]), "If-Match", hdr.Get("ETag"))
		if code != 200 || out["displayName"] != "renamed" {
			t.Fatalf("the PATCH without the member at its limit: %d %v", code, out)
		}
		if u, _ := h.user("free@example.com"); len(u.Groups) != 1 || u.Groups[0] != "renamed" {
			t.Errorf("the member added: %v", u.Groups)
		}
	})
}

// fullAndFree makes two SCIM users: full@example.com, already in the 100 groups a user
// may hold, and free@example.com, in none.
func fullAndFree(t *testing.T, h *syncHarness) (full, free map[string]any) {
	t.Helper()
	_, full, _ = h.scim("POST", "/Users", `{"userName":"full@example.com"}`)
	_, free, _ = h.scim("POST", "/Users", `{"userName":"free@example.com"}`)
	groups := make([]string, 100)
	for i := range groups {
		groups[i] = fmt.Sprintf("other%03d", i)
	}
	if _, err := h.m.UpdateUser(t.Context(), "test", "full@example.com", lifecycle.UserInput{Groups: &groups}); err != nil {
		t.Fatal(err)
	}
	return full, free
}
