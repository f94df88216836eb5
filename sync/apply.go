// Package sync is directory sync: lifecycle events (provider.LifecycleEvent) from any
// source — SCIM, Okta event hooks, Verify notifications, Auth0 log streams — applied to
// emfa's store through the same lifecycle.Manager operations as the admin API, from a
// durable queue (per-user order, retries with backoff, dead letters, a deletion guard),
// then carried to every configured provider.LifecyclePropagator. A new source is one
// adapter that turns its payloads into events and hands them to Enqueue.
package sync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// Skipped is an event applied as nothing: it names a user emfa does not know, or carries
// what emfa refuses. It is acknowledged and logged, never retried.
type Skipped struct {
	Reason string
	Err    error // the refusal, when the manager refused (a *lifecycle.Error)
}

func (s *Skipped) Error() string { return "skipped: " + s.Reason }

func (s *Skipped) Unwrap() error { return s.Err }

// Applier applies one event to emfa's store, idempotently: a create of a user that exists
// updates its profile, a delete of one that does not exist is done, a membership already
// held is kept.
type Applier struct {
	M      *lifecycle.Manager
	Groups store.SyncQueue // the groups SCIM names, and the marks of what was applied
	Now    func() time.Time
}

func actorOf(ev provider.LifecycleEvent) lifecycle.Actor {
	return lifecycle.Actor("sync:" + ev.Source)
}

// skipOf turns a refusal into Skipped; a fault stays an error (retried).
func skipOf(err error) error {
	var le *lifecycle.Error
	if errors.As(err, &le) {
		return &Skipped{Reason: le.Error(), Err: err}
	}
	return err
}

func (a *Applier) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func input(ev provider.LifecycleEvent) lifecycle.UserInput {
	in := lifecycle.UserInput{Name: ev.Username, Email: ev.Email, Phone: ev.Phone, Country: ev.Country, DisplayName: ev.DisplayName}
	// nil says nothing of the attributes; an empty map says the user has none now (a SCIM
	// remove of the last of them), and the queue's JSON keeps the two apart (null, {}).
	if ev.Attributes != nil {
		attrs := map[string]string{}
		for k, v := range ev.Attributes {
			if s, ok := v.(string); ok {
				attrs[k] = s
			}
		}
		in.Attributes = &attrs
	}
	return in
}

// updateInput is what a user.update sets: its profile fields, its state when it says one,
// on the revision it names.
func updateInput(ev provider.LifecycleEvent) lifecycle.UserInput {
	in := input(ev)
	in.Name, in.IfRevision, in.IfUser = "", ev.IfRevision, ev.IfUser
	if ev.State != "" {
		in.State = &ev.State
	}
	return in
}

// saysNothing reports whether in sets neither a profile field nor the state.
func saysNothing(in lifecycle.UserInput) bool {
	return in.Email == nil && in.Phone == nil && in.Country == nil && in.DisplayName == nil && in.Attributes == nil && in.State == nil
}

// Apply applies ev.
func (a *Applier) Apply(ctx context.Context, ev provider.LifecycleEvent) error {
	return a.apply(ctx, ev, false)
}

// apply applies ev; ordered says its order was checked (Queue.current), and a membership
// is then made on the condition that the marks it was checked against are still older
// than it (membership).
func (a *Applier) apply(ctx context.Context, ev provider.LifecycleEvent, ordered bool) error {
	m, actor := a.M, actorOf(ev)
	if ev.Username == "" && ev.Type != provider.EventGroupCreate && ev.Type != provider.EventGroupRename && ev.Type != provider.EventGroupDelete {
		return &Skipped{Reason: "the event names no user"}
	}
	if ev.Whole {
		// A group write's event its commit did not record applied: the write's process
		// ended before the commit, and nothing of it applies alone.
		return errWholeNotCommitted
	}
	if done, err := a.inEffect(ctx, ev); done || err != nil {
		return err
	}
	var err error
	switch ev.Type {
	case provider.EventUserCreate:
		in := input(ev)
		if ev.Disabled {
			state := lifecycle.StateDisabled
			in.State = &state
		}
		in.ID = ev.UserID
		in = withMarks(in, ev)
		_, err = m.CreateUser(ctx, actor, in)
		var le *lifecycle.Error
		if errors.As(err, &le) && le.Code == "user_exists" && ev.Exclusive {
			u, gerr := m.GetUser(ctx, ev.Username)
			own := gerr == nil && m.Holds(u, in) && (u.State == lifecycle.StateDisabled) == ev.Disabled
			if ev.UserID != "" {
				// Not another's alike (a second POST of it at once, which is a 409).
				own = gerr == nil && u.ID == ev.UserID
			}
			if own {
				return nil // its own creation, applied before its process was killed
			}
			return skipOf(err)
		}
		if errors.As(err, &le) && le.Code == "user_exists" {
			in.Name = ""
			if saysNothing(in) {
				err = nil // nothing to update (what it said is older than what was applied since)
			} else {
				_, err = m.UpdateUser(ctx, actor, ev.Username, in)
			}
		}
	case provider.EventUserUpdate:
		in := updateInput(ev)
		if saysNothing(in) {
			_, err = m.GetUser(ctx, ev.Username) // nothing said: only check the user exists
		} else {
			_, err = m.UpdateUser(ctx, actor, ev.Username, withMarks(in, ev))
		}
	case provider.EventUserDisable, provider.EventUserEnable:
		// An update of the state alone, as SetUserState and SetUserStateAt make it, that
		// carries the marks.
		state := lifecycle.StateActive
		if ev.Type == provider.EventUserDisable {
			state = lifecycle.StateDisabled
		}
		in := lifecycle.UserInput{State: &state, IfRevision: ev.IfRevision, IfUser: ev.IfUser}
		_, err = m.UpdateUser(ctx, actor, ev.Username, withMarks(in, ev))
		var le *lifecycle.Error
		if errors.As(err, &le) && le.Kind == lifecycle.NotFound {
			// As SetUserState says it, by name.
			err = &lifecycle.Error{Kind: le.Kind, Code: le.Code, Field: le.Field, Msg: fmt.Sprintf("no user %q", ev.Username)}
		}
	case provider.EventUserDelete:
		if ev.IfRevision != nil || ev.IfUser != "" {
			err = m.DeleteUserAt(ctx, actor, ev.Username, ev.IfUser, ev.IfRevision)
		} else {
			err = m.DeleteUser(ctx, actor, ev.Username)
		}
		var le *lifecycle.Error
		if errors.As(err, &le) && le.Kind == lifecycle.NotFound {
			err = nil // gone already
		}
	case provider.EventUserMFAReset:
		// Only what was enrolled before it: delivered late, after the user enrolled
		// again, it must not take the new factor.
		_, err = m.ResetUserBefore(ctx, actor, ev.Username, lifecycle.ResetDelete, ev.Time)
	case provider.EventGroupMemberAdd, provider.EventGroupMemberRemove:
		err = a.membership(ctx, ev, ordered)
	case provider.EventGroupCreate, provider.EventGroupRename, provider.EventGroupDelete:
		err = a.group(ctx, ev)
	default:
		return &Skipped{Reason: fmt.Sprintf("unknown event type %q", ev.Type)}
	}
	return skipOf(err)
}

// withMarks is in carrying ev's ordering marks, to be moved in the commit of the change
// (lifecycle.UserInput.Marks): moved only after it, in a commit of their own, they left
// a window in which a worker read the user changed and the marks not yet, and applied
// the directory's older event over ev; and an ev that changes nothing, moving neither
// the user nor its revision, let a worker that checked the marks before them write on
// the revision it read (an Okta disable older than a SCIM enable left the user
// disabled).
func withMarks(in lifecycle.UserInput, ev provider.LifecycleEvent) lifecycle.UserInput {
	if !ev.Time.IsZero() {
		in.Marks, in.MarksAt = marks(ev), ev.Time
	}
	return in
}

// purgeBefore removes from u what deletion ev, delivered after a newer create of u, would
// have removed in order (Queue.lateDelete): the factors enrolled before it, with the
// self-service sessions and link from before it, and the memberships last changed before
// it. It returns the time of the newest change of u applied: the newest of its marks.
func (a *Applier) purgeBefore(ctx context.Context, ev provider.LifecycleEvent, u lifecycle.User) (time.Time, error) {
	actor := actorOf(ev)
	if _, err := a.M.ResetUserBefore(ctx, actor, u.Name, lifecycle.ResetDelete, ev.Time); err != nil {
		return time.Time{}, err
	}
	latest := ev.Time.Add(time.Millisecond)
	mark := func(key string) (time.Time, error) {
		t, err := a.Groups.KeyMark(ctx, key)
		if t.After(latest) {
			latest = t
		}
		return t, err
	}
	for _, key := range []string{existsMark(u.Name), profileMark(u.Name), stateMark(u.Name)} {
		if _, err := mark(key); err != nil {
			return time.Time{}, err
		}
	}
	var old []string
	for _, g := range u.Groups {
		t, err := mark(memberMark(u.Name, g))
		if err != nil {
			return time.Time{}, err
		}
		if _, err := mark(groupMark(g)); err != nil {
			return time.Time{}, err
		}
		if t.Before(ev.Time) {
			old = append(old, g)
		}
	}
	_, err := a.M.EditUser(ctx, actor, u.Name, func(now lifecycle.User) *lifecycle.UserInput {
		groups := slices.DeleteFunc(slices.Clone(now.Groups), func(g string) bool { return slices.Contains(old, g) })
		if len(groups) == len(now.Groups) {
			return nil
		}
		return &lifecycle.UserInput{Groups: &groups}
	})
	return latest, err
}

// membership applies a group.member.add or .remove; ordered, on the condition that the
// marks current checked it against are still older than it, in its commit: a group's
// deletion committed since moved the group's mark but, of a user it did not have, no
// revision, and an older add made on the revision read put the user back in the group
// deleted (store.UserChange.IfMarks).
func (a *Applier) membership(ctx context.Context, ev provider.LifecycleEvent, ordered bool) error {
	if ev.Group == "" {
		return &Skipped{Reason: "the event names no group"}
	}
	_, err := a.M.EditUser(ctx, actorOf(ev), ev.Username, func(u lifecycle.User) *lifecycle.UserInput {
		has := slices.Contains(u.Groups, ev.Group)
		in := withMarks(lifecycle.UserInput{IfRevision: ev.IfRevision, IfUser: ev.IfUser}, ev)
		if ordered && !ev.Time.IsZero() {
			in.IfMarks = membershipKeys(ev.Username, ev.Group)
		}
		var groups []string
		switch {
		case ev.Type == provider.EventGroupMemberAdd && !has:
			groups = append(slices.Clone(u.Groups), ev.Group)
		case ev.Type == provider.EventGroupMemberRemove && has:
			groups = slices.DeleteFunc(slices.Clone(u.Groups), func(g string) bool { return g == ev.Group })
		case len(in.Marks) > 0:
			return &in // its marks alone, on the revision read (UserInput.Marks)
		default:
			return nil
		}
		in.Groups = &groups
		return &in
	})
	return err
}

// group creates, renames or deletes a group: its record (when a Groups store is set) and,
// for a rename or delete, the membership of every user who holds it.
func (a *Applier) group(ctx context.Context, ev provider.LifecycleEvent) error {
	if ev.Group == "" {
		return &Skipped{Reason: "the event names no group"}
	}
	now := a.now()
	switch ev.Type {
	case provider.EventGroupCreate:
		if a.Groups == nil {
			return nil
		}
		id := builtin.NewID()
		if ev.Exclusive {
			// A SCIM POST's, queued by a version that created the group before its
			// members (a POST is now one group write, GroupWrite): its own id, so
			// that a replay after a kill knows its own group.
			id = ev.ID
		}
		err := a.Groups.CreateGroup(ctx, store.Group{ID: id, Name: ev.Group, CreatedAt: now, UpdatedAt: now})
		if errors.Is(err, store.ErrExists) && ev.Exclusive {
			if g, gerr := a.Groups.GetGroupByName(ctx, ev.Group); gerr == nil && g.ID == id {
				return nil // its own creation, applied before its process was killed
			}
			return &Skipped{Reason: "a group named " + ev.Group + " exists",
				Err: &lifecycle.Error{Kind: lifecycle.Conflict, Code: "group_exists", Field: "displayName", Msg: "a group with this name exists"}}
		}
		if errors.Is(err, store.ErrExists) {
			return nil
		}
		return err
	case provider.EventGroupRename:
		if ev.NewGroup == "" || ev.NewGroup == ev.Group {
			return nil
		}
		if a.Groups != nil {
			g, err := a.Groups.GetGroupByName(ctx, ev.Group)
			if err == nil {
				g.Name, g.UpdatedAt = ev.NewGroup, now
				err = a.Groups.UpdateGroup(ctx, g)
			}
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	case provider.EventGroupDelete:
		if a.Groups != nil {
			g, err := a.Groups.GetGroupByName(ctx, ev.Group)
			if err == nil {
				err = a.Groups.DeleteGroup(ctx, g.ID)
			}
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	return a.regroup(ctx, ev)
}

// regroup renames or removes ev.Group on every member. A delete, delivered late, leaves
// the members whose membership is newer than it (their add was applied after the delete
// was made): it walks the members by cursor, so those it leaves do not hold up the rest.
func (a *Applier) regroup(ctx context.Context, ev provider.LifecycleEvent) error {
	return a.eachMember(ctx, ev.Group, 500, func(name string) error {
		if ev.Type == provider.EventGroupDelete && a.Groups != nil && !ev.Time.IsZero() {
			mark, err := a.Groups.KeyMark(ctx, memberMark(name, ev.Group))
			if err != nil || ev.Time.Before(mark) {
				return err
			}
		}
		_, err := a.M.EditUser(ctx, actorOf(ev), name, func(u lifecycle.User) *lifecycle.UserInput {
			if !slices.Contains(u.Groups, ev.Group) {
				return nil // renamed or removed since the listing
			}
			groups := slices.DeleteFunc(slices.Clone(u.Groups), func(g string) bool { return g == ev.Group })
			if ev.Type == provider.EventGroupRename {
				groups = append(groups, ev.NewGroup)
			}
			return &lifecycle.UserInput{Groups: &groups}
		})
		return err
	})
}

// eachMember calls fn with the name of each member of group, a page of limit at a time,
// walking by cursor: fn may change the members it is given.
func (a *Applier) eachMember(ctx context.Context, group string, limit int, fn func(name string) error) error {
	for cursor := ""; ; {
		page, err := a.M.ListUsers(ctx, lifecycle.UserQuery{Group: group, Cursor: cursor, Limit: limit})
		if err != nil {
			return err
		}
		for _, u := range page.Users {
			if err := fn(u.Name); err != nil {
				return err
			}
		}
		if cursor = page.Next; cursor == "" {
			return nil
		}
	}
}

// errWholeNotCommitted refuses an event of a group write (Whole) a worker finds not
// applied: the write's commit records its events applied (GroupChange.Events), so its
// process ended before the commit. The write was never completed nor answered, and a
// part of it applied alone could be one another write overtook, or part of one refused
// as a whole; the store as it is now says nothing of it.
var errWholeNotCommitted = &Skipped{Reason: "its group write did not complete (the process ended before its commit); nothing of it is applied"}

// inEffect says whether ev, made on a revision the user has since left (IfRevision), finds
// its effect the user's already: applied by ev itself before its process was killed and
// applied again by the worker, or by another change to the same effect. Such an event
// is done, not refused, and is propagated (RFC 9110's If-Match allows the success of a
// change already made). An event whose effect is not the user's is left to be refused.
func (a *Applier) inEffect(ctx context.Context, ev provider.LifecycleEvent) (bool, error) {
	if ev.IfRevision == nil {
		return false, nil
	}
	switch ev.Type {
	case provider.EventUserUpdate, provider.EventUserDisable, provider.EventUserEnable, provider.EventUserDelete:
	default:
		return false, nil
	}
	u, err := a.M.GetUser(ctx, ev.Username)
	var le *lifecycle.Error
	if errors.As(err, &le) && le.Kind == lifecycle.NotFound {
		return ev.Type == provider.EventUserDelete, nil
	}
	if err != nil || u.Revision == *ev.IfRevision {
		return false, err
	}
	switch ev.Type {
	case provider.EventUserDisable:
		return u.State == lifecycle.StateDisabled, nil
	case provider.EventUserEnable:
		return u.State == lifecycle.StateActive, nil
	case provider.EventUserUpdate:
		return a.M.Holds(u, updateInput(ev)), nil
	}
	return false, nil // a delete of a user still there
}

// GroupWrite is one write of a group (a SCIM POST, PUT, PATCH or DELETE): its creation, a
// rename, the members added and removed, its external id, or its deletion, applied by
// ApplyGroup as one step, all of it or nothing.
type GroupWrite struct {
	ID         string // the group's id (of a creation: the id it is created with)
	ExternalID string // its external id after the write
	Source     string // who wrote it (the actor of its users' audit records)
	// IfRevision is the group's revision the write was made from (store.Group.Revision):
	// a conflict, CodeChanged, when another write came between. A creation has none.
	IfRevision int64
	// Events are the write's group.create or group.rename (from the group's name), first,
	// and group.member.add and group.member.remove (of the name it has after the write),
	// or its group.delete alone.
	Events []provider.LifecycleEvent

	// seqs are Events' in the queue, leased to owner (ApplyGroupNow): recorded applied
	// in the write's commit, and marks, their ordering marks, moved in it.
	seqs  []int64
	owner string
	marks []store.Mark
}

// groupTries bounds how often ApplyGroup makes a write again whose members other
// changes keep changing.
const groupTries = 8

// ApplyGroup applies w as one step (store.SyncQueue.ApplyGroupChange): the group's
// record and the groups of every member it renames, adds or removes, on the condition
// that the group is still at w.IfRevision and each user still as read. A user changed
// meanwhile makes it read them again; the group changed meanwhile is a conflict,
// CodeChanged. A refusal for one user (too many groups) refuses the whole write.
//
// A write whose first event is a group.create creates the group with its external id
// and members in that step, or nothing: a name taken is a conflict, group_exists, so that
// of creations of one name at once, across processes too, exactly one creates it.
func (a *Applier) ApplyGroup(ctx context.Context, w GroupWrite) error {
	if a.Groups == nil {
		return errors.New("sync: no group store")
	}
	changed := &lifecycle.Error{Kind: lifecycle.Conflict, Code: lifecycle.CodeChanged,
		Msg: "the group changed since it was read; read it again and retry"}
	creates := len(w.Events) > 0 && w.Events[0].Type == provider.EventGroupCreate
	if creates && (w.ID == "" || w.Events[0].Group == "") {
		return errors.New("sync: a group creation needs the group's id and name")
	}
	for try := 1; ; try++ {
		g, err := a.groupToWrite(ctx, w, creates)
		if err != nil {
			return err
		}
		if !creates && g.Revision != w.IfRevision {
			return &Skipped{Reason: changed.Msg, Err: changed}
		}
		changes, name, err := a.memberChanges(ctx, g, w.Source, w.Events)
		if err != nil {
			return skipOf(err)
		}
		c := store.GroupChange{ID: g.ID, Name: name, ExternalID: w.ExternalID, UpdatedAt: a.now(), Create: creates,
			Delete: len(w.Events) == 1 && w.Events[0].Type == provider.EventGroupDelete, Users: changes, Events: w.seqs, Owner: w.owner, Marks: w.marks}
		if !creates {
			c.IfRevision = &g.Revision
		}
		err = a.Groups.ApplyGroupChange(ctx, c)
		switch {
		case errors.Is(err, store.ErrExists):
			return &Skipped{Reason: "a group named " + name + " exists",
				Err: &lifecycle.Error{Kind: lifecycle.Conflict, Code: "group_exists", Field: "displayName", Msg: "a group with this name exists"}}
		case errors.Is(err, store.ErrStale) && try < groupTries:
			continue // the group (found so on the next read) or a member changed
		case errors.Is(err, store.ErrStale):
			return &Skipped{Reason: changed.Msg, Err: changed}
		case errors.Is(err, store.ErrNotFound) && try < groupTries:
			continue // a member gone, or the group: read again
		}
		return err
	}
}

// groupToWrite is the group w writes: as it is, or, when w creates it, as it will be.
func (a *Applier) groupToWrite(ctx context.Context, w GroupWrite, creates bool) (store.Group, error) {
	if creates {
		return store.Group{ID: w.ID, Name: w.Events[0].Group}, nil
	}
	g, err := a.Groups.GetGroup(ctx, w.ID)
	if errors.Is(err, store.ErrNotFound) {
		return g, &Skipped{Reason: "no group with id " + w.ID,
			Err: &lifecycle.Error{Kind: lifecycle.NotFound, Code: "not_found", Msg: "group not found"}}
	}
	return g, err
}

// memberChanges is what events do to the users of g: its members carried to its new
// name (a rename) or out of it (a delete), those added and those removed; and that name.
func (a *Applier) memberChanges(ctx context.Context, g store.Group, source string, events []provider.LifecycleEvent) ([]store.UserChange, string, error) {
	name, old, deletes := g.Name, "", false
	var names []string
	for i, ev := range events {
		switch ev.Type {
		case provider.EventGroupCreate:
			if i != 0 || ev.Group != g.Name {
				return nil, "", fmt.Errorf("sync: a group write carries a group.create of %q only first, of its group", ev.Group)
			}
		case provider.EventGroupRename, provider.EventGroupDelete:
			if ev.Group != g.Name {
				return nil, "", &lifecycle.Error{Kind: lifecycle.Conflict, Code: lifecycle.CodeChanged, Msg: "the group was renamed since it was read"}
			}
			if ev.Type == provider.EventGroupDelete {
				old, deletes = name, true
			} else if ev.NewGroup != "" && ev.NewGroup != name {
				old, name = name, ev.NewGroup
			}
		case provider.EventGroupMemberAdd, provider.EventGroupMemberRemove:
			names = append(names, ev.Username)
		default:
			return nil, "", fmt.Errorf("sync: a group write cannot carry %s", ev.Type)
		}
	}
	if old != "" {
		if err := a.eachMember(ctx, old, 1000, func(n string) error { names = append(names, n); return nil }); err != nil {
			return nil, "", err
		}
	}
	// Each member's events, in the write's order, by its folded name (store.SameName):
	// matching each member read against every event was n² name folds, seconds of CPU
	// for a directory's group of 20,000.
	byName := map[string][]provider.LifecycleEvent{}
	for _, ev := range events {
		if ev.Type == provider.EventGroupMemberAdd || ev.Type == provider.EventGroupMemberRemove {
			key := store.FoldName(ev.Username)
			byName[key] = append(byName[key], ev)
		}
	}
	// A member whose events change nothing of it (an add of one the group has, a remove
	// of one it has not) is written all the same, on the revision read, and moves to the
	// next: the write's commit moves its membership's mark, and a worker that checked an
	// older event of it against the mark before, and writes after, must find the user
	// changed (store.ErrStale), check again and skip it. Left as it was, the older event
	// applied on the revision the worker read, over the write's newer one. The revision
	// is the one check of a change against those made since (an ETag moves for it, as
	// for a change): marks checked in the worker's commit too would still let a write
	// that read the member before the worker's commit move the mark after it.
	var touched []store.UserChange
	changes, err := a.M.MemberChanges(ctx, lifecycle.Actor("sync:"+source), names, func(u lifecycle.User) ([]string, bool) {
		groups := slices.Clone(u.Groups)
		if old != "" && slices.Contains(groups, old) {
			groups = slices.DeleteFunc(groups, func(n string) bool { return n == old })
			if !deletes {
				groups = append(groups, name)
			}
		}
		for _, ev := range byName[store.FoldName(u.Name)] {
			has := slices.Contains(groups, name)
			switch {
			case ev.Type == provider.EventGroupMemberAdd && !has:
				groups = append(groups, name)
			case ev.Type == provider.EventGroupMemberRemove && has:
				groups = slices.DeleteFunc(groups, func(n string) bool { return n == name })
			}
		}
		changed := !slices.Equal(slices.Sorted(slices.Values(groups)), slices.Sorted(slices.Values(u.Groups)))
		if !changed && len(byName[store.FoldName(u.Name)]) > 0 {
			rev := u.Revision
			touched = append(touched, store.UserChange{Name: u.Name, Now: a.now(), IfRevision: &rev, IfUser: u.ID})
		}
		return groups, changed
	})
	return append(changes, touched...), name, err
}
