package adapter

import (
	"fmt"
	"net/http/httptest"
	"strings"
	gosync "sync"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// TestSCIMContendedWritesWithoutIfMatch: Entra ID and Okta send one-member PATCHes of a
// group in parallel, and PATCHes of one user, without If-Match. None is answered 412 (a
// precondition never sent): each is made again on the resource as it is now, until it
// applies, on two replicas of one store.
func TestSCIMContendedWritesWithoutIfMatch(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		replicas := []*syncHarness{newSyncHarnessOn(t, st), newSyncHarnessOn(t, st)}
		h := replicas[0]
		const n = 20
		ids := make([]string, n)
		for i := range n {
			code, u, _ := h.scim("POST", "/Users", fmt.Sprintf(`{"userName":"m%02d"}`, i))
			if code != 201 {
				t.Fatalf("create: %d %v", code, u)
			}
			ids[i] = u["id"].(string)
		}
		code, g, _ := h.scim("POST", "/Groups", `{"displayName":"busy"}`)
		if code != 201 {
			t.Fatalf("group: %d %v", code, g)
		}
		gpath := "/Groups/" + g["id"].(string)
		at := func(path string, body func(i int) string) []int {
			codes := make([]int, n)
			var wg gosync.WaitGroup
			for i := range n {
				r := replicas[i%len(replicas)]
				wg.Go(func() {
					req := httptest.NewRequest("PATCH", SCIMPrefix+path, strings.NewReader(body(i)))
					req.Header.Set("Authorization", "Bearer "+testSCIMToken)
					req.Header.Set("Content-Type", "application/scim+json")
					rec := httptest.NewRecorder()
					r.h.ServeHTTP(rec, req)
					codes[i] = rec.Code
				})
			}
			wg.Wait()
			return codes
		}
		codes := at(gpath, func(i int) string {
			return fmt.Sprintf(`{`+patchSchema+`,"Operations":[{"op":"Add","path":"members","value":[{"value":%q}]}]}`, ids[i])
		})
		for i, c := range codes {
			if c != 200 {
				t.Errorf("member add %d: %d, want 200 (all: %v)", i, c, codes)
				break
			}
		}
		if got := membersOf(t, h, gpath); len(got) != n {
			t.Errorf("after %d member adds at once the group holds %d: %v", n, len(got), got)
		}
		codes = at("/Users/"+ids[0], func(i int) string {
			return fmt.Sprintf(`{`+patchSchema+`,"Operations":[{"op":"Replace","path":"displayName","value":"writer %d"}]}`, i)
		})
		for i, c := range codes {
			if c != 200 {
				t.Errorf("displayName %d: %d, want 200 (all: %v)", i, c, codes)
				break
			}
		}
	})
}
