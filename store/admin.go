package store

import (
	"context"
	"time"
)

// What an organisation keeps about its users and how it manages them: profiles, groups,
// admin API tokens, org-wide capability switches, and the audit trail as an admin queries
// it. The lifecycle package is the one caller; the contract path reads only the switches.

// Profile is what a directory knows of a user beyond the name Verify sends. A user
// created without one (emfa users add) has the zero Profile.
type Profile struct {
	Email string
	Phone string
	// Country is the country (ISO 3166-1 alpha-2, upper case; "" for none) whose national
	// phone numbers the user's are: a number given without its country code is read as
	// one of its, before lifecycle.defaultCountry.
	Country     string
	DisplayName string
	// Groups are sorted and distinct.
	Groups     []string
	Attributes map[string]string
	// UpdatedAt is the last change of the profile, the user's state or its factors made
	// through ApplyUserChanges; the zero time when there was none.
	UpdatedAt time.Time
	// Revision counts those changes: each adds one. A change made on the condition that
	// it is still what its caller read (UserChange.IfRevision) compares it.
	Revision int64
}

// ResourceSelfServiceSignIn is the audit resource of a sign-in on the self-service page:
// with SUCCESS and its factor, a use of that factor (LastUsed), as a validate is.
const ResourceSelfServiceSignIn = "admin.selfservice.signin"

// UserRecord is a user with its profile.
type UserRecord struct {
	User
	Profile Profile
}

// ExternalIDAttribute is the attribute of a user that keeps its SCIM externalId
// (UserQuery.ExternalID).
const ExternalIDAttribute = "scim.externalId"

// UserQuery selects users for a page of a listing, ordered by the bytes of their folded
// names (FoldName): "alice", "Bob", "carol". Prefix and After are folded too.
type UserQuery struct {
	Prefix string // names starting with it in any ASCII case; "" all
	Group  string // members of it; "" all
	// Disabled, when set, keeps only users in that state.
	Disabled *bool
	// ExternalID, when not "", keeps only users whose attribute ExternalIDAttribute is
	// it, byte for byte (SCIM's externalId is caseExact), by an index on that attribute:
	// an IdP looks a user up by it before each create or update.
	ExternalID string
	// Emails and DisplayNames, when not nil, keep only users whose e-mail address
	// (display name) folds (FoldText) to one of them, by an index on that fold: an IdP
	// looks a user up by either, case-insensitively (SCIM's caseExact false). Each is
	// folded already; an empty list selects none.
	Emails, DisplayNames []string
	// EmailPrefixes and DisplayNamePrefixes, when not nil, keep only users whose e-mail
	// address (display name) folds to a text starting with one of them, by a range of
	// the same index: a value of too many case variants to list is looked up by those
	// of its first letters. Each is folded already; an empty list selects none.
	EmailPrefixes, DisplayNamePrefixes []string
	After                              string // names after it, folded (the cursor); "" from the first
	// Offset skips that many of the users selected (after After): a page by its
	// position, as SCIM asks for one (startIndex). The database still steps over them,
	// but along the index, without reading their records.
	Offset int
	Limit  int // <= 0: 100
}

// FactorUpdate replaces a factor's label and params (UpdateFactorParams in a change).
type FactorUpdate struct {
	ID     string
	Label  string
	Params map[string]string
	// LabelOnly changes the label alone, and leaves the params as the store has them
	// (Params is not read): a rename. Params written back as the caller read them would
	// undo what came between, such as an activation or a push device's registration,
	// which replace them outside ApplyUserChanges and so without moving the revision.
	LabelOnly bool
	// IfPending makes the update on the condition that the factor is still FactorPending:
	// ErrStale when it is not, or is gone. An import re-points a pre-provisioned factor
	// it read pending; its first sign-in may have activated it since, outside
	// ApplyUserChanges (the user's revision does not move), and an active factor's
	// destination, which its owner proved, is never replaced.
	IfPending bool
	// Alike, with IfPending, makes the update on the condition too that the user has no
	// other factor alike the factor as updated (of its type; with Param, for the same
	// value of Params[Param]): ErrStale when it has. An import re-points the factor to an
	// address it read the user had no factor for; one may have been enrolled since.
	Alike Alike
}

// FactorStateChange moves a factor to a state (SetFactorState in a change).
type FactorStateChange struct {
	ID    string
	State FactorState
	// DeletePending, in a reset (UserChange.Reset), deletes the factor instead if it is
	// still FactorPending at the commit. A reset that disables deletes the factors it read
	// pending; one activated since (outside ApplyUserChanges: the user's revision does
	// not move) has proved itself, and is moved to State as the others are.
	DeletePending bool
}

// UserChange is everything one admin action or one import row does to one user, applied
// by ApplyUserChanges as one atomic step: all of it, or nothing.
type UserChange struct {
	// Name is the user changed. With Create set, Create.Name.
	Name string
	// Create creates the user first (ErrExists when the name is taken).
	Create *User
	// Profile, when set, replaces the user's profile (groups included).
	Profile *Profile
	// Disabled, when set, sets the user's state.
	Disabled *bool
	// Factor changes; each must name a factor of this user (ErrNotFound otherwise), but
	// in a reset (Reset set), whose StateChanges and DeleteFactors skip a factor that is
	// gone: it is reset already, and the rest of the reset applies. A
	// factor deleted, or moved to a state other than FactorActive, ends the user's
	// self-service sessions signed in with it (SelfServiceSession.Factor).
	CreateFactors []Factor
	// FactorsWithin, when > 0, creates each of CreateFactors as CreateFactorWithin does,
	// with most FactorsWithin and the Alike of the same index in FactorsAlike: ErrTooMany
	// or ErrAlike when the user has its most factors or one alike. A change made on the
	// factors it read (an import's) is refused rather than stored past the bound, or
	// beside a factor for the same address enrolled meanwhile.
	FactorsWithin int
	FactorsAlike  []Alike
	UpdateFactors []FactorUpdate
	StateChanges  []FactorStateChange
	DeleteFactors []string
	// Delete deletes the user (and its factors) after everything else. A change that
	// deletes or disables the user ends all its self-service sessions.
	Delete bool
	// Reset, when set, makes the change a reset of the user's factors (the factors it
	// deletes or disables are in DeleteFactors and StateChanges): what the page trusted
	// from before it ends with them (FactorReset).
	Reset *FactorReset
	// Audit is appended in the same step, so an action is recorded exactly when it is done.
	Audit []AuditEvent
	// Queue are events of the sync queue (SyncQueue) written in the same step, as
	// FinishApplied writes its propagations, and on the same terms: one queued before (by
	// Source and EventID) is not queued again. An admin's change queues its propagations
	// to the vendors so: a change that fails queues none, and one committed loses none.
	Queue []QueuedEvent
	// Marks are keys of directory sync's ordering marks (SyncQueue.MarkKeys) that the same
	// step moves to Now, as MarkKeys moves them (never back): an admin's change is ordered
	// against a directory's late events as a directory's event of the same aspects is.
	Marks []string
	// MarksAt, when set, is the time Marks move to instead of Now: Now on the clock the
	// directory's events are ordered by (lifecycle.Propagation's MarkTime: the database's
	// where every process shares it, SharedClock), or just after a mark already later,
	// so that a change made after it is not ordered before it.
	MarksAt time.Time
	// IfMarks, when set, makes the change on the condition that none of these ordering
	// marks is later than MarksAt (Now when unset): ErrStale when one is. A worker makes a
	// directory's event so on the marks it checked the event's order against, and the
	// condition is checked after the change's update of the SCIM groups it joins or
	// leaves (their rows), which a group's deletion writes too: of the two, the later to
	// commit finds the other (a deletion after it is refused on the group's revision; one
	// before it moved the group's mark). The users the deletion orders but does not
	// change (those not in the group) keep their revisions, which alone did not see it.
	IfMarks []string
	// Now stamps the profile and the factors changed.
	Now time.Time
	// IfRevision, when set, makes the change on the condition that the user's revision
	// (Profile.Revision) is still this one: ErrStale when another change came between.
	// An edit that read the profile and writes it back whole sets it, so as not to undo
	// a change it did not see.
	IfRevision *int64
	// IfUser, when set, makes the change on the condition that the user named is still
	// the one with this id: ErrStale when it was deleted and another created under its
	// name since (whose revision may be the one IfRevision names).
	IfUser string
}

// FactorReset is a reset of a user's factors, in the change that makes it (UserChange.Reset).
// In that change's commit it ends the user's self-service sessions begun before At, and
// deletes the user's activation link issued before At (it opens nothing after, as an
// unknown link) with the sessions it opened whenever they began. A session signed in with
// a factor the change deletes or disables ends as in any change, whenever it began.
type FactorReset struct {
	// At is when the reset happened: a directory's reset delivered late, after the user
	// enrolled again, signed in or was sent a link, leaves what came since. The zero
	// time is the change itself: every session and the link end, however recent.
	At time.Time
}

// AdminToken is a credential of the admin API. The token itself is never stored: Hash is
// its SHA-256, hex-encoded.
type AdminToken struct {
	Name      string
	Scope     string // read or write
	Hash      string
	CreatedAt time.Time
	// RevokedAt is the zero time while the token is valid.
	RevokedAt time.Time
}

// CapabilitySwitch turns one capability of one provider off (or back on) for everyone.
// A capability without a switch is on.
type CapabilitySwitch struct {
	Provider   string // credentialPrefix, lower-cased
	Capability string // lower-cased
	Disabled   bool
	Reason     string
	Actor      string
	UpdatedAt  time.Time
}

// AuditQuery selects audit events, newest first.
type AuditQuery struct {
	Username string // matched by FoldName; each event keeps the name as its request gave it
	// UsernameForms are other writings of Username, matched as it is: an event of any of
	// them is selected (a name's invisible characters raw, as rows written before the
	// trail escaped them hold it, and escaped). Without Username they are not used.
	UsernameForms []string
	Resource      string // the action: validate, users.create, ...
	Outcome       string
	// Actor is who made an admin change, exactly as recorded (a token's name, cli,
	// sync:SOURCE); "" all.
	Actor string
	// RequestID is the X-Request-ID of the request that caused the event, exactly; "" all.
	RequestID string
	Since     time.Time // inclusive; zero: no bound
	Until     time.Time // exclusive; zero: no bound
	// Before is a cursor: only events older than the one with this Seq (and its time).
	Before *AuditCursor
	Limit  int // <= 0: 100
}

// AuditCursor is where a page of audit events ended.
type AuditCursor struct {
	Time time.Time
	Seq  int64
}

// AuditEntry is an event with its sequence number (its place among events of the same
// millisecond, and the cursor's key).
type AuditEntry struct {
	Seq int64
	AuditEvent
}

// Directory is the part of a Store that manages users as an organisation does.
type Directory interface {
	// ApplyUserChanges applies each change atomically and independently: one error per
	// change, nil where it was applied. A change that fails leaves nothing of itself and
	// does not stop the others. Several changes may share a commit.
	ApplyUserChanges(ctx context.Context, changes []UserChange) []error
	// GetUserRecord returns a user and its profile; ErrNotFound.
	GetUserRecord(ctx context.Context, name string) (UserRecord, error)
	// GetUserRecords returns the users of names and their profiles, as GetUserRecord
	// does, reading them at once (a group's members, however many), by folded name
	// (FoldName): a name that names no user is not in the map. names are folded names,
	// each once, as the caller keys the users it changes by (lifecycle folds and
	// de-duplicates them once, for the order it takes their rows in); the store reads them
	// as given, and a name in another case finds nothing.
	GetUserRecords(ctx context.Context, names []string) (map[string]UserRecord, error)
	// ListUserRecords returns a page of users and profiles.
	ListUserRecords(ctx context.Context, q UserQuery) ([]UserRecord, error)
	// CountUserRecords counts the users q selects, all of them: its After, Offset and
	// Limit are not read (a SCIM listing's totalResults).
	CountUserRecords(ctx context.Context, q UserQuery) (int, error)
	// ListFactorsOf returns the factors of many users at once, by user id.
	ListFactorsOf(ctx context.Context, userIDs []string) (map[string][]Factor, error)
	// LastUsed returns, for each factor that has one, the time of its last successful
	// validate or result, or sign-in on the self-service page (ResourceSelfServiceSignIn):
	// appending that audit event records it on the factor itself, so pruning the audit
	// trail does not erase it.
	LastUsed(ctx context.Context, factorIDs []string) (map[string]time.Time, error)
	// ListPendingFactors lists at most limit factors in FactorPending created before
	// before, with ids after afterID, by id (the sweep of expired activations pages
	// through them, skipping those it keeps).
	ListPendingFactors(ctx context.Context, before time.Time, afterID string, limit int) ([]Factor, error)

	// Admin API tokens. Names are unique, revoked ones included. Each change appends ev,
	// its audit record, in the same step (as SetCapabilitySwitch).
	CreateAdminToken(ctx context.Context, t AdminToken, ev AuditEvent) error // ErrExists
	// GetAdminToken finds a token by hash, revoked or not; ErrNotFound.
	GetAdminToken(ctx context.Context, hash string) (AdminToken, error)
	ListAdminTokens(ctx context.Context) ([]AdminToken, error) // by name
	// RevokeAdminToken revokes the named token; ErrNotFound, or ErrConflict when it is
	// revoked already.
	RevokeAdminToken(ctx context.Context, name string, now time.Time, ev AuditEvent) error

	// SetCapabilitySwitch records a switch (replacing the one of the same provider and
	// capability) and appends ev to the audit trail in the same step.
	SetCapabilitySwitch(ctx context.Context, s CapabilitySwitch, ev AuditEvent) error
	// ListCapabilitySwitches returns every switch recorded, on and off.
	ListCapabilitySwitches(ctx context.Context) ([]CapabilitySwitch, error)

	// QueryAudit returns a page of audit events.
	QueryAudit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
}
