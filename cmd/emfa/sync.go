package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/suggest"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// syncQueue is the directory-sync queue over this process's store.
func (e *env) syncQueue(m *lifecycle.Manager, providers []*provider.Provider) (*sync.Queue, error) {
	sq, ok := e.store.(store.SyncQueue)
	if !ok {
		return nil, errors.New("directory sync needs a SQL store (sqlite or postgres)")
	}
	l := syncLimits(e.cfg.Sync)
	q := &sync.Queue{Store: sq, Applier: &sync.Applier{M: m, Groups: sq, Now: e.now}, Now: e.now, Log: e.log,
		MaxDeletesPerHour: l.MaxDeletesPerHour, Settle: l.Settle, MaxAttempts: l.MaxAttempts}
	q.Propagators = propagators(providers)
	return q.Init(), nil
}

// syncLimits are the queue's limits s sets: at start, and at each reload (SetLimits).
func syncLimits(s config.Sync) sync.Limits {
	l := sync.Limits{MaxDeletesPerHour: s.MaxDeletesPerHour, Settle: s.Settle, MaxAttempts: s.MaxAttempts}
	if l.Settle == 0 {
		l.Settle = 2 * time.Second
	}
	return l
}

// propagators are the engines that carry lifecycle events to their vendor, remote
// engines with lifecycle resources: they receive every applied event, and every user
// change of the admin API and the CLI. An engine that declares no lifecycle call is none,
// so that nothing is queued for it.
func propagators(providers []*provider.Provider) []provider.LifecyclePropagator {
	var out []provider.LifecyclePropagator
	for _, p := range providers {
		lp, ok := p.Engine.(provider.LifecyclePropagator)
		if d, declares := p.Engine.(interface{ Lifecycle() []string }); ok && (!declares || len(d.Lifecycle()) > 0) {
			out = append(out, lp)
		}
	}
	return out
}

// startSync runs the queue's workers and returns the sources the HTTP service serves
// (and the queue the admin API's user changes are propagated through); with no source
// enabled and no vendor to propagate to it does nothing.
func (e *env) startSync(ctx context.Context, m *lifecycle.Manager, providers []*provider.Provider) (*adapter.Sync, func(), error) {
	s := e.cfg.Sync
	if !s.Enabled() && len(propagators(providers)) == 0 {
		return nil, func() {}, nil
	}
	q, err := e.syncQueue(m, providers)
	if err != nil {
		return nil, nil, err
	}
	if e.metrics != nil {
		// What the worker makes of each event is counted, and a scrape reads the queue's
		// state (syncmetrics.go).
		watchSync(e.metrics, q.Store, e.now)
		countSync(q, e.metrics)
	}
	o := &adapter.Sync{Queue: q, Manager: m}
	syncCredentials(s, o)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); q.Run(ctx) }()
	e.log.Info("directory sync", "scim", s.SCIM.Enabled, "okta", s.Okta.Enabled, "verify", s.Verify.Enabled, "auth0", s.Auth0.Enabled,
		"propagators", len(q.Propagators))
	return o, func() { cancel(); <-done }, nil
}

// syncCredentials sets o's SCIM token and each source's secret header from s, for the
// sources s enables. Every snapshot calls it on the running queue's sources without
// credentials (syncSources): a source a reload enables is served from then on, one it
// disables is no longer (what it queued before is applied), a rotated token or secret
// applies at once, while the queue stays.
func syncCredentials(s config.Sync, o *adapter.Sync) {
	if s.SCIM.Enabled {
		o.SCIMToken = s.SCIM.Token.Reveal()
	}
	o.OktaMFAReset = s.Okta.MFAReset
	for _, src := range []struct {
		c  config.SyncSource
		to *adapter.SecretHeader
	}{{c: s.Okta.SyncSource, to: &o.Okta}, {c: s.Verify, to: &o.Verify}, {c: s.Auth0, to: &o.Auth0}} {
		if src.c.Enabled {
			*src.to = adapter.SecretHeader{Name: src.c.SecretHeader.Name, Value: src.c.SecretHeader.Value.Reveal()}
		}
	}
}

// serveSync starts directory sync for serve when the configuration enables it, or when a
// remote provider may propagate the admin API's changes: a manager of its own (which
// propagates nothing itself) over providers, the first snapshot's (whose remote engines
// propagate to vendors until a reload replaces them), then startSync. The providers are
// serve's: their engines are built once, and close when serve ends.
func (e *env) serveSync(ctx context.Context, providers []*provider.Provider) (*adapter.Sync, func(), error) {
	if !e.cfg.Sync.Enabled() {
		if targets, err := e.lifecycleTargets(); err != nil || len(targets) == 0 { // admin.go
			return nil, func() {}, err
		}
	}
	// No switches: the snapshot's (wireAdmin) are the providers'; this manager changes none.
	manager, err := e.manager(providers, nil, nil) // adminserve.go
	if err != nil {
		return nil, nil, err
	}
	return e.startSync(ctx, manager, providers)
}

// wantsSync reports whether e's configuration runs directory sync: a source enabled, or a
// remote provider with lifecycle calls to propagate the admin API's changes to.
func wantsSync(e *env) bool {
	if e.cfg.Sync.Enabled() {
		return true
	}
	targets, err := e.lifecycleTargets() // admin.go
	return err == nil && len(targets) > 0
}

// reloadSync starts directory sync at a reload of a process that runs none (started with
// no source and no vendor to propagate to), as serveSync does at start, and makes so's
// next snapshots serve it. Its engines are its own, built from ne's configuration: the
// snapshot's close when a later reload retires it. stop stops the queue and closes them;
// it also undoes so's sync, for a reload that fails after this.
func reloadSync(ctx context.Context, ne *env, so *snapshotOptions) (stop func(), err error) {
	se := ne.ownEngines()
	providers, err := se.providers()
	if err == nil {
		var src *adapter.Sync
		var stopQueue func()
		if src, stopQueue, err = se.serveSync(ctx, providers); err == nil && src != nil {
			so.sync, so.propagation = src, &propagation{q: src.Queue, env: se, base: se}
			se.log.Info("reload: directory sync started")
			return func() {
				stopQueue()
				so.propagation.close() // the engines a later reload swapped in
				so.sync, so.propagation = nil, nil
				_ = se.closeEngines()
			}, nil
		}
	}
	_ = se.closeEngines()
	return func() {}, err
}

// syncSources are the running queue's sources as a snapshot serves them: o without its
// credentials, which the snapshot's configuration sets (syncCredentials).
func syncSources(o *adapter.Sync) adapter.Sync {
	return adapter.Sync{Queue: o.Queue, Manager: o.Manager}
}

// syncReloaded applies, at a reload, next's sync settings that are not a snapshot's: the
// queue's limits (SetLimits), and says what changed of them and of the sources.
func syncReloaded(q *sync.Queue, running, next config.Sync, log *slog.Logger) {
	before, after := q.Limits(), syncLimits(next)
	q.SetLimits(after)
	if after := q.Limits(); after != before {
		log.Info("reload: directory sync's limits changed: applied from the next event on",
			"maxAttempts", after.MaxAttempts, "settle", after.Settle.String(), "maxDeletesPerHour", after.MaxDeletesPerHour)
	}
	for _, src := range []struct {
		name    string
		was, is bool
	}{{"scim", running.SCIM.Enabled, next.SCIM.Enabled}, {"okta", running.Okta.Enabled, next.Okta.Enabled},
		{"verify", running.Verify.Enabled, next.Verify.Enabled}, {"auth0", running.Auth0.Enabled, next.Auth0.Enabled}} {
		switch {
		case src.is && !src.was:
			log.Info("reload: sync."+src.name+" enabled: served from now on", "source", src.name)
		case src.was && !src.is:
			log.Info("reload: sync."+src.name+" disabled: no longer served; what it queued before is applied", "source", src.name)
		}
	}
}

// propagation is directory sync's carrying of events to vendors across reloads. The
// queue's propagators are engines of their own, apart from any snapshot's: they outlive
// the snapshot they were built with. A reload builds them anew from the configuration it
// loaded (a rotated vendor key, a ${file:PATH} secret read again, a remote provider added
// or removed) and swaps them in; the engines they replace close once the propagations
// running on them have ended.
type propagation struct {
	q    *sync.Queue
	env  *env // whose engines the propagators are
	base *env // serve's own: its engines close with it
}

// build makes the propagators of ne's configuration, in an env of their own: those of
// its remote providers that declare lifecycle calls, as at start (propagators); nothing
// is swapped yet. A fault closes what it built.
func (p *propagation) build(ne *env) (*env, []provider.LifecyclePropagator, error) {
	pe := ne.ownEngines() // its webhooks compiled once for both
	var ps []provider.LifecyclePropagator
	for i, c := range ne.cfg.Providers {
		if c.Engine != config.EngineRemote {
			continue
		}
		r, err := pe.remoteEngine(i) // app.go
		if err != nil {
			pe.closeEngines()
			return nil, nil, err
		}
		if len(r.Lifecycle()) > 0 {
			ps = append(ps, r)
		}
	}
	return pe, ps, nil
}

// swap makes ps, pe's engines, the queue's propagators. A vendor added gets its worker;
// one removed is queued nothing more, its worker ends the propagation under way, and what
// is still queued for it waits, pending, for its return (said at WARN, with how many).
func (p *propagation) swap(ctx context.Context, pe *env, ps []provider.LifecyclePropagator) {
	before := p.q.Targets()
	retired, err := p.q.SwapPropagators(ps)
	if err != nil {
		// Not from a configuration that loaded: its credential prefixes are unique.
		pe.closeEngines()
		p.env.log.Error("reload: directory sync keeps its propagators", "err", err)
		return
	}
	old := p.env
	p.env = pe
	if old != p.base {
		go func() { retired(); old.closeEngines() }()
	}
	after := p.q.Targets()
	for _, t := range after {
		if !slices.Contains(before, t) {
			pe.log.Info("reload: directory sync propagates to provider "+t+" from now on: the events applied before this reload are not carried to it",
				"provider", t)
		}
	}
	for _, t := range before {
		if slices.Contains(after, t) {
			continue
		}
		src := store.PropagationSource(t)
		pending, err := p.q.Store.ListEvents(ctx, store.QueueFilter{State: store.QueuePending, Source: src, Limit: 1000})
		queued := "nothing is still queued for it"
		switch {
		case err != nil:
			queued = "what is still queued for it (emfa sync pending --source " + src + ") stays pending, untried, and is carried out if it comes back"
		case len(pending) > 0:
			n := strconv.Itoa(len(pending))
			if len(pending) == 1000 {
				n = "1000 or more"
			}
			queued = "its " + n + " propagations still queued stay pending, untried (emfa sync pending --source " + src +
				"), and are carried out if it comes back"
		}
		pe.log.Warn("reload: provider "+t+" removed: directory sync propagates nothing more to it; "+queued+
			"; the events applied meanwhile are not", "provider", t, "pending", len(pending))
	}
}

// close closes the propagators' engines, once the queue's workers have stopped.
func (p *propagation) close() {
	if p != nil && p.env != p.base {
		p.env.closeEngines()
	}
}

// pauseView is a paused source as `emfa sync status --json` shows it: lower-case names,
// as every --json output has (store.SourcePause has no JSON names of its own).
type pauseView struct {
	Source  string    `json:"source"`
	Reason  string    `json:"reason"`
	Created time.Time `json:"created"`
}

func statusView(st sync.Status) any {
	paused := make([]pauseView, len(st.Paused))
	for i, p := range st.Paused {
		paused[i] = pauseView{Source: p.Source, Reason: p.Reason, Created: p.CreatedAt}
	}
	return struct {
		Counts map[string]map[string]int `json:"counts"`
		Paused []pauseView               `json:"paused"`
	}{st.Counts, paused}
}

// syncCmd is `emfa sync`: the queue's state, its dead letters, paused sources.
func (d *deps) syncCmd() *cobra.Command {
	status := &cobra.Command{Use: "status", Short: "events by source and state (propagations to a provider's vendor as propagate:PREFIX), and the sources paused by the deletion guard", Args: noArgs,
		Example: "  emfa sync status --config emfa.yaml\n  emfa sync status --config emfa.yaml --json"}
	var asJSON bool
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	d.storeCmd(status, func(ctx context.Context, e *env, _ []string) error {
		q, err := e.cliQueue()
		if err != nil {
			return err
		}
		st, err := q.Status(ctx)
		if err != nil {
			return err
		}
		if asJSON {
			return json.NewEncoder(d.stdout).Encode(statusView(st))
		}
		tw := tabwriter.NewWriter(d.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SOURCE\tPENDING\tDONE\tDEAD")
		sources := slices.Sorted(func(yield func(string) bool) {
			for k := range st.Counts {
				if !yield(k) {
					return
				}
			}
		})
		for _, s := range sources {
			c := st.Counts[s]
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", s, c[store.QueuePending], c[store.QueueDone], c[store.QueueDead])
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, p := range st.Paused {
			fmt.Fprintf(d.stdout, "PAUSED %s since %s: %s (emfa sync resume %s)\n", shown(p.Source), p.CreatedAt.Format(time.RFC3339), shown(p.Reason), shown(p.Source))
		}
		return nil
	})

	list := d.eventListCmd("list", "the dead letters: events and propagations that failed every attempt",
		"  emfa sync dead-letters list --config emfa.yaml --limit 20\n  emfa sync dead-letters list --config emfa.yaml --source propagate:duo --json",
		"dead letters", store.QueueDead)
	pending := d.eventListCmd("pending", "the events and propagations waiting in the queue, oldest first: attempts, next attempt, last error, and what holds them",
		"  emfa sync pending --config emfa.yaml\n  emfa sync pending --config emfa.yaml --source okta --limit 20 --json\n  emfa sync pending drop --source propagate:duo --config emfa.yaml",
		"pending events", store.QueuePending)
	pending.AddCommand(d.dropPendingCmd())
	// A SEQ that is not a number is a usage error before the store opens (storeCmd).
	seqArgs := func(check cobra.PositionalArgs) cobra.PositionalArgs {
		return func(c *cobra.Command, args []string) error {
			if err := check(c, args); err != nil {
				return err
			}
			if len(args) == 1 {
				if seq, err := strconv.ParseInt(args[0], 10, 64); err != nil || seq <= 0 {
					return usageError{"SEQ must be a dead letter's number (emfa sync dead-letters list)"}
				}
			}
			return nil
		}
	}
	drop := &cobra.Command{Use: "drop SEQ", Short: "give up the dead letter numbered SEQ: it is done, not applied, and never retried", Args: seqArgs(exactly(1, "exactly one SEQ")),
		Example: "  emfa sync dead-letters drop 42 --config emfa.yaml"}
	d.storeCmd(drop, func(ctx context.Context, e *env, args []string) error {
		seq, _ := strconv.ParseInt(args[0], 10, 64) // checked by Args
		q, err := e.cliQueue()
		if err != nil {
			return err
		}
		now := e.now()
		ev, err := q.Store.DropDead(ctx, seq, "dropped by "+string(cliActor)+": ", now,
			lifecycle.AdminEvent(now, cliActor, lifecycle.ActionSyncDrop, "", "", "SUCCESS", fmt.Sprintf("dead letter %d", seq)))
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no dead letter %d (emfa sync dead-letters list shows them)", seq)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(d.stdout, "dead letter %d dropped: %s %s of %s (event %s)\n", ev.Seq, shown(ev.Source), shown(ev.Type), shown(ev.Key), shown(ev.EventID))
		return nil
	})
	retry := &cobra.Command{Use: "retry [SEQ]", Short: "queue dead letters again (all, or the one numbered SEQ)", Args: seqArgs(atMostOne("at most one SEQ")),
		Example: "  emfa sync dead-letters retry --config emfa.yaml\n  emfa sync dead-letters retry 42 --config emfa.yaml"}
	d.storeCmd(retry, func(ctx context.Context, e *env, args []string) error {
		q, err := e.cliQueue()
		if err != nil {
			return err
		}
		var seq int64
		if len(args) == 1 {
			seq, _ = strconv.ParseInt(args[0], 10, 64) // checked by Args
		}
		n, err := q.RetryDead(ctx, cliActor, seq)
		if err != nil {
			return err
		}
		if n == 0 && seq != 0 {
			return fmt.Errorf("no dead letter %d (emfa sync dead-letters list shows them)", seq)
		}
		fmt.Fprintf(d.stdout, "%d event(s) queued again\n", n)
		return nil
	})
	resume := &cobra.Command{Use: "resume SOURCE", Short: "resume a source the deletion guard paused: the deletions it held apply, and the guard counts afresh", Args: exactly(1, "exactly one SOURCE"),
		Example: "  emfa sync resume okta --config emfa.yaml"}
	d.storeCmd(resume, func(ctx context.Context, e *env, args []string) error {
		q, err := e.cliQueue()
		if err != nil {
			return err
		}
		if err := q.Resume(ctx, cliActor, args[0]); errors.Is(err, sync.ErrNotPaused) {
			return fmt.Errorf("source %q is not paused", args[0])
		} else if err != nil {
			return err
		}
		fmt.Fprintf(d.stdout, "%s resumed\n", args[0])
		return nil
	})
	return group("sync", "directory sync: the event queue, its dead letters, paused sources",
		"  emfa sync status --config emfa.yaml\n  emfa sync pending --config emfa.yaml\n  emfa sync dead-letters list --config emfa.yaml\n  emfa sync resume okta --config emfa.yaml",
		status, pending, group("dead-letters", "events that failed every attempt", "  emfa sync dead-letters list --config emfa.yaml\n  emfa sync dead-letters retry 42 --config emfa.yaml\n  emfa sync dead-letters drop 42 --config emfa.yaml", list, retry, drop), resume)
}

// dropPendingCmd is `emfa sync pending drop --source SOURCE`: the pending events of one
// source given up, recorded (sync.drop) with how many.
func (d *deps) dropPendingCmd() *cobra.Command {
	var source string
	required := noArgsNeeding(&source, "--source is required: the source whose pending events are dropped (emfa sync pending shows them)")
	c := &cobra.Command{Use: "drop", Args: func(c *cobra.Command, args []string) error {
		if err := required(c, args); err != nil {
			return err
		}
		return checkSource(source)
	},
		Short:   "give up the pending events of one source that no worker holds (those queued for a removed provider: --source propagate:PREFIX): done, not applied, never retried",
		Example: "  emfa sync pending drop --source propagate:duo --config emfa.yaml\n  emfa sync pending drop --source okta --config emfa.yaml"}
	c.Flags().StringVar(&source, "source", "", "the source whose pending events are dropped (okta, scim, verify, auth0; propagate:PREFIX for the propagations to a provider's vendor); required")
	d.storeCmd(c, func(ctx context.Context, e *env, _ []string) error {
		q, err := e.cliQueue()
		if err != nil {
			return err
		}
		n, err := q.DropPending(ctx, cliActor, source)
		if err != nil {
			return err
		}
		fmt.Fprintf(d.stdout, "%d pending event(s) of %s dropped\n", n, source)
		// Those a worker held are its own: it ends them, or the lease passes.
		if left, err := q.Store.ListEvents(ctx, store.QueueFilter{State: store.QueuePending, Source: source, Limit: 1}); err == nil && len(left) > 0 {
			fmt.Fprintf(d.stdout, "some are held by a worker and were kept: run this again in a minute (emfa sync pending --source %s)\n", source)
		}
		if t, ok := strings.CutPrefix(source, store.PropagationSource("")); ok {
			if targets, err := e.lifecycleTargets(); err == nil && slices.Contains(targets, t) {
				fmt.Fprintf(d.stdout, "provider %s is still configured: what is queued for it from now on is carried out\n", t)
			}
		}
		return nil
	})
	return c
}

// eventListCmd is `emfa sync pending` or `emfa sync dead-letters list`: the queue's events
// in state, with the same flags (what names them in --source's help) and the same output.
func (d *deps) eventListCmd(use, short, example, what, state string) *cobra.Command {
	var o eventListOptions
	c := &cobra.Command{Use: use, Short: short, Example: example, Args: func(c *cobra.Command, args []string) error {
		if err := noArgs(c, args); err != nil {
			return err
		}
		if o.limit <= 0 { // before the store opens (storeCmd)
			return usageError{"--limit must be positive"}
		}
		return checkSource(o.source)
	}}
	o.flags(c, what)
	d.storeCmd(c, func(ctx context.Context, e *env, _ []string) error {
		return d.listEvents(ctx, e, state, o)
	})
	return c
}

// sourceNames are the directory sources a --source may name, besides propagate:PREFIX.
var sourceNames = []string{"okta", "scim", "verify", "auth0"}

// checkSource refuses a --source no event can have (a typo, propagate: without its
// provider): its empty list, or its "0 pending event(s) dropped", would read as nothing
// waiting. "" is every source.
func checkSource(source string) error {
	if p, ok := strings.CutPrefix(source, store.PropagationSource("")); source == "" || slices.Contains(sourceNames, source) || ok && p != "" {
		return nil
	}
	msg := fmt.Sprintf("--source: %q is no source (okta, scim, verify, auth0, or propagate:PREFIX for the propagations to a provider's vendor)", source)
	if meant := suggest.Nearest(source, sourceNames); meant != "" {
		msg += fmt.Sprintf(": did you mean %q?", meant)
	}
	return usageError{msg}
}

// eventListOptions are the flags of `emfa sync pending` and `emfa sync dead-letters list`.
type eventListOptions struct {
	source string
	limit  int
	asJSON bool
}

func (o *eventListOptions) flags(c *cobra.Command, what string) {
	c.Flags().StringVar(&o.source, "source", "", "only the "+what+" of this source (okta, scim, verify, auth0; propagate:PREFIX for the propagations to a provider's vendor)")
	c.Flags().IntVar(&o.limit, "limit", 100, "at most this many")
	c.Flags().BoolVar(&o.asJSON, "json", false, "print JSON, one event a line")
}

// eventView is a queued event as `emfa sync pending --json` and `emfa sync dead-letters
// list --json` show it, without its body (the user's attributes as the source sent them).
type eventView struct {
	Seq      int64     `json:"seq"`
	Source   string    `json:"source"`
	EventID  string    `json:"event_id"`
	Type     string    `json:"type"`
	Key      string    `json:"key"`
	Time     time.Time `json:"time"`
	Queued   time.Time `json:"queued"`
	State    string    `json:"state"`
	Applied  bool      `json:"applied"`
	Attempts int       `json:"attempts"`
	// NextAttempt: when a pending event that failed is tried again; absent when it waits
	// for no backoff.
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
	// Waiting, of a pending event: what holds it (waitingFor).
	Waiting string `json:"waiting,omitempty"`
	Error   string `json:"error"`
}

// waitingFor says what holds a pending event: "removed" (a propagation to a provider the
// configuration no longer has, or whose lifecycle calls it no longer declares: it waits
// for the provider's return, or emfa sync pending drop), "paused" (a deletion of a source
// the deletion guard paused: emfa sync resume SOURCE), "backoff" (it failed, and is tried
// again at its next attempt), or "queued" (its turn: it settles, waits for an earlier
// event of the same user, or is being applied). targets are the providers propagated to;
// nil: not known, and no propagation is said removed. A "queued" event may yet wait
// behind a paused deletion of its user (behindPaused).
func waitingFor(ev store.QueuedEvent, paused map[string]bool, targets []string, now time.Time) string {
	t, propagation := strings.CutPrefix(ev.Source, store.PropagationSource(""))
	switch {
	case propagation && targets != nil && !slices.Contains(targets, t):
		return "removed"
	case heldByGuard(ev, paused):
		return "paused"
	case ev.Waits(now):
		return "backoff"
	}
	return "queued"
}

// heldByGuard reports whether ev is a deletion the deletion guard holds: one of a paused
// source, not applied yet.
func heldByGuard(ev store.QueuedEvent, paused map[string]bool) bool {
	return ev.Type == provider.EventUserDelete && !ev.Applied && paused[ev.Source]
}

// behindPaused returns the seqs of those of evs (pending) that wait behind a deletion of
// their user that the deletion guard holds: a user's events are applied in order, so such
// an event moves only once the deletion does (emfa sync resume, or emfa sync pending
// drop). Without this an event so held said "queued", its turn, however long the source
// stayed paused.
func behindPaused(ctx context.Context, sq store.SyncQueue, evs []store.QueuedEvent, paused map[string]bool) (map[int64]bool, error) {
	held := map[int64]bool{}
	if len(paused) == 0 {
		return held, nil
	}
	// The first held deletion of each user, by the order the worker claims a user's events
	// in (time, then seq), read for all of evs' users at once, heldKeysRead of them to a
	// read: a read per event cost 10,000 reads for `--limit 10000`.
	type at struct {
		held bool
		time time.Time
		seq  int64
	}
	first := map[string]at{}
	var keys []string
	for _, ev := range evs {
		if strings.HasPrefix(ev.Source, store.PropagationSource("")) {
			continue
		}
		if _, ok := first[ev.Key]; !ok {
			first[ev.Key] = at{}
			keys = append(keys, ev.Key)
		}
	}
	for chunk := range slices.Chunk(keys, heldKeysRead) {
		f := store.QueueFilter{State: store.QueuePending, Keys: chunk, Types: []string{provider.EventUserDelete}, Limit: 1000}
		for {
			dels, err := sq.ListEvents(ctx, f)
			if err != nil {
				return nil, err
			}
			for _, d := range dels {
				if !heldByGuard(d, paused) {
					continue
				}
				if a := first[d.Key]; !a.held || d.Time.Before(a.time) || d.Time.Equal(a.time) && d.Seq < a.seq {
					first[d.Key] = at{true, d.Time, d.Seq}
				}
			}
			if len(dels) < f.Limit {
				break
			}
			f.AfterSeq = dels[len(dels)-1].Seq
		}
	}
	for _, ev := range evs {
		if a, ok := first[ev.Key]; ok && a.held && (a.time.Before(ev.Time) || a.time.Equal(ev.Time) && a.seq < ev.Seq) {
			held[ev.Seq] = true
		}
	}
	return held, nil
}

// heldKeysRead is how many users' held deletions behindPaused reads at once: well under
// the bound parameters of a statement (SQLite's 32,766, PostgreSQL's 65,535).
const heldKeysRead = 1000

// listEvents prints the events in state, as `emfa sync pending` and `emfa sync
// dead-letters list` do.
func (d *deps) listEvents(ctx context.Context, e *env, state string, o eventListOptions) error {
	q, err := e.cliQueue()
	if err != nil {
		return err
	}
	evs, err := q.Store.ListEvents(ctx, store.QueueFilter{State: state, Source: o.source, Limit: o.limit})
	if err != nil {
		return err
	}
	paused := map[string]bool{}
	var targets []string
	if state == store.QueuePending {
		ps, err := q.Store.ListPauses(ctx)
		if err != nil {
			return err
		}
		for _, p := range ps {
			paused[p.Source] = true
		}
		// A remote provider's webhook that does not load leaves the targets unknown: no
		// propagation is then said removed.
		if ts, err := e.lifecycleTargets(); err == nil {
			targets = append([]string{}, ts...)
		}
	}
	// A backoff's end is on the queue's clock (the database's, on PostgreSQL), and so is
	// this look: on a machine whose clock is ahead, an event backing off said "queued".
	now := e.now().Add(-clockAhead(q.Store))
	views := make([]eventView, len(evs))
	var turn []store.QueuedEvent // those "queued": their turn, unless behind a held deletion
	for i, ev := range evs {
		v := eventView{Seq: ev.Seq, Source: ev.Source, EventID: ev.EventID, Type: ev.Type, Key: ev.Key, Time: ev.Time, Queued: ev.CreatedAt,
			State: ev.State, Applied: ev.Applied, Attempts: ev.Attempts, Error: ev.Note}
		if state == store.QueuePending {
			v.Waiting = waitingFor(ev, paused, targets, now)
			if v.Waiting == "queued" {
				turn = append(turn, ev)
			}
			if ev.Waits(now) {
				v.NextAttempt = &ev.NextAt
			}
		}
		views[i] = v
	}
	if len(turn) > 0 {
		held, err := behindPaused(ctx, q.Store, turn, paused)
		if err != nil {
			return err
		}
		for i := range views {
			if views[i].Waiting == "queued" && held[views[i].Seq] {
				views[i].Waiting = "paused"
			}
		}
	}
	if o.asJSON {
		enc := json.NewEncoder(d.stdout)
		for _, v := range views {
			if err := enc.Encode(v); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(d.stdout, 0, 4, 2, ' ', 0)
	if state == store.QueuePending {
		fmt.Fprintln(tw, "SEQ\tSOURCE\tEVENT\tTYPE\tKEY\tQUEUED\tATTEMPTS\tWAITING\tNEXT ATTEMPT\tERROR")
		for _, v := range views {
			next := "-"
			if v.NextAttempt != nil {
				next = v.NextAttempt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", v.Seq, shown(v.Source), shown(v.EventID), shown(v.Type), shown(v.Key),
				v.Queued.UTC().Format(time.RFC3339), v.Attempts, v.Waiting, next, shown(v.Error))
		}
	} else {
		fmt.Fprintln(tw, "SEQ\tSOURCE\tEVENT\tTYPE\tKEY\tATTEMPTS\tERROR")
		for _, v := range views {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\n", v.Seq, shown(v.Source), shown(v.EventID), shown(v.Type), shown(v.Key), v.Attempts, shown(v.Error))
		}
	}
	return tw.Flush()
}

// shown is a queue's text (a vendor's error, an event's key and id, a pause's reason) as
// a table prints it: the vendor's and the directory's, anyone's input, shown as the audit
// trail and the import report show it, control characters escaped. Raw, an escape
// sequence in a vendor's error body reached the operator's terminal (ESC[2J cleared it, a
// carriage return printed over the row). The queue cuts a note at 500 bytes already.
func shown(s string) string { return provider.Printable(s, maxReportText) }

func (e *env) cliQueue() (*sync.Queue, error) {
	m, err := lifecycle.New(lifecycle.Options{Store: e.store, Now: e.now, Log: e.log, DefaultCountry: e.cfg.Lifecycle.DefaultCountry})
	if err != nil {
		return nil, err
	}
	return e.syncQueue(m, nil)
}

// policy compiles a provider's capability policy (CEL over the user), nil without one.
func (e *env) policy(p config.Provider) (provider.Policy, error) {
	if len(p.Policy) == 0 {
		return nil, nil
	}
	var users provider.UserReader
	if e.store != nil {
		users = e.store
	}
	pol, err := provider.NewCELPolicy(p.Policy, users, e.now)
	if err != nil {
		return nil, err
	}
	return pol, nil
}
