package store

import (
	"context"
	"time"
)

// OAuthClient is a client of emfa's own OAuth token endpoint (POST /oauth2/token),
// created with `emfa clients create`. The secret itself is never stored: SecretHash is
// its SHA-256, hex-encoded (it is 32 random bytes, so a slow hash would add nothing).
type OAuthClient struct {
	ID         string // the client_id Verify sends
	Name       string // unique, the operator's label
	SecretHash string
	CreatedAt  time.Time
	// RevokedAt is the zero time while the client may obtain tokens.
	RevokedAt time.Time
}

// OAuthClients keeps the token endpoint's clients. It is apart from Store so that a
// backend without it still serves every other authentication method; both SQL backends
// implement it.
type OAuthClients interface {
	// CreateOAuthClient stores a new client, and ev, the record of its creation, in the
	// same commit; ErrExists for a name or id in use (revoked ones included).
	CreateOAuthClient(ctx context.Context, c OAuthClient, ev AuditEvent) error
	// GetOAuthClient finds a client by id, revoked or not; ErrNotFound.
	GetOAuthClient(ctx context.Context, id string) (OAuthClient, error)
	ListOAuthClients(ctx context.Context) ([]OAuthClient, error) // by name
	// RevokeOAuthClient revokes the named client, and appends ev, the record of its
	// revocation, in the same commit; ErrNotFound, or ErrConflict when it is revoked
	// already.
	RevokeOAuthClient(ctx context.Context, name string, now time.Time, ev AuditEvent) error
}
