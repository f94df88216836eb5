package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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
	ev, ok, dead, note, err := q.reconcile(ctx, e, ev)
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
	err = p.Propagate(ctx, ev)
	done()
	if err != nil {
		return q.retry(ctx, e, fmt.Errorf("propagate: %w", err), log)
	}
	return q.finish(ctx, e, OutcomePropagated, store.QueueDone, note, false)
}

// reconcile is what of ev to send the vendor now, so that it gets the user as emfa has it
// whatever came between (a propagation retried after a newer change, a dead letter retried
// by an operator):
//
//   - what of it is older than a change of the same aspect applied since is left out, as
//     of an apply: that change is propagated on its own (ok false: nothing is left);
//   - a user.delete is sent whatever came since: the vendor must drop the account it has
//     before a newer create of the name, lest the new user inherit its devices;
//   - a user.create carries the user's state as emfa has it now (created disabled when the
//     user was disabled since), and is a dead letter (dead says why) when a deletion of
//     the user before it is one: the vendor would take its old account, with its phone
//     and devices, for the new user.
func (q *Queue) reconcile(ctx context.Context, e store.QueuedEvent, ev provider.LifecycleEvent) (out provider.LifecycleEvent, ok bool, dead, note string, err error) {
	if ev.Type == provider.EventUserDelete {
		return ev, true, "", "", nil
	}
	said := saysProfile(ev)
	ev, ok, note, err = q.current(ctx, ev)
	if err != nil || !ok {
		return ev, false, "", "older than a change of the user applied since, propagated on its own", err
	}
	if ev.Type != provider.EventUserCreate {
		return ev, true, "", note, nil
	}
	deads, err := q.Store.ListEvents(ctx, store.QueueFilter{State: store.QueueDead, Key: e.Key, Limit: 1000})
	if err != nil {
		return ev, false, "", "", err
	}
	for _, d := range deads {
		if d.Type == provider.EventUserDelete && d.Seq != e.Seq && !d.Time.After(ev.Time) {
			return ev, false, fmt.Sprintf("not propagated: a deletion of the user before it is dead letter %d, and the vendor "+
				"would give the old account to the new user; retry that dead letter, then this one", d.Seq), "", nil
		}
	}
	u, err := q.Applier.M.GetUser(ctx, ev.Username)
	var le *lifecycle.Error
	if errors.As(err, &le) && le.Code == "not_found" {
		return ev, true, "", note, nil // deleted since: the deletion is propagated after it
	}
	if err != nil {
		return ev, false, "", "", err
	}
	if disabled := u.State == lifecycle.StateDisabled; disabled != ev.Disabled {
		ev.Disabled = disabled
		if note != "" {
			note += "; "
		}
		note += "propagated with the user's state now, " + u.State
	}
	if said && !saysProfile(ev) {
		// Its profile is older than a change applied since, and left out: that change is
		// propagated on its own, but says only what it changed (an update of the e-mail
		// alone), or was propagated before this create, as a create dead-lettered then
		// retried, and skipped by a vendor that did not have the user yet. The vendor's
		// new user gets the profile as emfa has it now, which holds both.
		withProfile(&ev, u)
		note += "; propagated with the user's profile now"
	}
	return ev, true, "", note, nil
}

// withProfile sets ev's profile fields to what u has of them (a field u has none of is
// not said: the create of a user has nothing to clear).
func withProfile(ev *provider.LifecycleEvent, u lifecycle.User) {
	some := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	ev.Email, ev.Phone, ev.Country, ev.DisplayName = some(u.Email), some(u.Phone), some(u.Country), some(u.DisplayName)
	ev.Attributes = nil
	if len(u.Attributes) > 0 {
		ev.Attributes = make(map[string]any, len(u.Attributes))
		for k, v := range u.Attributes {
			ev.Attributes[k] = v
		}
	}
}
