package sync

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// Sources deliver events late and out of order (Okta: "order by published"; Verify
// reconciles failed deliveries minutes later), so what an event says is applied only where
// nothing newer was. Each aspect of a user or a group is ordered by itself, by the time its
// source gives the change: a user's existence (create, delete), its profile (create,
// update), its state (create, disable, enable, an update's State), each of its group
// memberships, and a group's existence (create, delete). A late disable therefore still
// applies after a newer profile update, and a late membership add does not undo a newer
// remove. The store keeps, for each aspect, the time of the newest event applied
// (store.SyncQueue.MarkKeys).
//
// The existence mark's key is the one every user event was marked under before aspects
// were ordered apart: a mark written then, by a replica not yet upgraded, counts as the
// user's existence, which holds back no more than it did then.

// existsMark and the others name the marks of an aspect. A name may hold '/', which
// separates a user's aspects in the keys: it is written as U+001F, a control character no
// name holds (lifecycle.CheckName), so that no user's existence mark ("user:a/state") is
// another user's aspect ("user:a" + "/state"). A name without '/' keeps the key it had.
func existsMark(user string) string {
	return "user:" + strings.ReplaceAll(store.FoldName(user), "/", "\x1f")
}

func profileMark(user string) string { return existsMark(user) + "/profile" }

func stateMark(user string) string { return existsMark(user) + "/state" }

func memberMark(user, group string) string { return existsMark(user) + "/group:" + group }

func groupMark(group string) string { return "group:" + group }

// membershipKeys are the marks a membership of user in group is ordered by (current), and
// made on (Applier.membership): the user's existence, the group's, the membership's.
func membershipKeys(user, group string) []string {
	return []string{existsMark(user), groupMark(group), memberMark(user, group)}
}

// renameMark is the time of the newest rename from or to group applied. Nothing is held
// to it (current): a rename is applied as it comes. MarkTime dates after it a change of
// a member of group, whose propagation must come after the rename's (groupAhead orders
// them by time): dated before it by a replica whose clock is behind the one that dated
// the rename, the member's add went to the vendor first and created the new name there
// for the member alone, and the rename then failed on the name taken.
func renameMark(group string) string { return "group.renamed:" + group }

// saysProfile reports whether ev sets any of a user's profile.
func saysProfile(ev provider.LifecycleEvent) bool {
	return ev.Email != nil || ev.Phone != nil || ev.Country != nil || ev.DisplayName != nil || ev.Attributes != nil
}

// marks are the aspects ev, once applied, is the newest change of.
func marks(ev provider.LifecycleEvent) []string {
	u := ev.Username
	switch ev.Type {
	case provider.EventUserCreate:
		return []string{existsMark(u), profileMark(u), stateMark(u)}
	case provider.EventUserDelete:
		return []string{existsMark(u)}
	case provider.EventUserDisable, provider.EventUserEnable:
		return []string{stateMark(u)}
	case provider.EventUserUpdate:
		var keys []string
		if saysProfile(ev) {
			keys = append(keys, profileMark(u))
		}
		if ev.State != "" {
			keys = append(keys, stateMark(u))
		}
		return keys
	case provider.EventGroupMemberAdd, provider.EventGroupMemberRemove:
		return []string{memberMark(u, ev.Group)}
	case provider.EventGroupCreate, provider.EventGroupDelete:
		return []string{groupMark(ev.Group)}
	case provider.EventGroupRename:
		// Applied as it comes; its marks date the changes after it (MarkTime).
		var keys []string
		for _, g := range groupNames(ev) {
			keys = append(keys, renameMark(g))
		}
		return keys
	}
	return nil // an MFA reset: held only to the user's existence
}

// current is what of ev is newer than what was applied of each aspect it changes: ev
// itself, ev without its profile or state, or nothing (ok false) when every part of it
// is older, or it is older than the user's existence or the group's. partly says what was
// left out, for the event's note.
func (q *Queue) current(ctx context.Context, ev provider.LifecycleEvent) (cur provider.LifecycleEvent, ok bool, partly string, err error) {
	older := func(key string) bool {
		if err != nil {
			return false
		}
		mark, e := q.Store.KeyMark(ctx, key)
		err = e
		return e == nil && ev.Time.Before(mark)
	}
	u := ev.Username
	switch ev.Type {
	case provider.EventGroupMemberAdd, provider.EventGroupMemberRemove:
		ok = !slices.ContainsFunc(membershipKeys(u, ev.Group), older)
		return ev, ok && err == nil, "", err
	case provider.EventGroupCreate, provider.EventGroupDelete:
		ok = !older(groupMark(ev.Group))
		return ev, ok && err == nil, "", err
	case provider.EventUserMFAReset:
		// One older than the user's existence is of a user deleted since, whose deletion
		// took all it would; told to a vendor, it would reset the account created since.
		ok = !older(existsMark(u))
		return ev, ok && err == nil, "", err
	case provider.EventUserCreate, provider.EventUserDelete, provider.EventUserUpdate, provider.EventUserDisable, provider.EventUserEnable:
	default:
		return ev, true, "", nil
	}
	if older(existsMark(u)) {
		return ev, false, "", err
	}
	var left []string
	if saysProfile(ev) && (ev.Type == provider.EventUserCreate || ev.Type == provider.EventUserUpdate) && older(profileMark(u)) {
		ev.Email, ev.Phone, ev.Country, ev.DisplayName, ev.Attributes = nil, nil, nil, nil, nil
		left = append(left, "profile")
	}
	switch ev.Type {
	case provider.EventUserDisable, provider.EventUserEnable:
		if older(stateMark(u)) {
			return ev, false, "", err
		}
	case provider.EventUserUpdate:
		if ev.State != "" && older(stateMark(u)) {
			ev.State = ""
			left = append(left, "state")
		}
		if len(left) > 0 && !saysProfile(ev) && ev.State == "" {
			return ev, false, "", err // all it said is older
		}
	case provider.EventUserCreate:
		if ev.Disabled && older(stateMark(u)) {
			ev.Disabled = false
			left = append(left, "state")
		}
	}
	if err != nil {
		return ev, false, "", err
	}
	if len(left) > 0 {
		partly = "applied without its " + strings.Join(left, " and ") + ", older than a change of the user's applied since"
	}
	return ev, true, partly, nil
}

// Marks are the ordering marks ev, a change of a user made outside the queue (the admin
// API's, the CLI's: lifecycle.Propagation), moves to its time in the change's own commit
// (store.UserChange.Marks): those a directory's event of the same aspects moves once
// applied, so that a directory's event dated before the change, delivered late, does not
// undo it, while one dated after it applies.
func (q *Queue) Marks(ev provider.LifecycleEvent) []string { return marks(ev) }

// MarkTime is the time an operator's changes evs (lifecycle.Propagation's), made at t by
// this process's clock, are ordered at, by the queue's clock (now): the database's where
// every process shares it, so that a change made through a replica or a CLI whose clock
// is 10 minutes ahead does not skip a directory's change published a minute after it as
// older, nor one 10 minutes behind let a directory's change published before it, and
// delivered late, undo it. That is t on the queue's clock, or a millisecond after the
// newest mark of what they change or of their user's existence, profile and state (and,
// for a membership, of its group's existence, which current holds it to as well; for a
// change that names a group, of the renames from or to it, renameMark), when that is
// later (one of t itself, as two changes of one millisecond, is ordered by the queue's
// seq). The change is committed after whatever left that mark, so it is the newer; dated
// by a clock behind the one that made the mark (another replica's, within
// store.ClockTolerance of the queue's, or a version's that dated operators' changes by
// its own) it would look older, and its propagation be dropped as overtaken or carried
// out before the earlier change's. The user's own marks keep its changes' propagations,
// which the queue orders by time, in the order they were made. Changes that order nothing
// (an MFA reset) keep t. Events received without a time are dated the same way, on
// receipt, by markTimes.
func (q *Queue) MarkTime(ctx context.Context, t time.Time, evs ...provider.LifecycleEvent) (time.Time, error) {
	t = q.onQueueClock(t)
	var keys []string
	for _, ev := range evs {
		keys = append(keys, timeKeys(ev)...)
	}
	slices.Sort(keys)
	mark, err := q.Store.LatestMark(ctx, slices.Compact(keys)) // one read, not one a key
	if err != nil {
		return time.Time{}, err
	}
	return after(t, mark), nil
}

// markTimes dates each of evs without a time as MarkTime dates it alone, at t (on the
// queue's clock already), reading the marks of all of them at once: a group write's 5,000
// members read them once each.
// Each is dated after the marks those before it move too, as if each were applied before
// the next was dated: a group write's member of the name it renames its group to is dated
// no earlier than the write's rename, which may be dated ahead of t (after a rename to
// its old name by a replica whose clock is ahead); dated before it, the member's add was
// propagated before the rename (groupAhead) and created the new name at the vendor for
// the member alone, and the rename then failed on the name taken.
func (q *Queue) markTimes(ctx context.Context, t time.Time, evs []provider.LifecycleEvent) error {
	var keys []string
	for _, ev := range evs {
		if ev.Time.IsZero() {
			keys = append(keys, timeKeys(ev)...)
		}
	}
	if len(keys) == 0 {
		for i := range evs {
			if evs[i].Time.IsZero() {
				evs[i].Time = t
			}
		}
		return nil
	}
	known, err := q.Store.KeyMarks(ctx, keys)
	if err != nil {
		return err
	}
	if known == nil {
		known = map[string]time.Time{}
	}
	for i := range evs {
		if !evs[i].Time.IsZero() {
			continue // a source's time, which queued may yet cap: it moves no mark here
		}
		var mark time.Time
		for _, key := range timeKeys(evs[i]) {
			if m := known[key]; m.After(mark) {
				mark = m
			}
		}
		evs[i].Time = after(t, mark)
		for _, key := range marks(evs[i]) {
			if evs[i].Time.After(known[key]) {
				known[key] = evs[i].Time
			}
		}
	}
	return nil
}

// timeKeys are the marks MarkTime dates ev after.
func timeKeys(ev provider.LifecycleEvent) []string {
	keys := marks(ev)
	if len(keys) == 0 {
		return nil
	}
	if ev.Username != "" {
		keys = append(keys, existsMark(ev.Username), profileMark(ev.Username), stateMark(ev.Username))
	}
	if ev.Type == provider.EventGroupMemberAdd || ev.Type == provider.EventGroupMemberRemove {
		keys = append(keys, groupMark(ev.Group))
	}
	for _, g := range groupNames(ev) {
		keys = append(keys, renameMark(g)) // after a rename of its group (renameMark)
	}
	return keys
}

// after is t, or a millisecond after mark when mark is later.
func after(t, mark time.Time) time.Time {
	if mark.After(t) {
		return mark.Add(time.Millisecond)
	}
	return t
}
