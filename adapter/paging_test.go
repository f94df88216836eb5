package adapter

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestUserPagesWhileChanging: GET /users pages by name; users deleted and
// created while a caller pages (the last one it saw among them, others before and
// after its place) make it see every user that was there throughout exactly once, in
// order, and none created before that place.
func TestUserPagesWhileChanging(t *testing.T) {
	h := newAdminHarness(t)
	for i := range 20 {
		if code, out := h.strictAdmin(t, "POST", "/users", fmt.Sprintf(`{"name":"u%02d"}`, i)); code != 201 {
			t.Fatalf("create: %d %v", code, out)
		}
	}
	var seen []string
	cursor, round := "", 0
	for {
		path := "/users?limit=3"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		code, out := h.strictAdmin(t, "GET", path, "")
		if code != 200 {
			t.Fatalf("page: %d %v", code, out)
		}
		users, _ := out["users"].([]any)
		for _, u := range users {
			seen = append(seen, u.(map[string]any)["name"].(string))
		}
		next, _ := out["next"].(string)
		if next == "" {
			break
		}
		cursor = next
		// Between pages: delete the last user seen (every other page), create one before the place reached
		// (not to be seen) and one after it (to be seen), in a case the order ignores.
		round++
		if last := seen[len(seen)-1]; round%2 == 1 {
			if code, out := h.strictAdmin(t, "DELETE", "/users/"+last, ""); code != 204 {
				t.Fatalf("delete %s: %d %v", last, code, out)
			}
		}
		for _, name := range []string{fmt.Sprintf("A%02d", round), fmt.Sprintf("U%02dz", len(seen)+3)} {
			if code, out := h.strictAdmin(t, "POST", "/users", `{"name":"`+name+`"}`); code != 201 {
				t.Fatalf("create %s: %d %v", name, code, out)
			}
		}
		if round > 50 {
			t.Fatal("paging does not end")
		}
	}
	for i := range 20 {
		name := fmt.Sprintf("u%02d", i)
		if n := count(seen, name); n != 1 {
			t.Errorf("%s seen %d times in %v", name, n, seen)
		}
	}
	for _, name := range seen {
		if n := count(seen, name); n != 1 {
			t.Errorf("%s seen %d times in %v", name, n, seen)
		}
	}
	if !slices.IsSortedFunc(seen, func(a, b string) int { return strings.Compare(store.FoldName(a), store.FoldName(b)) }) {
		t.Errorf("pages out of order: %v", seen)
	}
	for _, name := range seen {
		if name[0] == 'A' {
			t.Errorf("%s, created before the place reached, was seen: %v", name, seen)
		}
	}
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// TestAuditPagesEqualTimes: GET /audit pages newest first by time, and many
// events share a millisecond (here all of them: the clock stands still); a page cut
// between two of them, and events recorded while a caller pages, lose and repeat none
// of those there when it started.
func TestAuditPagesEqualTimes(t *testing.T) {
	st := testdb.SQLite(t)
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	m, err := lifecycle.New(lifecycle.Options{Store: st, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := m.CreateToken(context.Background(), "cli", "idm", lifecycle.ScopeWrite)
	if err != nil {
		t.Fatal(err)
	}
	h := &adminHarness{store: st, manager: m, write: tok}
	h.harness = newHarness(t, func(o *Options) { o.Admin = m })
	for i := range 9 {
		if code, out := h.strictAdmin(t, "POST", "/users", fmt.Sprintf(`{"name":"u%d"}`, i)); code != 201 {
			t.Fatalf("create: %d %v", code, out)
		}
	}
	var seen []string
	cursor := ""
	for round := 0; ; round++ {
		path := "/audit?action=admin.users.create&limit=2"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		code, out := h.strictAdmin(t, "GET", path, "")
		if code != 200 {
			t.Fatalf("page: %d %v", code, out)
		}
		events, _ := out["events"].([]any)
		for _, e := range events {
			seen = append(seen, e.(map[string]any)["user"].(string))
		}
		next, _ := out["next"].(string)
		if next == "" {
			break
		}
		cursor = next
		if code, out := h.strictAdmin(t, "POST", "/users", fmt.Sprintf(`{"name":"new%d"}`, round)); code != 201 {
			t.Fatalf("create: %d %v", code, out)
		}
		if round > 20 {
			t.Fatal("paging does not end")
		}
	}
	want := []string{"u8", "u7", "u6", "u5", "u4", "u3", "u2", "u1", "u0"}
	if !slices.Equal(seen, want) {
		t.Errorf("events seen %v, want %v", seen, want)
	}
}
