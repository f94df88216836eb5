package adapter

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// panickyStore panics in GetAdminToken while panics is set: a bug under any admin
// operation that takes a token.
type panickyStore struct {
	store.Store
	panics atomic.Bool
}

func (s *panickyStore) GetAdminToken(ctx context.Context, hash string) (store.AdminToken, error) {
	if s.panics.Load() {
		panic("review c60: a bug")
	}
	return s.Store.GetAdminToken(ctx, hash)
}

// TestInternalErrorDocumented: a bug (a panic) under any admin operation is
// answered 500 internal_error in the API's error shape (README: Errors), which the
// document must list for each, as it lists 503: a client generated from it then reads
// the answer's code and message rather than failing on a status it was never told of.
func TestInternalErrorDocumented(t *testing.T) {
	st := &panickyStore{Store: testdb.SQLite(t)}
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	engine, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Capabilities: []string{"totp"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := lifecycle.New(lifecycle.Options{Store: st, Engines: []*builtin.Engine{engine}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := m.CreateToken(context.Background(), "cli", "idm", lifecycle.ScopeWrite)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(o *Options) { o.Admin = m })
	st.panics.Store(true)
	doc, err := routerDoc()
	if err != nil {
		t.Fatal(err)
	}
	path := strings.NewReplacer("{user}", "alice", "{factor}", "f1", "{provider}", "acme", "{capability}", "totp")
	n := 0
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for p := range doc {
			if !yield(p) {
				return
			}
		}
	}) {
		if p == "/openapi.json" {
			continue // takes no token: nothing under it reads the store
		}
		for _, method := range doc[p] {
			// h.do checks that the answer's status is one the document lists.
			code, text, _ := h.do(t, method, AdminPrefix+path.Replace(p), "{}", "Authorization", "Bearer "+tok)
			if code != http.StatusInternalServerError || !strings.Contains(text, `"code":"internal_error"`) {
				t.Errorf("%s %s: %d %s, want 500 internal_error", method, p, code, text)
			}
			n++
		}
	}
	if n < 25 {
		t.Fatalf("only %d operations sent", n)
	}
}
