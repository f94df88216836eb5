package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"time"

	"github.com/emfa/emfa/store"
)

// Client is a client of emfa's own OAuth token endpoint as listed: never its secret.
type Client struct {
	ID      string
	Name    string
	Created time.Time
	Revoked *time.Time
}

// clients is the store's keeping of OAuth clients, or a refusal for a store without it.
func (m *Manager) clients() (store.OAuthClients, error) {
	cs, ok := m.store.(store.OAuthClients)
	if !ok {
		return nil, errors.New("this store keeps no OAuth clients")
	}
	return cs, nil
}

// CreateClient makes a client of the token endpoint (server.auth.oauth) and returns it
// with its secret, which is shown once: the store keeps its SHA-256. Its name follows a
// token's rules.
func (m *Manager) CreateClient(ctx context.Context, actor Actor, name string) (Client, string, error) {
	if !tokenName.MatchString(name) {
		return Client{}, "", invalid("invalid_field", "name", "1 to 64 letters, digits, '_', '.', '-'")
	}
	cs, err := m.clients()
	if err != nil {
		return Client{}, "", err
	}
	secret := randomText(32)
	now := m.now()
	c := store.OAuthClient{ID: "emfa-" + randomText(12), Name: name, SecretHash: HashToken(secret), CreatedAt: now}
	// The client and the record of its creation are one commit: no credential without it.
	err = cs.CreateOAuthClient(ctx, c, requested(ctx, AdminEvent(now, actor, ActionClientsCreate, "", "", "SUCCESS", name+" "+c.ID)))
	if errors.Is(err, store.ErrExists) {
		return Client{}, "", conflict("client_exists", "name", "a client named %q exists already (revoked ones keep their name)", name)
	}
	if err != nil {
		return Client{}, "", err
	}
	return Client{ID: c.ID, Name: name, Created: c.CreatedAt}, secret, nil
}

// ListClients lists every client, revoked ones included, by name.
func (m *Manager) ListClients(ctx context.Context) ([]Client, error) {
	cs, err := m.clients()
	if err != nil {
		return nil, err
	}
	list, err := cs.ListOAuthClients(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Client, len(list))
	for i, c := range list {
		out[i] = Client{ID: c.ID, Name: c.Name, Created: c.CreatedAt, Revoked: timeOrNil(c.RevokedAt)}
	}
	return out, nil
}

// RevokeClient revokes a client: it obtains no more tokens, and those it holds lapse
// within their lifetime.
func (m *Manager) RevokeClient(ctx context.Context, actor Actor, name string) error {
	cs, err := m.clients()
	if err != nil {
		return err
	}
	now := m.now()
	err = cs.RevokeOAuthClient(ctx, name, now, requested(ctx, AdminEvent(now, actor, ActionClientsRevoke, "", "", "SUCCESS", name)))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("not_found", "name", "no client named %q", name)
	case errors.Is(err, store.ErrConflict):
		return conflict("already_revoked", "name", "client %q is revoked already", name)
	}
	return err
}

// randomText is n random bytes, base64url without padding.
func randomText(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never returns an error (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
