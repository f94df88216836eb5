package adapter

import (
	"fmt"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// TestSCIMGroupPostAllOrNothing: a POST refused (a member at its limit of groups) creates
// nothing, so that the directory's retry, once the member is fixed, is not a 409.
func TestSCIMGroupPostAllOrNothing(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		h := newSyncHarnessOn(t, st)
		full, free := fullAndFree(t, h)
		body := fmt.Sprintf(`{"displayName":"team","externalId":"ext","members":[{"value":%q},{"value":%q}]}`, free["id"], full["id"])
		code, out, _ := h.scim("POST", "/Groups", body)
		if code < 400 || code >= 500 {
			t.Fatalf("POST with a member at its limit: %d %v, want 4xx", code, out)
		}
		_, list, _ := h.scim("GET", `/Groups?filter=displayName%20eq%20%22team%22`, "")
		u, _ := h.user("free@example.com")
		if list["totalResults"] != float64(0) || len(u.Groups) != 0 {
			t.Errorf("a refused POST left the group %v, the other member in %v", list["Resources"], u.Groups)
		}
	})
}
