package store

import (
	"context"
	"time"
)

// SelfServiceLink is a user's activation link: only the hash of its token is kept. A user
// has at most one; a newer link replaces it.
type SelfServiceLink struct {
	UserID    string
	UserName  string // read only: the user's name, filled by GetLink
	Hash      string // hex SHA-256 of the token
	CreatedAt time.Time
	ExpiresAt time.Time
	SpentAt   time.Time // zero until an enrollment completes with it
}

// LinkSendKey is the send-limit key (Store.ReserveSend) under which a user's activation
// links are counted: one a minute, reserved before the link is sent. A reset that revokes
// the user's link (UserChange.Reset) forgets the sends under it, in its commit.
func LinkSendKey(userID string) string { return "link:" + userID }

// SelfServiceSession is a browser's session on the self-service page, kept in the store
// so that every replica sees it. Only the hash of its cookie is kept.
type SelfServiceSession struct {
	Hash      string
	UserID    string // "" before sign-in
	Kind      string // "anon", "link", "user"
	LinkHash  string // the link that opened a "link" session
	CSRF      string
	Data      string // the page's state between steps (JSON)
	SeenAt    time.Time
	ExpiresAt time.Time // absolute end, whatever the activity
	// CreatedAt is when the session began: a reset that happened later ends it, one that
	// happened earlier (a directory's, delivered late) leaves it (UserChange.Reset). A
	// session stored without it, or before the store kept it, began at the zero time.
	CreatedAt time.Time
	// Factor is the factor a sign-in proved itself with ("" for any other session):
	// PutSession creates the session only while that factor is the user's and active, in
	// its commit (ErrConflict otherwise), and a change that disables or deletes the factor
	// ends the session in its own. So a change that commits first leaves the sign-in
	// nothing to open, and one that commits after ends the session it finds.
	Factor string
}

// SelfService is what the self-service page needs of a store beyond Store. It is optional:
// lifecycle checks for it with a type assertion, so a store without it simply has no
// self-service.
type SelfService interface {
	// PutLink stores l as its user's only link, replacing an older one, and appends ev,
	// the record of its issue, in the same commit: no link without it.
	PutLink(ctx context.Context, l SelfServiceLink, ev AuditEvent) error
	// GetLink finds a link by its hash; ErrNotFound when there is none.
	GetLink(ctx context.Context, hash string) (SelfServiceLink, error)
	// SpendLink marks an unspent link spent; of concurrent calls one succeeds, the others
	// get ErrConflict, as does a link past its end at now (ErrNotFound: no such link).
	SpendLink(ctx context.Context, hash string, now time.Time) error
	// PutSession creates s and appends audit, the records of what started it, in the same
	// commit: no sign-in recorded without its session, nor a session without its record.
	// It never replaces a session (ErrExists: its hash is taken), nor creates one whose
	// s.Factor is no longer active, or whose s.LinkHash is no longer a link of its user
	// (ErrConflict: revoked by a reset, replaced).
	PutSession(ctx context.Context, s SelfServiceSession, audit ...AuditEvent) error
	// UpdateSession writes s over the session of its hash (its state, its last use), only
	// while that session exists: ErrNotFound once it was deleted (signed out, expired,
	// ended by an admin), which it never brings back. Its Factor and CreatedAt stay as
	// PutSession stored them.
	UpdateSession(ctx context.Context, s SelfServiceSession) error
	// TouchSession records a session's last use, and nothing else: a request that read
	// the session before another saved into it does not put the older state back.
	// ErrNotFound once the session was deleted, which it never brings back.
	TouchSession(ctx context.Context, hash string, seen time.Time) error
	GetSession(ctx context.Context, hash string) (SelfServiceSession, error)
	DeleteSession(ctx context.Context, hash string) error
	// DeleteExpiredSessions removes sessions last seen before idleBefore or past their end.
	DeleteExpiredSessions(ctx context.Context, idleBefore, now time.Time) (int, error)
	// DeleteExpiredLinks removes links past their end at now, and links spent before
	// spentBefore.
	DeleteExpiredLinks(ctx context.Context, spentBefore, now time.Time) (int, error)
}
