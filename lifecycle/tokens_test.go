package lifecycle_test

import (
	"context"
	"errors"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestScopeAllows: each scope includes the narrower ones and no wider one; an unknown
// scope (a row written by hand, a typo) allows nothing and is allowed by nothing.
func TestScopeAllows(t *testing.T) {
	for _, tc := range []struct {
		have, need string
		want       bool
	}{
		{"read", "read", true},
		{"read", "helpdesk", false},
		{"read", "write", false},
		{"helpdesk", "read", true},
		{"helpdesk", "helpdesk", true},
		{"helpdesk", "write", false},
		{"write", "read", true},
		{"write", "helpdesk", true},
		{"write", "write", true},
		{"admin", "read", false},
		{"", "read", false},
		{"write", "admin", false},
		{"Write", "read", false},
	} {
		if got := lifecycle.ScopeAllows(tc.have, tc.need); got != tc.want {
			t.Errorf("ScopeAllows(%q, %q) = %v, want %v", tc.have, tc.need, got, tc.want)
		}
	}
}

// TestCreateTokenScopes: a helpdesk token is issued and authenticates with its scope; an
// unknown scope is refused naming the scopes there are, and nothing is issued.
func TestCreateTokenScopes(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		tok, err := m.CreateToken(ctx, "test", "desk", lifecycle.ScopeHelpdesk)
		if err != nil {
			t.Fatal(err)
		}
		if name, scope, err := m.Authenticate(ctx, tok); err != nil || name != "desk" || scope != "helpdesk" {
			t.Errorf("Authenticate: %q %q %v, want desk helpdesk", name, scope, err)
		}
		_, err = m.CreateToken(ctx, "test", "root", "admin")
		var le *lifecycle.Error
		if !errors.As(err, &le) || le.Field != "scope" || le.Msg != `must be read, helpdesk or write, not "admin"` {
			t.Errorf("a token of scope admin: %v", err)
		}
		ts, err := m.ListTokens(ctx)
		if err != nil || len(ts) != 1 || ts[0].Scope != "helpdesk" {
			t.Errorf("tokens: %+v %v, want only desk", ts, err)
		}
	})
}
