package adapter

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestBodyTooLargeEveryOperation: a body over the limit is refused 413 by
// limitBody, before routing, on every operation, reads and the document itself included
// (a proxy or a client library may send a body with a GET): the document must list 413
// for each, or a client generated from it has no branch for that answer.
func TestBodyTooLargeEveryOperation(t *testing.T) {
	h := newAdminHarness(t)
	if code, out := h.admin(t, h.write, "POST", AdminPrefix+"/users", `{"name":"alice"}`); code != http.StatusCreated {
		t.Fatalf("create alice: %d %v", code, out)
	}
	doc, err := routerDoc()
	if err != nil {
		t.Fatal(err)
	}
	big := `{"a":"` + strings.Repeat("x", 70<<10) + `"}`
	path := strings.NewReplacer("{user}", "alice", "{factor}", "f1", "{provider}", "acme", "{capability}", "totp")
	n := 0
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for p := range doc {
			if !yield(p) {
				return
			}
		}
	}) {
		if p == "/import" {
			continue // its limit is 32 MiB (importMaxBody), its 413 listed and tested apart
		}
		for _, m := range doc[p] {
			for _, token := range []string{h.write, ""} {
				// h.admin checks that the answer's status is one the document lists.
				code, out := h.admin(t, token, m, AdminPrefix+path.Replace(p), big)
				if code != http.StatusRequestEntityTooLarge {
					t.Errorf("%s %s with a %d-byte body: %d %v, want 413", m, p, len(big), code, out)
				}
				n++
			}
		}
	}
	if n < 40 {
		t.Fatalf("only %d requests sent", n)
	}
}
