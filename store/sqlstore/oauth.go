package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/emfa/emfa/store"
)

var _ store.OAuthClients = (*Store)(nil)

const oauthClientCols = `id, name, secret_hash, created_at, revoked_at`

func scanOAuthClient(sc scanner) (store.OAuthClient, error) {
	var c store.OAuthClient
	var created, revoked int64
	if err := sc.Scan(&c.ID, &c.Name, &c.SecretHash, &created, &revoked); err != nil {
		return store.OAuthClient{}, err
	}
	c.CreatedAt, c.RevokedAt = fromMillis(created), fromMillis(revoked)
	return c, nil
}

func (s *Store) CreateOAuthClient(ctx context.Context, c store.OAuthClient, ev store.AuditEvent) error {
	return s.createRecorded(ctx, fmt.Sprintf("oauth client %q", c.Name),
		`INSERT INTO oauth_clients (`+oauthClientCols+`) VALUES ($1, $2, $3, $4, $5)`, ev,
		c.ID, c.Name, c.SecretHash, millis(c.CreatedAt), millis(c.RevokedAt))
}

func (s *Store) GetOAuthClient(ctx context.Context, id string) (store.OAuthClient, error) {
	// Anyone may name a client at the token endpoint: an id no row can hold is no client.
	if s.namesNothing(id) {
		return store.OAuthClient{}, s.fail("get oauth client", store.ErrNotFound)
	}
	c, err := scanOAuthClient(s.r.QueryRowContext(ctx, `SELECT `+oauthClientCols+` FROM oauth_clients WHERE id = $1`, id))
	if err != nil {
		return store.OAuthClient{}, s.fail("get oauth client", notFound(err))
	}
	return c, nil
}

func (s *Store) ListOAuthClients(ctx context.Context) ([]store.OAuthClient, error) {
	cs, err := query(ctx, s.r, scanOAuthClient, `SELECT `+oauthClientCols+` FROM oauth_clients ORDER BY `+s.d.ByteOrder("name"))
	if err != nil {
		return nil, s.fail("list oauth clients", err)
	}
	return cs, nil
}

func (s *Store) RevokeOAuthClient(ctx context.Context, name string, now time.Time, ev store.AuditEvent) error {
	return s.revokeRecorded(ctx, "oauth_clients", fmt.Sprintf("oauth client %q", name), name, now, ev)
}
