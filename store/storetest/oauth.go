package storetest

import (
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// testOAuthClients runs on every backend that keeps the token endpoint's clients.
func testOAuthClients(t *testing.T, s store.Store) {
	cs, ok := s.(store.OAuthClients)
	if !ok {
		t.Skip("the backend keeps no OAuth clients")
	}
	ctx := t.Context()
	a := store.OAuthClient{ID: "c1", Name: "verify", SecretHash: "h1", CreatedAt: at(0)}
	b := store.OAuthClient{ID: "c2", Name: "another", SecretHash: "h2", CreatedAt: at(time.Second)}
	for _, c := range []store.OAuthClient{a, b} {
		if err := cs.CreateOAuthClient(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "same name", cs.CreateOAuthClient(ctx, store.OAuthClient{ID: "c3", Name: "verify", SecretHash: "h3"}), store.ErrExists)
	wantErr(t, "same id", cs.CreateOAuthClient(ctx, store.OAuthClient{ID: "c1", Name: "x", SecretHash: "h4"}), store.ErrExists)
	got, err := cs.GetOAuthClient(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "client", a, got)
	_, err = cs.GetOAuthClient(ctx, "nope")
	wantErr(t, "unknown id", err, store.ErrNotFound)

	wantErr(t, "revoke", cs.RevokeOAuthClient(ctx, "verify", at(time.Minute)), nil)
	wantErr(t, "revoke again", cs.RevokeOAuthClient(ctx, "verify", at(time.Hour)), store.ErrConflict)
	wantErr(t, "revoke unknown", cs.RevokeOAuthClient(ctx, "nobody", at(time.Hour)), store.ErrNotFound)
	a.RevokedAt = at(time.Minute)
	list, err := cs.ListOAuthClients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "clients", []store.OAuthClient{b, a}, list)
}
