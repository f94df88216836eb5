package sqlstore

import (
	"context"
	"errors"
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
	return s.write(ctx, func(w *writer) error {
		_, err := w.exec(w.c(ctx), `INSERT INTO oauth_clients (`+oauthClientCols+`) VALUES ($1, $2, $3, $4, $5)`,
			c.ID, c.Name, c.SecretHash, millis(c.CreatedAt), millis(c.RevokedAt))
		if errors.Is(s.d.Constraint(err), store.ErrExists) {
			err = store.ErrExists
		}
		if err != nil {
			return s.fail(fmt.Sprintf("create oauth client %q", c.Name), err)
		}
		return w.AppendAudit(ctx, ev)
	})
}

func (s *Store) GetOAuthClient(ctx context.Context, id string) (store.OAuthClient, error) {
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
	return s.write(ctx, func(w *writer) error {
		ctx := w.c(ctx)
		res, err := w.exec(ctx, `UPDATE oauth_clients SET revoked_at = $2 WHERE name = $1 AND revoked_at = 0`, name, millis(now))
		if err := changedOne(res, err); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				var one int
				if w.e.QueryRow(ctx, `SELECT 1 FROM oauth_clients WHERE name = $1`, name).Scan(&one) == nil {
					err = fmt.Errorf("already revoked: %w", store.ErrConflict)
				}
			}
			return s.fail(fmt.Sprintf("revoke oauth client %q", name), err)
		}
		return w.AppendAudit(ctx, ev)
	})
}
