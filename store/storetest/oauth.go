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
	record := func(action, id string) store.AuditEvent { return credentialRecord("clients", action, id) }
	a := store.OAuthClient{ID: "c1", Name: "verify", SecretHash: "h1", CreatedAt: at(0)}
	b := store.OAuthClient{ID: "c2", Name: "another", SecretHash: "h2", CreatedAt: at(time.Second)}
	for _, c := range []store.OAuthClient{a, b} {
		if err := cs.CreateOAuthClient(ctx, c, record("create", c.ID)); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, "same name", cs.CreateOAuthClient(ctx, store.OAuthClient{ID: "c3", Name: "verify", SecretHash: "h3"}, record("create", "c3")), store.ErrExists)
	wantErr(t, "same id", cs.CreateOAuthClient(ctx, store.OAuthClient{ID: "c1", Name: "x", SecretHash: "h4"}, record("create", "c1")), store.ErrExists)
	got, err := cs.GetOAuthClient(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "client", a, got)
	_, err = cs.GetOAuthClient(ctx, "nope")
	wantErr(t, "unknown id", err, store.ErrNotFound)

	wantErr(t, "revoke", cs.RevokeOAuthClient(ctx, "verify", at(time.Minute), record("revoke", "c1")), nil)
	wantErr(t, "revoke again", cs.RevokeOAuthClient(ctx, "verify", at(time.Hour), record("revoke", "c1")), store.ErrConflict)
	wantErr(t, "revoke unknown", cs.RevokeOAuthClient(ctx, "nobody", at(time.Hour), record("revoke", "nobody")), store.ErrNotFound)
	a.RevokedAt = at(time.Minute)
	list, err := cs.ListOAuthClients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "clients", []store.OAuthClient{b, a}, list)
	wantRecords(t, s, map[string][]string{"c1": {"admin.clients.create", "admin.clients.revoke"},
		"c2": {"admin.clients.create"}, "c3": nil, "nobody": nil})
}
