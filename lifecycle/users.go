package lifecycle

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emfa/emfa/internal/phone"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// User states in the API.
const (
	StateActive   = provider.StateActive
	StateDisabled = provider.StateDisabled
)

// User is a user as the admin API shows it.
type User struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	State       string            `json:"state"`
	Email       string            `json:"email,omitempty"`
	Phone       string            `json:"phone,omitempty"`
	Country     string            `json:"country,omitempty"`
	DisplayName string            `json:"displayName,omitempty"`
	Groups      []string          `json:"groups"`
	Attributes  map[string]string `json:"attributes"`
	Created     time.Time         `json:"created"`
	Updated     *time.Time        `json:"updated,omitempty"`
	// Revision counts the user's changes (store.Profile.Revision): what an update made
	// on the condition that nothing changed the user since it was read (UserInput's
	// IfRevision) names.
	Revision int64 `json:"-"`
}

// UserInput creates a user (Name required) or updates one (each field set replaces).
// State, active or disabled, is the user's state: a user created disabled never exists
// active, and an update that says it changes the state in the same commit.
type UserInput struct {
	Name  string  `json:"name"`
	State *string `json:"state"`
	Email *string `json:"email"`
	Phone *string `json:"phone"`
	// Country is the user's country (ISO 3166-1 alpha-2; "" for none): a phone number of
	// theirs given without its country code, now or later, is read as one of its, rather
	// than as lifecycle.defaultCountry's.
	Country     *string            `json:"country"`
	DisplayName *string            `json:"displayName"`
	Groups      *[]string          `json:"groups"`
	Attributes  *map[string]string `json:"attributes"`
	// IfRevision, when set, makes an update conditional on the user's revision (User's
	// Revision) being still this one: a conflict, user_changed, when it is not. Without
	// it an update applies to the user as it is then, whatever changed it before.
	IfRevision *int64 `json:"-"`
	// IfUser, when set, makes an update conditional on the user being still the one of
	// this id (User's ID): a user deleted and created again under its name since is
	// another, whose revision may be the one IfRevision names; a conflict, user_changed.
	IfUser string `json:"-"`
	// ID, on a creation, is the id the user is created under, chosen by the caller (a SCIM
	// POST's, which reads back by it the user it created, not another made under its name
	// since); empty: a new one.
	ID string `json:"-"`
	// Marks are directory sync's ordering marks a directory's event applied through this
	// creation or update moves (store.UserChange.Marks), to MarksAt, the event's time, in
	// the commit of its change: a worker that checks a directory's older event of the same
	// aspect before that commit finds the user's revision moved when it writes, and checks
	// again. An update that carries marks and changes nothing is written all the same, on
	// the revision read, which it moves: the event is the newest word on what it says
	// even when the user had it already. (The directory's manager has no Propagation,
	// whose marks, of an operator's change, are the change's own.)
	Marks   []string  `json:"-"`
	MarksAt time.Time `json:"-"`
	// IfMarks makes the change on the condition that none of these marks is later than
	// MarksAt (store.UserChange.IfMarks): a conflict, user_changed, when one is.
	IfMarks []string `json:"-"`
}

// carryMarks adds to c the ordering marks in carries, and those it is made on, at their
// time.
func carryMarks(c *store.UserChange, in UserInput) {
	if len(in.Marks) > 0 || len(in.IfMarks) > 0 {
		c.Marks, c.IfMarks, c.MarksAt = append(c.Marks, in.Marks...), in.IfMarks, in.MarksAt
	}
}

func userOf(r store.UserRecord) User {
	u := User{ID: r.ID, Name: r.Name, State: StateName(r.Disabled), Email: r.Profile.Email, Phone: r.Profile.Phone,
		Country: r.Profile.Country, DisplayName: r.Profile.DisplayName, Groups: r.Profile.Groups, Attributes: r.Profile.Attributes, Created: r.CreatedAt}
	if u.Groups == nil {
		u.Groups = []string{}
	}
	if u.Attributes == nil {
		u.Attributes = map[string]string{}
	}
	u.Updated, u.Revision = timeOrNil(r.Profile.UpdatedAt), r.Profile.Revision
	return u
}

var attrKey = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// CheckName refuses a username Verify could not have sent.
func CheckName(name string) *Error {
	if err := checkText("name", name, true, maxName); err != nil {
		return err
	}
	return nil
}

// CheckAttributeValue refuses what a user's attribute could not hold as its value (text
// without control characters, at most 1024 bytes): the rule of a value kept beside a
// user's, such as a SCIM group's externalId, as a user's scim.externalId has it.
func CheckAttributeValue(field, v string) *Error {
	return checkText(field, v, false, maxAttrValue)
}

// CheckGroupName refuses a group name a user's profile could not hold (its groups), so
// that a group is not created under a name none of its members could be given.
func CheckGroupName(name string) *Error {
	return checkText("groups", name, true, maxText)
}

// CountryCode is s, a country as a directory writes it, as a user's country
// (UserInput.Country) is kept: an ISO 3166-1 alpha-2 code in upper case, for a region
// whose national phone numbers emfa reads, given as that code in any case, its alpha-3
// code or a name of it ("Germany", "Deutschland": phone.RegionOf). ok is false for
// anything else. The admin API and imports take the alpha-2 code alone, and say which
// one a name stands for (phone.CheckRegion); a directory's write, which cannot be asked
// again, is read.
func CountryCode(s string) (code string, ok bool) {
	return phone.RegionOf(s)
}

// profile applies in to p (a copy), checking and normalising every field set; a national
// phone number is read as the user's country's (in's, else p's), else as country's
// (Options.DefaultCountry).
func profile(p store.Profile, in UserInput, country string) (store.Profile, *Error) {
	p.Groups, p.Attributes = slices.Clone(p.Groups), maps.Clone(p.Attributes)
	if in.Email != nil {
		p.Email = *in.Email
		if p.Email != "" {
			n, ok := delivery.ValidEmail(p.Email)
			if !ok {
				return p, invalid("invalid_email", "email", "%q is not one bare e-mail address", p.Email).quoting(p.Email)
			}
			p.Email = n
		}
	}
	if in.Country != nil {
		// Before the phone: a national number given with it is read as its country's.
		p.Country = strings.ToUpper(*in.Country)
		if p.Country != "" {
			if err := phone.CheckRegion(p.Country); err != nil {
				// Not quoting(): a country is no person's address, and masking it as
				// one would mask its letters in the hint too ("US, GB, ***E").
				return p, invalid("invalid_country", "country", "%q %v", *in.Country, err)
			}
		}
	}
	if in.Phone != nil {
		was := p.Phone
		p.Phone = *in.Phone
		if p.Phone != "" {
			n, err := readPhone("phone", p.Phone, phoneCountry(p.Country, country))
			switch {
			case err != nil && sameDestination(was, p.Phone):
				// The number stored, given again (a directory's PUT that deactivates the
				// user): a number stored before emfa's checks of it grew stricter is kept,
				// not judged again, so that it cannot hold up the rest of the change.
				n = was
			case err != nil:
				return p, err
			}
			p.Phone = n
		}
	}
	if in.DisplayName != nil {
		p.DisplayName = *in.DisplayName
		if err := checkText("displayName", p.DisplayName, false, maxText); err != nil {
			return p, err
		}
	}
	if in.Groups != nil {
		if len(*in.Groups) > maxGroups {
			return p, invalid("invalid_field", "groups", "at most %d groups", maxGroups)
		}
		for _, g := range *in.Groups {
			if g == "" { // groups are optional; an empty name in them is the mistake
				return p, invalid("invalid_field", "groups", "holds an empty group name; every group needs a name")
			}
			if err := checkText("groups", g, true, maxText); err != nil {
				return p, err
			}
		}
		p.Groups = slices.Compact(slices.Sorted(slices.Values(*in.Groups)))
	}
	if in.Attributes != nil {
		if len(*in.Attributes) > maxAttributes {
			return p, invalid("invalid_field", "attributes", "at most %d attributes", maxAttributes)
		}
		for k, v := range *in.Attributes {
			if !attrKey.MatchString(k) {
				return p, invalid("invalid_field", "attributes", "key %q: 1 to 64 letters, digits, '_', '.', '-'", k)
			}
			if err := checkText("attributes."+k, v, false, maxAttrValue); err != nil {
				return p, err
			}
		}
		p.Attributes = maps.Clone(*in.Attributes)
	}
	return p, nil
}

// CreateUser creates a user with its profile.
func (m *Manager) CreateUser(ctx context.Context, actor Actor, in UserInput) (User, error) {
	if err := m.checkNewName(ctx, in.Name); err != nil {
		return User{}, m.refuse(ctx, actor, ActionUsersCreate, in.Name, "", err)
	}
	p, perr := profile(store.Profile{}, in, m.defaultCountry())
	var disabled *bool
	if perr == nil {
		disabled, perr = parseState(in.State)
	}
	if perr != nil {
		return User{}, m.refuse(ctx, actor, ActionUsersCreate, in.Name, "", perr)
	}
	now := m.now()
	u := store.User{ID: cmp.Or(in.ID, builtin.NewID()), Name: in.Name, Disabled: disabled != nil && *disabled, CreatedAt: now}
	c := store.UserChange{Name: in.Name, Create: &u, Profile: &p, Now: now,
		Audit: []store.AuditEvent{m.event(ctx, actor, ActionUsersCreate, in.Name, "", stateNote(u.Disabled))}}
	if err := m.propagate(ctx, actor, &c, createEvents(u, p)...); err != nil {
		return User{}, err
	}
	carryMarks(&c, in)
	err := m.store.ApplyUserChanges(ctx, []store.UserChange{c})[0]
	if errors.Is(err, store.ErrExists) {
		return User{}, m.refuse(ctx, actor, ActionUsersCreate, in.Name, "", m.userExists(ctx, in.Name))
	}
	if err != nil {
		return User{}, err
	}
	return m.writtenUser(ctx, userOf(store.UserRecord{User: u, Profile: p}), now)
}

// writtenUser answers a change of user w just committed and recorded, w as it wrote it
// but for the change's own stamp, now and the next revision: the user as read now, or w
// so stamped when a change since took it (answerWritten): deleted, or deleted and another
// created under its name, which is not the user changed, nor its revision the change's.
func (m *Manager) writtenUser(ctx context.Context, w User, now time.Time) (User, error) {
	// As the store keeps them: in milliseconds, in UTC.
	w.Created = time.UnixMilli(w.Created.UnixMilli()).UTC()
	w.Updated, w.Revision = timeOrNil(time.UnixMilli(now.UnixMilli()).UTC()), w.Revision+1
	return answerWritten(func() (User, error) {
		u, err := m.GetUser(ctx, w.Name)
		if err == nil && u.ID != w.ID {
			return User{}, notFound("not_found", "user", "no user %q", w.Name)
		}
		return u, err
	}, w)
}

// CheckCreate refuses, as CreateUser would and recorded as its refusals are, a creation
// of name that its caller checks before asking for it (a SCIM POST, which must not take
// a user that exists as its own creation): a name no user can have, or one taken.
func (m *Manager) CheckCreate(ctx context.Context, actor Actor, name string) error {
	if err := m.checkNewName(ctx, name); err != nil {
		return m.refuse(ctx, actor, ActionUsersCreate, name, "", err)
	}
	_, err := m.store.GetUser(ctx, name)
	switch {
	case err == nil:
		return m.refuse(ctx, actor, ActionUsersCreate, name, "", m.userExists(ctx, name))
	case errors.Is(err, store.ErrNotFound):
		return nil
	}
	return err
}

// checkNewName is CheckNewName's refusal of name for a new user, but for a name stored
// before that rule: its creation is answered that the user exists (userExists), as any
// other's is, so that a directory's creation of a user it has (Okta's, delivered again)
// applies as its update (sync.Applier) rather than being refused for a name the user has.
func (m *Manager) checkNewName(ctx context.Context, name string) *Error {
	err := CheckNewName(name)
	if err == nil || CheckName(name) != nil {
		return err
	}
	if _, gerr := m.store.GetUser(ctx, name); gerr == nil {
		return m.userExists(ctx, name)
	}
	return err
}

// userExists is the refusal of a name taken, naming the user that has it where its case
// differs: names match regardless of it (store.FoldName), which a reader may not expect.
func (m *Manager) userExists(ctx context.Context, name string) *Error {
	if u, err := m.store.GetUser(ctx, name); err == nil && u.Name != name {
		return conflict("user_exists", "name", "a user named %q exists already (user names match regardless of letter case)", u.Name)
	}
	return conflict("user_exists", "name", "a user named %q exists already", name)
}

// GetUser returns one user.
func (m *Manager) GetUser(ctx context.Context, name string) (User, error) {
	r, err := m.store.GetUserRecord(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return User{}, notFound("not_found", "user", "no user %q", name)
	}
	if err != nil {
		return User{}, err
	}
	return userOf(r), nil
}

// UserQuery selects a page of users.
type UserQuery struct {
	Prefix string
	Group  string
	State  string // "", active, disabled
	// ExternalID, when not "", keeps only users whose attribute scim.externalId is it,
	// exactly (store.UserQuery.ExternalID).
	ExternalID string
	// Emails and DisplayNames, when not nil, keep only users whose e-mail address
	// (display name) folds to one of them (store.UserQuery.Emails).
	Emails, DisplayNames []string
	// EmailPrefixes and DisplayNamePrefixes, when not nil, keep only users whose e-mail
	// address (display name) folds to a text starting with one of them
	// (store.UserQuery.EmailPrefixes).
	EmailPrefixes, DisplayNamePrefixes []string
	Cursor                             string // from the previous page's Next
	// Offset skips that many users (after Cursor's): a page by its position, as SCIM's
	// startIndex asks for one; 0 or more.
	Offset int
	Limit  int // 1 to 1000; 0: 100
}

// UserPage is a page of users; Next is the cursor of the following one, "" at the end.
type UserPage struct {
	Users []User `json:"users"`
	Next  string `json:"next,omitempty"`
}

// ListUsers returns a page of users, ordered by name regardless of ASCII case, its
// prefix and cursor matched so too (store.UserQuery).
func (m *Manager) ListUsers(ctx context.Context, q UserQuery) (UserPage, error) {
	sq, err := storeQuery(q)
	if err != nil {
		return UserPage{}, err
	}
	if q.Offset < 0 {
		return UserPage{}, invalid("invalid_parameter", "offset", "must not be negative")
	}
	sq.Offset = q.Offset
	if q.Limit == 0 {
		sq.Limit = 100
	}
	if sq.Limit < 1 || sq.Limit > 1000 {
		return UserPage{}, invalid("invalid_parameter", "limit", "must be between 1 and 1000")
	}
	if q.Cursor != "" {
		// A cursor is a name a page ended with: UTF-8 without NUL, as every name is. One
		// that is not (cut or garbled on its way, or made up) is refused as the audit
		// trail's is, rather than answered an empty page that reads as the end (SQLite), or
		// sent to PostgreSQL, which refuses such text: a fault, 503, that no retry mends.
		after, err := base64.RawURLEncoding.DecodeString(q.Cursor)
		if err != nil || len(after) == 0 || !utf8.Valid(after) || bytes.IndexByte(after, 0) >= 0 {
			return UserPage{}, invalid("invalid_parameter", "cursor", "is not a cursor this API returned")
		}
		sq.After = string(after)
	}
	recs, err := m.store.ListUserRecords(ctx, sq)
	if err != nil {
		return UserPage{}, err
	}
	page := UserPage{Users: make([]User, len(recs))}
	for i, r := range recs {
		page.Users[i] = userOf(r)
	}
	if len(recs) == sq.Limit {
		page.Next = base64.RawURLEncoding.EncodeToString([]byte(recs[len(recs)-1].Name))
	}
	return page, nil
}

// CountUsers counts the users q selects, all of them: its Cursor, Offset and Limit are
// not read.
func (m *Manager) CountUsers(ctx context.Context, q UserQuery) (int, error) {
	sq, err := storeQuery(q)
	if err != nil {
		return 0, err
	}
	return m.store.CountUserRecords(ctx, sq)
}

// storeQuery is q's selection (Prefix, Group, State, ExternalID, Emails, DisplayNames
// and their prefixes) as the store reads it.
func storeQuery(q UserQuery) (store.UserQuery, error) {
	sq := store.UserQuery{Prefix: q.Prefix, Group: q.Group, ExternalID: q.ExternalID,
		Emails: q.Emails, DisplayNames: q.DisplayNames, EmailPrefixes: q.EmailPrefixes, DisplayNamePrefixes: q.DisplayNamePrefixes,
		Limit: q.Limit}
	switch q.State {
	case "":
	case StateActive, StateDisabled:
		d := q.State == StateDisabled
		sq.Disabled = &d
	default:
		return sq, invalid("invalid_parameter", "state", "must be active or disabled, not %q", q.State)
	}
	return sq, nil
}

// UpdateUser replaces the profile fields in sets, and sets the state when in says it (an
// update that says only the state leaves the profile as it is); the name cannot change.
func (m *Manager) UpdateUser(ctx context.Context, actor Actor, name string, in UserInput) (User, error) {
	return m.EditUser(ctx, actor, name, func(User) *UserInput { return &in })
}

// editTries bounds how often EditUser reads and edits a user that other replicas' changes
// keep changing before its own is written.
const editTries = 16

// EditUser updates the user with what edit makes of it (nil: nothing to change). The
// user is read, edited and written on the condition that no other change came between
// (store.UserChange.IfRevision), and read and edited again when one did: two updates at
// once, each of one field, keep both fields; two memberships added at once, both groups.
func (m *Manager) EditUser(ctx context.Context, actor Actor, name string, edit func(User) *UserInput) (User, error) {
	mu := m.editLock(name)
	mu.Lock()
	defer mu.Unlock()
	for try := 1; ; try++ {
		r, err := m.store.GetUserRecord(ctx, name)
		if err != nil {
			return User{}, errorOf(err, "user")
		}
		u := userOf(r)
		in := edit(u)
		if in == nil {
			return u, nil
		}
		c, err := m.update(ctx, actor, r, *in)
		var le *Error
		if !errors.As(err, &le) || le.Code != CodeChanged {
			switch {
			case err != nil:
				return User{}, err
			case c == nil:
				return u, nil // nothing to change
			}
			if c.Profile != nil {
				r.Profile = *c.Profile
			}
			if c.Disabled != nil {
				r.Disabled = *c.Disabled
			}
			return m.writtenUser(ctx, userOf(r), c.Now)
		}
		if in.IfRevision != nil || in.IfUser != "" || try == editTries {
			return User{}, m.refuse(ctx, actor, ActionUsersUpdate, r.Name, "",
				conflict(CodeChanged, "", "user %q changed while this update was made; read it again and retry", r.Name))
		}
	}
}

// update writes in over r, on the condition that r is still the user's latest revision
// (a conflict, CodeChanged, otherwise). It returns the change written: nil when in
// changes nothing and carries no marks.
func (m *Manager) update(ctx context.Context, actor Actor, r store.UserRecord, in UserInput) (*store.UserChange, error) {
	name := r.Name // as created, whatever the case the caller gave it in
	if in.Name != "" && !store.SameName(in.Name, name) {
		return nil, m.refuse(ctx, actor, ActionUsersUpdate, name, "", invalid("immutable_field", "name", "a user's name cannot change (it is what Verify sends)"))
	}
	if (in.IfRevision != nil && *in.IfRevision != r.Profile.Revision) || (in.IfUser != "" && in.IfUser != r.ID) {
		return nil, errorOf(store.ErrStale, "user")
	}
	holds := m.Holds(userOf(r), in)
	if holds && len(in.Marks) == 0 {
		// Nothing to change: no write, so the revision (the API's ETag) and the updated
		// time stay what they mean, and no other client's If-Match is refused for it.
		return nil, nil
	}
	// On the user read, not only its revision: one deleted and created again since, its
	// revision restarted, would be given r's profile.
	c := store.UserChange{Name: name, Now: m.now(), IfRevision: &r.Profile.Revision, IfUser: r.ID}
	if holds {
		// A directory's event of what the user has: its marks alone, on the revision
		// read, which moves (UserInput.Marks).
		carryMarks(&c, in)
		return &c, m.apply(ctx, c, "user")
	}
	p, perr := profile(r.Profile, in, m.defaultCountry())
	if perr == nil {
		c.Disabled, perr = parseState(in.State)
	}
	if perr != nil {
		return nil, m.refuse(ctx, actor, ActionUsersUpdate, name, "", perr)
	}
	// What changes, and that alone is written and recorded: an update that gives the
	// profile as it is with another state (a SCIM PUT deactivating a user sends the whole
	// user) recorded a users.update that changed nothing too, and one that gives the state
	// the user has with a new e-mail address a users.enable or .disable that did not happen.
	// (Holds found one of the two changed.)
	if changes := profileChanges(r.Profile, p); in.State == nil || changes != "" {
		c.Profile = &p
		c.Audit = append(c.Audit, m.event(ctx, actor, ActionUsersUpdate, name, "", changes))
	}
	if c.Disabled != nil && *c.Disabled == r.Disabled {
		c.Disabled = nil
	}
	if c.Disabled != nil {
		c.Audit = append(c.Audit, m.event(ctx, actor, stateAction(*c.Disabled), name, "", ""))
	}
	if err := m.propagate(ctx, actor, &c, updateEvents(name, r.Profile, r.Disabled, p, c.Disabled)...); err != nil {
		return nil, err
	}
	carryMarks(&c, in)
	return &c, m.apply(ctx, c, "user")
}

// AdminSource is the source of the user changes a manager propagates (Options.Propagation)
// in the sync queue: its propagations' ids are admin:ID, a vendor's lifecycle transforms
// see it as event.source, and the vendor's calls are audited with the change's actor and
// request id, which the propagation carries (provider.LifecycleEvent's Actor, RequestID).
const AdminSource = "admin"

// propagate adds to c the propagations of evs, at c's time, by actor in ctx's request:
// queued in c's own commit, so that a change that fails queues none and one committed
// loses none. In the same commit the change moves the ordering marks of what it changes
// to its time, as a directory's event of them would (Propagation's Marks): a directory's
// event dated before the change, delivered late, does not undo it. Its time there, and
// its propagations', is c's on the sync queue's clock (MarkTime: the database's on
// PostgreSQL, which the directory's events are ordered by), or just after a mark of the
// user already later, which would otherwise make this later change look older, and its
// propagation be dropped. By this process's clock, a change made through a replica or a
// CLI 10 minutes ahead skipped as older a directory's change published a minute after
// it. The rest of c (its audit records, the times it stamps on the user and factors) keeps
// this process's clock, as all its other records do. Without a Propagation it does
// nothing.
func (m *Manager) propagate(ctx context.Context, actor Actor, c *store.UserChange, evs ...provider.LifecycleEvent) error {
	if m.propagation == nil {
		return nil
	}
	at, err := m.propagation.MarkTime(ctx, c.Now, evs...)
	if err != nil {
		return fmt.Errorf("lifecycle: ordering marks: %w", err)
	}
	c.MarksAt = at
	for _, ev := range evs {
		ev.ID, ev.Source, ev.Time = builtin.NewID(), AdminSource, at
		ev.Actor, ev.RequestID = string(actor), RequestID(ctx)
		rows, err := m.propagation.Propagations(ctx, ev)
		if err != nil {
			return fmt.Errorf("lifecycle: propagation of %s: %w", ev.Type, err)
		}
		c.Queue = append(c.Queue, rows...)
		c.Marks = append(c.Marks, m.propagation.Marks(ev)...)
	}
	return nil
}

// CreationEvents are what a directory's events would say of creating user name as it is
// now (createEvents): for a vendor to take the user afresh after its old account was
// dropped (sync's late deletion).
func (m *Manager) CreationEvents(ctx context.Context, name string) ([]provider.LifecycleEvent, error) {
	r, err := m.store.GetUserRecord(ctx, name)
	if err != nil {
		return nil, errorOf(err, "user")
	}
	return createEvents(r.User, r.Profile), nil
}

// createEvents are what a directory's events would say of u's creation with profile p:
// its user.create (with the profile's fields it sets), then its memberships.
func createEvents(u store.User, p store.Profile) []provider.LifecycleEvent {
	create, _ := said(provider.LifecycleEvent{Type: provider.EventUserCreate, Username: u.Name, Disabled: u.Disabled}, store.Profile{}, p)
	return append([]provider.LifecycleEvent{create}, memberships(u.Name, nil, p.Groups)...)
}

// updateEvents are what a directory's events would say of an update of user name from
// profile was (and state wasDisabled) to is (and disabled, when set): the profile's fields
// it changes (with the state, when it changes that too), or the state alone; then the
// memberships. None when it changes nothing of them.
func updateEvents(name string, was store.Profile, wasDisabled bool, is store.Profile, disabled *bool) []provider.LifecycleEvent {
	var evs []provider.LifecycleEvent
	moved := disabled != nil && *disabled != wasDisabled
	if upd, ok := said(provider.LifecycleEvent{Type: provider.EventUserUpdate, Username: name}, was, is); ok {
		if moved {
			upd.State = StateName(*disabled)
		}
		evs = append(evs, upd)
	} else if moved {
		evs = append(evs, stateEvent(name, *disabled))
	}
	return append(evs, memberships(name, was.Groups, is.Groups)...)
}

// said is ev saying the profile's fields that differ from was to is, as a directory's
// event says them (a field not said is left as it is; the attributes are said whole);
// ok when it says one.
func said(ev provider.LifecycleEvent, was, is store.Profile) (_ provider.LifecycleEvent, ok bool) {
	field := func(was, is string) *string {
		if was == is {
			return nil
		}
		ok = true
		return &is
	}
	ev.Email, ev.Phone, ev.DisplayName = field(was.Email, is.Email), field(was.Phone, is.Phone), field(was.DisplayName, is.DisplayName)
	ev.Country = field(was.Country, is.Country)
	if !maps.Equal(was.Attributes, is.Attributes) {
		ok = true
		ev.Attributes = make(map[string]any, len(is.Attributes))
		for k, v := range is.Attributes {
			ev.Attributes[k] = v
		}
	}
	return ev, ok
}

// memberships are the group.member.add of each group of is not in was, then the
// group.member.remove of each of was not in is.
func memberships(name string, was, is []string) []provider.LifecycleEvent {
	var out []provider.LifecycleEvent
	for _, g := range is {
		if !slices.Contains(was, g) {
			out = append(out, provider.LifecycleEvent{Type: provider.EventGroupMemberAdd, Username: name, Group: g})
		}
	}
	for _, g := range was {
		if !slices.Contains(is, g) {
			out = append(out, provider.LifecycleEvent{Type: provider.EventGroupMemberRemove, Username: name, Group: g})
		}
	}
	return out
}

// stateEvent is the user.disable or user.enable of name.
func stateEvent(name string, disabled bool) provider.LifecycleEvent {
	if disabled {
		return provider.LifecycleEvent{Type: provider.EventUserDisable, Username: name}
	}
	return provider.LifecycleEvent{Type: provider.EventUserEnable, Username: name}
}

// profileChanges is what an update's record says it changed from was to is: the fields by name;
// a code's destination masked as a factor's is (a new one is where the user's next code
// goes); the groups added (+) and removed (-), which may grant rights; the keys of the
// attributes. Never a full address, a display name or an attribute's value.
func profileChanges(was, is store.Profile) string {
	var out []string
	if was.Email != is.Email {
		out = append(out, "email: "+masked(delivery.MaskEmail, was.Email)+" → "+masked(delivery.MaskEmail, is.Email))
	}
	if was.Phone != is.Phone {
		out = append(out, "phone: "+masked(delivery.MaskPhone, was.Phone)+" → "+masked(delivery.MaskPhone, is.Phone))
	}
	if was.Country != is.Country {
		out = append(out, "country: "+cmp.Or(was.Country, "none")+" → "+cmp.Or(is.Country, "none"))
	}
	if was.DisplayName != is.DisplayName {
		out = append(out, "displayName")
	}
	if !slices.Equal(was.Groups, is.Groups) {
		var d []string
		for _, g := range is.Groups {
			if !slices.Contains(was.Groups, g) {
				d = append(d, "+"+g)
			}
		}
		for _, g := range was.Groups {
			if !slices.Contains(is.Groups, g) {
				d = append(d, "-"+g)
			}
		}
		out = append(out, "groups: "+strings.Join(d, " "))
	}
	var keys []string
	for k, v := range is.Attributes {
		if w, ok := was.Attributes[k]; !ok || w != v {
			keys = append(keys, k)
		}
	}
	for k := range was.Attributes {
		if _, ok := is.Attributes[k]; !ok {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		slices.Sort(keys)
		out = append(out, "attributes: "+strings.Join(keys, ", "))
	}
	return strings.Join(out, "; ")
}

// masked is v masked by mask, or "none" when v is empty.
func masked(mask func(string) string, v string) string {
	if v == "" {
		return "none"
	}
	return mask(v)
}

// SetUserState disables or enables a user: a disabled user has no enrollments and every
// sign-in fails, its factors untouched.
func (m *Manager) SetUserState(ctx context.Context, actor Actor, name string, disabled bool) (User, error) {
	return m.setUserState(ctx, actor, name, disabled, "", nil)
}

// SetUserStateAt sets the state as SetUserState does, on the condition that the user is
// still user id (User.ID; "" for whichever has the name) at revision rev (User.Revision,
// as its caller read it): a conflict, CodeChanged, when another change came between, or
// the user was deleted and another created under its name.
func (m *Manager) SetUserStateAt(ctx context.Context, actor Actor, name string, disabled bool, id string, rev int64) (User, error) {
	return m.setUserState(ctx, actor, name, disabled, id, &rev)
}

func (m *Manager) setUserState(ctx context.Context, actor Actor, name string, disabled bool, id string, rev *int64) (User, error) {
	if rev == nil {
		// On the revision read, read and dated again when another change came between
		// (EditUser): written on none, a change dated before another's but committed
		// after it reached the vendors before it (they are told a user's changes in
		// the order of their dates), which left them with the other's state.
		state := StateName(disabled)
		u, err := m.EditUser(ctx, actor, name, func(User) *UserInput { return &UserInput{State: &state} })
		var le *Error
		if errors.As(err, &le) && le.Kind == NotFound {
			return User{}, notFound("not_found", "user", "no user %q", name)
		}
		return u, err
	}
	action := stateAction(disabled)
	u, err := m.GetUser(ctx, name)
	if err != nil {
		return User{}, err
	}
	if u.State == StateName(disabled) && (rev == nil || *rev == u.Revision) && (id == "" || id == u.ID) {
		return u, nil // in that state already: nothing written, as for an update (update)
	}
	c := store.UserChange{Name: name, Disabled: &disabled, IfRevision: rev, IfUser: id, Now: m.now(), Audit: []store.AuditEvent{m.event(ctx, actor, action, name, "", "")}}
	if err := m.propagate(ctx, actor, &c, stateEvent(u.Name, disabled)); err != nil {
		return User{}, err
	}
	if err := m.applyAt(ctx, actor, action, c); err != nil {
		return User{}, err
	}
	u.State = StateName(disabled)
	return m.writtenUser(ctx, u, c.Now)
}

// applyAt applies c, a change of a user; one on a revision that is no longer the user's
// is refused, and the refusal recorded.
func (m *Manager) applyAt(ctx context.Context, actor Actor, action string, c store.UserChange) error {
	err := m.apply(ctx, c, "user")
	var le *Error
	if errors.As(err, &le) && le.Code == CodeChanged {
		return m.refuse(ctx, actor, action, c.Name, "", err)
	}
	return err
}

// stateAction is the audit action of setting a user's state.
func stateAction(disabled bool) string {
	if disabled {
		return ActionUsersDisable
	}
	return ActionUsersEnable
}

// stateNote is what a creation's audit row says of the state: nothing for the usual.
func stateNote(disabled bool) string {
	if disabled {
		return "created disabled"
	}
	return ""
}

// StateName is a user's state as the API says it: active or disabled.
func StateName(disabled bool) string {
	if disabled {
		return StateDisabled
	}
	return StateActive
}

// parseState reads a state given as active or disabled: nil when not given.
func parseState(state *string) (*bool, *Error) {
	if state == nil {
		return nil, nil
	}
	switch *state {
	case StateActive, StateDisabled:
		d := *state == StateDisabled
		return &d, nil
	}
	return nil, invalid("invalid_field", "state", "must be %q or %q, not %q", StateActive, StateDisabled, *state)
}

// AsStored is email and phone as m stores them in user name's profile: an address's
// domain in lower case, a number in E.164 (a national one as country's when it is set, as
// a directory's event may say it, else as the user's country's, else the deployment's).
// One m refuses is returned as it is. A directory's event is propagated to vendors as
// applied, not as the directory wrote it.
func (m *Manager) AsStored(ctx context.Context, name string, email, tel, country *string) (*string, *string) {
	if email != nil {
		if p, err := profile(store.Profile{}, UserInput{Email: email}, ""); err == nil {
			email = &p.Email
		}
	}
	if tel != nil {
		var base store.Profile
		if country == nil {
			// A number the event does not say the country of: the user's, else the
			// deployment's, as the applier read it.
			if r, err := m.phoneCountryOf(ctx, name, *tel); err == nil {
				base.Country = r.code
			}
		}
		if p, err := profile(base, UserInput{Phone: tel, Country: country}, m.defaultCountry()); err == nil {
			tel = &p.Phone
		}
	}
	return email, tel
}

// Holds reports whether u already has what in sets, so that applying it would change
// nothing: its fields compared as m's update would store them (normalised), and its state.
func (m *Manager) Holds(u User, in UserInput) bool {
	if in.State != nil && *in.State != u.State {
		return false
	}
	cur := store.Profile{Email: u.Email, Phone: u.Phone, Country: u.Country, DisplayName: u.DisplayName, Groups: u.Groups, Attributes: u.Attributes}
	p, err := profile(cur, in, m.defaultCountry())
	return err == nil && p.Email == cur.Email && p.Phone == cur.Phone && p.Country == cur.Country && p.DisplayName == cur.DisplayName &&
		slices.Equal(p.Groups, cur.Groups) && maps.Equal(p.Attributes, cur.Attributes)
}

// DeleteUser deletes a user and its factors.
func (m *Manager) DeleteUser(ctx context.Context, actor Actor, name string) error {
	return m.deleteUser(ctx, actor, name, "", nil)
}

// DeleteUserAt deletes the user as DeleteUser does, on the condition that it is still
// user id (User.ID; "" for whichever has the name) at revision rev (User.Revision, as its
// caller read it; nil for any): a conflict, CodeChanged, when another change came
// between, or the user was deleted and another created under its name, and nothing
// deleted.
func (m *Manager) DeleteUserAt(ctx context.Context, actor Actor, name, id string, rev *int64) error {
	return m.deleteUser(ctx, actor, name, id, rev)
}

func (m *Manager) deleteUser(ctx context.Context, actor Actor, name, id string, rev *int64) error {
	c := store.UserChange{Name: name, Delete: true, IfRevision: rev, IfUser: id, Now: m.now(), Audit: []store.AuditEvent{m.event(ctx, actor, ActionUsersDelete, name, "", "")}}
	if m.propagation != nil {
		// The vendor is told the name as the user has it, whatever the case it was given
		// in; a user not found is the change's own refusal, below.
		if u, err := m.store.GetUser(ctx, name); err == nil {
			if err := m.propagate(ctx, actor, &c, provider.LifecycleEvent{Type: provider.EventUserDelete, Username: u.Name}); err != nil {
				return err
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return m.applyAt(ctx, actor, ActionUsersDelete, c)
}

// MemberChanges is what one write of a group does to the users it touches: for each user
// of names (in any case, each once), the groups edit gives it (false: left as it is),
// checked as UpdateUser checks them (at most 100 groups) and made on the condition of the
// revision read, each with its audit record. Nothing is written: the caller applies the
// changes with the group's own write as one step (store.SyncQueue.ApplyGroupChange), so
// that a write refused for one user changes no other, nor the group. A refusal is
// audited and returned; a user not found is a NotFound error.
func (m *Manager) MemberChanges(ctx context.Context, actor Actor, names []string, edit func(User) ([]string, bool)) ([]store.UserChange, error) {
	// By folded name: the order every write of these users takes their rows in, so that
	// two group writes with users in common do not each wait for the other; and what
	// GetUserRecords takes (folded, each once: it folds nothing again).
	keys := make([]string, 0, len(names))
	for _, n := range names {
		keys = append(keys, store.FoldName(n))
	}
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	// All of them at once: one read per member was 5,000 reads for a directory's PATCH
	// adding 5,000 members to a group.
	recs, err := m.store.GetUserRecords(ctx, keys)
	if err != nil {
		return nil, errorOf(err, "user")
	}
	var changes []store.UserChange
	for _, key := range keys {
		r, ok := recs[key]
		if !ok {
			return nil, errorOf(store.ErrNotFound, "user") // deleted since the write read it
		}
		groups, ok := edit(userOf(r))
		if !ok {
			continue
		}
		p, perr := profile(r.Profile, UserInput{Groups: &groups}, m.defaultCountry())
		if perr != nil {
			return nil, m.refuse(ctx, actor, ActionUsersUpdate, r.Name, "", perr)
		}
		rev := r.Profile.Revision
		// On the user read, not only its revision: one deleted and created again since
		// would be given r's profile.
		changes = append(changes, store.UserChange{Name: r.Name, Now: m.now(), IfRevision: &rev, IfUser: r.ID, Profile: &p,
			Audit: []store.AuditEvent{m.event(ctx, actor, ActionUsersUpdate, r.Name, "", profileChanges(r.Profile, p))}})
	}
	return changes, nil
}
