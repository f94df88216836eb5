package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// propagate carries one claimed propagation to propagator i's vendor; it returns an error
// only when the queue itself fails. A failure is retried with backoff, then dead-lettered,
// holding back meanwhile only that user's later propagations to that vendor.
func (q *Queue) propagate(ctx context.Context, i int, e store.QueuedEvent) error {
	log := q.Log.With("target", q.target(i), "event_id", e.EventID, "type", e.Type, "seq", e.Seq)
	var ev provider.LifecycleEvent
	if err := json.Unmarshal(e.Body, &ev); err != nil {
		return q.finish(ctx, e, OutcomeDead, store.QueueDead, "undecodable event: "+err.Error(), false)
	}
	if why := newer(e.Body, ev); why != "" {
		return q.retry(ctx, e, errors.New("queued by a newer version of emfa, left for a replica that reads it whole: "+why), log)
	}
	if ahead, err := q.groupAhead(ctx, e, ev); err != nil {
		return q.retry(ctx, e, err, log)
	} else if ahead != nil {
		return q.holdBehind(ctx, e, *ahead, log)
	}
	ev, then, ok, dead, note, err := q.reconcile(ctx, e, ev)
	switch {
	case err != nil:
		return q.retry(ctx, e, err, log)
	case dead != "":
		log.Error("sync propagation dead-lettered", "user", ev.Username, "reason", dead)
		return q.finish(ctx, e, OutcomeDead, store.QueueDead, dead, false)
	case !ok:
		logSkip(log, ev, note)
		return q.finish(ctx, e, OutcomeSkipped, store.QueueDone, "skipped: "+note, false)
	}
	p, done := q.propagator(i) // a reload's swap waits for this call, not for the batch
	pctx, stop := q.holdLease(ctx, e, log)
	for _, ev := range append([]provider.LifecycleEvent{ev}, then...) {
		if err = propagateOnce(pctx, p, ev, log); err != nil {
			break
		}
	}
	stop()
	done()
	if err != nil {
		err = fmt.Errorf("propagate: %w", err)
		if busy := retryAfter(nil); errors.As(err, &busy) && ctx.Err() == nil {
			// The vendor is rate-limiting: its worker sends nothing more until this
			// propagation is due again (PropagateOnce).
			q.vendorBusy(ctx, i, q.now().Add(q.wait(e.Attempts+1, err)))
		}
		return q.retry(ctx, e, err, log)
	}
	return q.finish(ctx, e, OutcomePropagated, store.QueueDone, note, false)
}

// propagateOnce is p.Propagate(ctx, ev), a panic of it an error (recovered).
func propagateOnce(ctx context.Context, p provider.LifecyclePropagator, ev provider.LifecycleEvent, log *slog.Logger) error {
	return recovered(log, "the propagator", func() error { return p.Propagate(ctx, ev) })
}

// recovered runs fn, a panic of it an error (panicked).
func recovered(log *slog.Logger, what string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = panicked(log, what, r)
		}
	}()
	return fn()
}

// panicked is the failure of what, which panicked with r, the stack to the log only: a
// bug of emfa's own, or of a propagator, fails its event or its propagation, retried and
// then dead-lettered as any failure, where it ended the process, and again on every
// replica that claimed the event once its lease passed.
func panicked(log *slog.Logger, what string, r any) error {
	log.Error("sync: "+what+" panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	return fmt.Errorf("%s panicked: %v", what, r)
}

// holdLease keeps e's lease while its propagation runs, taking it again every third of
// q.Lease: a slow vendor, or a list paged long, may outlive one lease, and another worker
// would then claim the propagation and run it beside this one (a look-up then create run
// twice at once makes two objects at the vendor). If the lease is lost all the same (the
// store unreachable for a whole lease, or another worker's claim), the propagation's
// context is canceled, and the other worker carries it out. stop ends the keeping.
func (q *Queue) holdLease(ctx context.Context, e store.QueuedEvent, log *slog.Logger) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	quit, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(max(q.Lease/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			now := q.now()
			err := q.Store.RenewEvent(ctx, e.Seq, q.Owner, now.Add(q.Lease), now)
			switch {
			case errors.Is(err, store.ErrConflict):
				log.Warn("sync propagation's lease taken by another worker while it ran: stopped, and left to it", "seq", e.Seq)
				cancel(errLeaseLost)
				return
			case err != nil && ctx.Err() == nil:
				// Tried again at the next tick; the lease holds a while yet.
				log.Warn("sync propagation's lease not taken again", "seq", e.Seq, "err", err)
			}
		}
	}()
	return ctx, func() {
		close(quit)
		<-ended
		cancel(nil)
	}
}

// errLeaseLost is why a propagation's context is canceled when its lease is lost.
var errLeaseLost = errors.New("the propagation's lease was taken by another worker")

// reconcile is what of ev to send the vendor now, so that it gets the user as emfa has it
// whatever came between (a propagation retried after a newer change, a dead letter retried
// by an operator):
//
//   - what of it is older than a change of the same aspect applied since is left out, as
//     of an apply: that change is propagated on its own (ok false: nothing is left);
//     but a profile is said in part (an update of the e-mail alone), so the profile of a
//     create or an update left out so is sent as emfa has it now (refresh, below);
//   - a user.delete is sent whatever came since: the vendor must drop the account it has
//     before a newer create of the name, lest the new user inherit its devices; and so is
//     a user.mfa.reset applied: one older than the user's existence is skipped when it is
//     applied (current), and one applied before a newer create is held back by nothing
//     the create sends (the vendor keeps the devices of an account it has);
//   - a user.create carries the user's state as emfa has it now (created disabled when the
//     user was disabled since), and is a dead letter (dead says why) when a deletion of
//     the user before it is one: the vendor would take its old account, with its phone
//     and devices, for the new user;
//   - a user.create that a later propagation of the user's went before (it was a dead
//     letter meanwhile) is followed (then) by a group.member.add of each group the user
//     has now that no later propagation waiting behind it adds: a membership propagated
//     before the create reached a vendor that did not have the user yet, and was skipped
//     there.
func (q *Queue) reconcile(ctx context.Context, e store.QueuedEvent, ev provider.LifecycleEvent) (out provider.LifecycleEvent, then []provider.LifecycleEvent, ok bool, dead, note string, err error) {
	var renamed string
	if ev.Type == provider.EventGroupMemberAdd || ev.Type == provider.EventGroupMemberRemove {
		if renamed, err = q.renamedSince(ctx, e, ev.Group); err != nil {
			return ev, nil, false, "", "", err
		}
		if renamed != ev.Group {
			ev.Group = renamed
			renamed = "its group renamed " + renamed + " at the vendor since"
		} else {
			renamed = ""
		}
	}
	out, ok, dead, note, err = q.reconcileEvent(ctx, e, ev)
	if renamed != "" && err == nil {
		note = strings.TrimSuffix(renamed+"; "+note, "; ")
	}
	if err == nil && ok && dead == "" && out.Type == provider.EventGroupDelete {
		// Members the group has now that were added after the deletion (or kept by a
		// deletion delivered late): a vendor that finds groups by name has them in no group once
		// it is deleted, for a retried dead letter's deletion, or one that ran after
		// their adds, takes the group they were added to. They are added again after it,
		// which creates the group anew.
		added, err := q.addedSince(ctx, out.Group, out.Time)
		if err != nil {
			return out, nil, false, "", "", err
		}
		for _, name := range added {
			then = append(then, provider.LifecycleEvent{ID: out.ID, Type: provider.EventGroupMemberAdd, Source: out.Source,
				Time: out.Time, Username: name, Group: out.Group, RequestID: out.RequestID, Actor: out.Actor})
		}
		return out, then, true, "", note, nil
	}
	if err == nil && ok && dead == "" && out.Type == provider.EventGroupRename && out.NewGroup != "" && out.NewGroup != out.Group {
		// Likewise members the old name has now that were added to it after the rename: a
		// retried dead letter's rename, or one that ran after their adds, takes them
		// into the renamed group. They are taken out of it (unless they are members of
		// the new name too) and added to the old name again, which creates it anew.
		old, err := q.addedSince(ctx, out.Group, out.Time)
		if err != nil {
			return out, nil, false, "", "", err
		}
		if len(old) == 0 {
			return out, nil, true, "", note, nil
		}
		renamed := map[string]bool{}
		if err = q.Applier.eachMember(ctx, out.NewGroup, 500, func(name string) error { renamed[name] = true; return nil }); err != nil {
			return out, nil, false, "", "", err
		}
		membership := func(typ, name, group string) provider.LifecycleEvent {
			return provider.LifecycleEvent{ID: out.ID, Type: typ, Source: out.Source, Time: out.Time, Username: name,
				Group: group, RequestID: out.RequestID, Actor: out.Actor}
		}
		for _, name := range old {
			if !renamed[name] {
				then = append(then, membership(provider.EventGroupMemberRemove, name, out.NewGroup))
			}
			then = append(then, membership(provider.EventGroupMemberAdd, name, out.Group))
		}
		return out, then, true, "", note, nil
	}
	if err != nil || !ok || dead != "" || out.Type != provider.EventUserCreate {
		return out, nil, ok, dead, note, err
	}
	if overtaken, err := q.overtaken(ctx, e); err != nil {
		return out, nil, false, "", "", err
	} else if !overtaken {
		return out, nil, true, "", note, nil
	}
	u, err := q.Applier.M.GetUser(ctx, out.Username)
	var le *lifecycle.Error
	if errors.As(err, &le) && le.Code == "not_found" || err == nil && len(u.Groups) == 0 {
		return out, nil, true, "", note, nil
	}
	if err != nil {
		return out, nil, false, "", "", err
	}
	later, err := q.laterPending(ctx, e)
	if err != nil {
		return out, nil, false, "", "", err
	}
	for _, g := range u.Groups {
		if slices.ContainsFunc(later, func(l provider.LifecycleEvent) bool {
			return l.Type == provider.EventGroupMemberAdd && l.Group == g
		}) {
			continue // left to it
		}
		then = append(then, provider.LifecycleEvent{ID: out.ID, Type: provider.EventGroupMemberAdd, Source: out.Source,
			Time: out.Time, Username: out.Username, Group: g, RequestID: out.RequestID, Actor: out.Actor})
	}
	return out, then, true, "", note, nil
}

// renamedSince is the name group has at e's vendor now: the last new name of the renames
// of it, and of its new names in turn, propagated to that vendor after e was queued (e was
// a dead letter meanwhile, retried since, for a dead letter holds nothing back). A
// membership retried under the old name would otherwise find no group at the vendor, and
// an add create one of the old name for the member alone, a removal leave the member in
// the renamed group. The queue's purge keeps those renames' rows while the membership
// waits, dead or pending (store.SyncQueue's DeleteDoneEvents).
func (q *Queue) renamedSince(ctx context.Context, e store.QueuedEvent, group string) (string, error) {
	target, ok := strings.CutPrefix(e.Source, store.PropagationSource(""))
	if !ok || group == "" {
		return group, nil
	}
	after := e
	for {
		// All the name's done renames, page by page: those kept (the purge keeps them
		// while a membership is dead) may be more than a page, the older listed first.
		var next *store.QueuedEvent
		var to string
		err := q.eachEvent(ctx, store.QueueFilter{State: store.QueueDone, Source: e.Source,
			Key: store.PropagationKey(target, "group:"+group), Types: []string{provider.EventGroupRename}}, func(l store.QueuedEvent) bool {
			var lev provider.LifecycleEvent
			if !(l.Time.After(after.Time) || l.Time.Equal(after.Time) && l.Seq > after.Seq) ||
				json.Unmarshal(l.Body, &lev) != nil || lev.NewGroup == "" || lev.NewGroup == lev.Group {
				return true
			}
			if next == nil || l.Time.Before(next.Time) || l.Time.Equal(next.Time) && l.Seq < next.Seq {
				next, to = &l, lev.NewGroup
			}
			return true
		})
		if err != nil {
			return group, err
		}
		if next == nil {
			return group, nil
		}
		after, group = *next, to
	}
}

// addedSince are the members group has now whose membership was applied after t (an add
// of theirs, not a rename of another group into that name, which its own propagation
// carries).
func (q *Queue) addedSince(ctx context.Context, group string, t time.Time) ([]string, error) {
	var added []string
	err := q.Applier.eachMember(ctx, group, 500, func(name string) error {
		mark, err := q.Store.KeyMark(ctx, memberMark(name, group))
		if err == nil && mark.After(t) {
			added = append(added, name)
		}
		return err
	})
	return added, err
}

// overtaken says whether a propagation of e's user queued after e was carried out
// before it (e was a dead letter meanwhile, retried since).
// It reads them all, page by page: the queue keeps a user's done propagations 7 days, and
// a thousand older ones listed first hid the one that went before e.
func (q *Queue) overtaken(ctx context.Context, e store.QueuedEvent) (bool, error) {
	var found bool
	err := q.eachEvent(ctx, store.QueueFilter{State: store.QueueDone, Key: e.Key}, func(l store.QueuedEvent) bool {
		found = l.Time.After(e.Time) || l.Time.Equal(e.Time) && l.Seq > e.Seq
		return !found
	})
	return found, err
}

// eachEvent calls fn with each event f selects, by seq, reading them a page of
// eventPage at a time to the last, until fn returns false. f's AfterSeq and Limit are
// its own.
func (q *Queue) eachEvent(ctx context.Context, f store.QueueFilter, fn func(store.QueuedEvent) bool) error {
	f.AfterSeq, f.Limit = 0, eventPage
	for {
		page, err := q.Store.ListEvents(ctx, f)
		if err != nil {
			return err
		}
		for _, l := range page {
			if !fn(l) {
				return nil
			}
		}
		if len(page) < f.Limit {
			return nil
		}
		f.AfterSeq = page[len(page)-1].Seq
	}
}

// eventPage is how many events eachEvent reads at a time.
const eventPage = 1000

// laterPending are the propagations of e's user queued after e, waiting behind it.
func (q *Queue) laterPending(ctx context.Context, e store.QueuedEvent) ([]provider.LifecycleEvent, error) {
	pending, err := q.Store.ListEvents(ctx, store.QueueFilter{State: store.QueuePending, Key: e.Key, Limit: 1000})
	if err != nil {
		return nil, err
	}
	var later []provider.LifecycleEvent
	for _, l := range pending {
		var lev provider.LifecycleEvent
		if l.Time.Before(e.Time) || l.Time.Equal(e.Time) && l.Seq <= e.Seq || json.Unmarshal(l.Body, &lev) != nil {
			continue
		}
		later = append(later, lev)
	}
	return later, nil
}

// reconcileEvent is reconcile of ev itself.
func (q *Queue) reconcileEvent(ctx context.Context, e store.QueuedEvent, ev provider.LifecycleEvent) (out provider.LifecycleEvent, ok bool, dead, note string, err error) {
	if ev.Type == provider.EventUserDelete || ev.Type == provider.EventUserMFAReset {
		return ev, true, "", "", nil
	}
	said := ev
	ev, ok, note, err = q.current(ctx, ev)
	if err != nil {
		return ev, false, "", "", err
	}
	// Its profile is older than a change applied since, and left out. That change is
	// propagated on its own, but says only what it changed (an update of the e-mail
	// alone: the display name this event set would never reach the vendor), or it was
	// propagated before this event and skipped by a vendor that did not have the user
	// yet (a create dead-lettered, then retried). So what this event said of the profile
	// is sent as emfa has it now, which holds both.
	var refresh map[string]bool // the profile fields to send as the user has them now
	if (said.Type == provider.EventUserCreate || said.Type == provider.EventUserUpdate) &&
		saysProfile(said) && !saysProfile(ev) { // current leaves it whole when the user's existence is newer
		refresh = profileFields(said)
		if said.Type == provider.EventUserUpdate {
			// Those a later propagation of the user's, waiting behind this one, says
			// anyway are left to it.
			later, err := q.laterPending(ctx, e)
			if err != nil {
				return ev, false, "", "", err
			}
			for _, lev := range later {
				if lev.Type == provider.EventUserCreate || lev.Type == provider.EventUserUpdate {
					for f := range profileFields(lev) {
						delete(refresh, f)
					}
				}
			}
		}
		if len(refresh) == 0 {
			refresh = nil
		}
	}
	if !ok && refresh == nil {
		return ev, false, "", "older than a change of the user applied since, propagated on its own", nil
	}
	if ev.Type == provider.EventUserCreate {
		// Its dead deletions alone, all of them: a thousand other dead letters of the
		// user's listed first hid the deletion.
		var dd *store.QueuedEvent
		err := q.eachEvent(ctx, store.QueueFilter{State: store.QueueDead, Key: e.Key, Types: []string{provider.EventUserDelete}},
			func(d store.QueuedEvent) bool {
				if d.Seq != e.Seq && !d.Time.After(ev.Time) {
					dd = &d
				}
				return dd == nil
			})
		if err != nil {
			return ev, false, "", "", err
		}
		if dd != nil {
			return ev, false, fmt.Sprintf("not propagated: a deletion of the user before it is dead letter %d, and the vendor "+
				"would give the old account to the new user; retry that dead letter, then this one", dd.Seq), "", nil
		}
	} else if refresh == nil {
		return ev, true, "", note, nil
	}
	u, err := q.Applier.M.GetUser(ctx, ev.Username)
	var le *lifecycle.Error
	if errors.As(err, &le) && le.Code == "not_found" {
		if ev.Type != provider.EventUserCreate {
			return ev, false, "", "the user was deleted since", nil
		}
		return ev, true, "", note, nil // deleted since: the deletion is propagated after it
	}
	if err != nil {
		return ev, false, "", "", err
	}
	addNote := func(s string) {
		if note != "" {
			note += "; "
		}
		note += s
	}
	if disabled := u.State == lifecycle.StateDisabled; ev.Type == provider.EventUserCreate && disabled != ev.Disabled {
		ev.Disabled = disabled
		addNote("propagated with the user's state now, " + u.State)
	}
	if refresh != nil {
		withProfile(&ev, said.Type == provider.EventUserCreate, refresh, u)
		addNote("its profile propagated as the user's now, newer than it")
	}
	return ev, true, "", note, nil
}

// profileFields are the profile fields ev says.
func profileFields(ev provider.LifecycleEvent) map[string]bool {
	fields := map[string]bool{}
	for f, said := range map[string]bool{"email": ev.Email != nil, "phone": ev.Phone != nil, "country": ev.Country != nil,
		"displayName": ev.DisplayName != nil, "attributes": ev.Attributes != nil} {
		if said {
			fields[f] = true
		}
	}
	return fields
}

// withProfile sets ev's profile fields to what u has of them now: for a create, every
// field u has (it has nothing to clear); for an update, those of fields, "" or none when
// u has none left.
func withProfile(ev *provider.LifecycleEvent, create bool, fields map[string]bool, u lifecycle.User) {
	now := func(f, has string) *string {
		if create && has == "" || !create && !fields[f] {
			return nil
		}
		return &has
	}
	ev.Email, ev.Phone = now("email", u.Email), now("phone", u.Phone)
	ev.Country, ev.DisplayName = now("country", u.Country), now("displayName", u.DisplayName)
	ev.Attributes = nil
	if create && len(u.Attributes) > 0 || !create && fields["attributes"] {
		ev.Attributes = make(map[string]any, len(u.Attributes))
		for k, v := range u.Attributes {
			ev.Attributes[k] = v
		}
	}
}

// groupNames are the group names ev finds at a vendor by name: a vendor's admin API
// (DUO's, as testdata/config/duo-admin.yaml drives it) looks a group up by its name, and
// creates it on a member's first add.
func groupNames(ev provider.LifecycleEvent) []string {
	switch ev.Type {
	case provider.EventGroupRename:
		if ev.NewGroup != "" && ev.NewGroup != ev.Group {
			return []string{ev.Group, ev.NewGroup}
		}
		return []string{ev.Group}
	case provider.EventGroupCreate, provider.EventGroupDelete, provider.EventGroupMemberAdd, provider.EventGroupMemberRemove:
		return []string{ev.Group}
	}
	return nil
}

// groupAhead is the oldest propagation to e's vendor, of a group's create, rename or
// delete under another key (and, when e is one of those, of a membership), queued before
// e and still pending, that names a group e names; nil when none. A group's propagations are keyed by its name, a membership's by
// its user, so a rename (keyed by the old name) and the add of a member under the new name
// (keyed by the member), or a delete under the new name, are not ordered by their keys:
// the rename failing once, the add ran first, found no group of the new name and created
// one, and the rename's retry then gave the old group the same name — two groups at the
// vendor. e waits for it instead (holdBehind), as it would behind an older event of its
// own key. A dead one holds nothing back.
func (q *Queue) groupAhead(ctx context.Context, e store.QueuedEvent, ev provider.LifecycleEvent) (*store.QueuedEvent, error) {
	names := groupNames(ev)
	if len(names) == 0 {
		return nil, nil
	}
	types := []string{provider.EventGroupCreate, provider.EventGroupRename, provider.EventGroupDelete}
	if ev.Type != provider.EventGroupMemberAdd && ev.Type != provider.EventGroupMemberRemove {
		// A group's own event waits for its members' older ones too: an add under the old
		// name that failed once, retried after the rename, would create the old name again.
		types = append(types, provider.EventGroupMemberAdd, provider.EventGroupMemberRemove)
	}
	// Those that name its groups (the store's index of the names: a vendor failing n
	// groups' creates holds them all pending, and reading every older one, each, was n²/2
	// rows a retry round), and those queued without names by an older version; page by
	// page, to the last.
	f := store.QueueFilter{State: store.QueuePending, Source: e.Source, Types: types, UpTo: e.Time, Groups: names, Limit: groupAheadPage}
	for {
		pending, err := q.Store.ListEvents(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, l := range pending {
			if l.Seq == e.Seq || l.Key == e.Key || !(l.Time.Before(e.Time) || l.Time.Equal(e.Time) && l.Seq < e.Seq) {
				continue
			}
			var lev provider.LifecycleEvent
			if json.Unmarshal(l.Body, &lev) != nil {
				continue
			}
			if slices.ContainsFunc(groupNames(lev), func(n string) bool { return slices.Contains(names, n) }) {
				return &l, nil
			}
		}
		if len(pending) < f.Limit {
			return nil, nil
		}
		f.AfterSeq = pending[len(pending)-1].Seq
	}
}

// groupAheadPage is how many pending propagations groupAhead reads at a time.
const groupAheadPage = 1000

// groupStep is how long a propagation held behind another's (groupAhead) that is due
// already, being carried out by another worker, waits before it looks again.
const groupStep = 2 * time.Second

// holdBehind puts e back, pending until ahead is due (or a groupStep from now, when ahead
// is due already: store.QueuedEvent.Waits, so that one queued by a clock ahead, which the
// claim takes at once, does not hold e until that clock's time), to be propagated after
// it: not an attempt, and no outcome, for it has not finished.
func (q *Queue) holdBehind(ctx context.Context, e, ahead store.QueuedEvent, log *slog.Logger) error {
	now := q.now()
	next := ahead.NextAt
	if !ahead.Waits(now) {
		next = now.Add(groupStep)
	}
	log.Debug("sync propagation waits for an older one of its group", "ahead", ahead.Seq, "until", next)
	ctx, cancel := detach(ctx)
	defer cancel()
	note := fmt.Sprintf("waiting for propagation %d (%s), older, of the same group", ahead.Seq, ahead.Type)
	err := q.Store.HoldEvent(ctx, e.Seq, q.Owner, truncate(note, 500), next, now)
	if errors.Is(err, store.ErrConflict) {
		return q.lost(e, err, log)
	}
	return err
}
