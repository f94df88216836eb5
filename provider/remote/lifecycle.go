package remote

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/retryafter"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/transform"
)

// LifecycleStep is one call of a lifecycle resource: a contract-shaped resource (suffix,
// method, expectedStatus, outgoing and incoming transforms) with a name, so that later
// steps can read its answer as steps.<name>, and optionally forEach, a CEL expression giving
// a list: the call is then made once per element, with the element bound to item.
//
// Lifecycle transforms see event (the directory event: type, id, source, time, username,
// email, phone, displayName, attributes, group, newGroup, and disabled: true on a
// user.create of a user created disabled; a profile field the event does not carry is
// absent, so has(event.email) tells) and steps (the answers so far) besides
// the contract transforms' variables. A step's answer is {"status": <HTTP status>,
// "body": <the incoming transform's body, else the vendor's body>}; a forEach step's is a
// list of those, one per element. Result keys beyond the contract's: skip, and fail
// (incoming). Outgoing {"skip": true} leaves this call out (its answer is status 0, body
// null); incoming {"skip": true} ends the event there as done (an unknown user need not
// be deleted); incoming {"fail": "<message>"} fails the event with that message, retried
// and then dead-lettered as any failure (a conflict at the vendor an operator resolves).
//
// NextPage, a CEL expression, pages a list the vendor answers a page at a time: after each
// call it gives the next page (any value; the transforms read it as page, null on the
// first call), or null to stop. It sees the incoming transform's variables, page, and
// answer, this call's answer. The step's answer is its last call's; a search stops at
// the page that holds what it looks for. MaxPages bounds the calls (DefaultMaxPages):
// a list longer than that fails the step rather than be read in part.
type LifecycleStep struct {
	Name     string `json:"name"`
	ForEach  string `json:"forEach"`
	NextPage string `json:"nextPage"`
	MaxPages int    `json:"maxPages"`
	Resource
}

// Bounds of a paged step's calls.
const (
	DefaultMaxPages = 100
	maxMaxPages     = 10000
)

// LifecycleEvents are the event types a lifecycle section may name.
var LifecycleEvents = []string{
	provider.EventUserCreate, provider.EventUserUpdate, provider.EventUserDisable,
	provider.EventUserEnable, provider.EventUserDelete, provider.EventUserMFAReset,
	provider.EventGroupCreate, provider.EventGroupRename, provider.EventGroupDelete,
	provider.EventGroupMemberAdd, provider.EventGroupMemberRemove,
}

// Variables of lifecycle transforms beyond the contract's.
const (
	VarEvent  = "event"
	VarSteps  = "steps"
	VarItem   = "item"
	VarPage   = "page"   // a paged step's transforms and nextPage
	VarAnswer = "answer" // nextPage: this call's answer
)

// Outcomes a propagation is audited with.
const (
	OutcomeDone    = "SUCCESS"
	OutcomeSkipped = "SKIPPED"
	OutcomeFailed  = "FAILED"
)

var stepNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// stepName is step i's name: its own, else step<i+1>.
func (s LifecycleStep) stepName(i int) string {
	if s.Name != "" {
		return s.Name
	}
	return fmt.Sprintf("step%d", i+1)
}

// validateLifecycle checks event types, step names, methods and statuses; CEL and the
// references between steps are checked by compileLifecycle.
func (w *Webhook) validateLifecycle(add func(path, format string, args ...any)) {
	for _, typ := range slices.Sorted(maps.Keys(w.Lifecycle)) {
		at := "lifecycle." + typ
		if !slices.Contains(LifecycleEvents, typ) {
			add(at, "unknown event type %q (want one of %s)", typ, strings.Join(LifecycleEvents, ", "))
		}
		steps := w.Lifecycle[typ]
		if len(steps) == 0 {
			add(at, "at least one step is required")
		}
		seen := map[string]int{} // a step's name: its index
		for i, s := range steps {
			sat := fmt.Sprintf("%s[%d]", at, i)
			name := s.stepName(i)
			// The name is a string the file gives: said what is wrong with, not shown.
			if j, dup := seen[name]; dup {
				add(sat+".name", "names an earlier step too (%s[%d])", at, j)
			} else if !stepNameRE.MatchString(name) {
				add(sat+".name", "not a name (letters, digits, _)")
			} else {
				seen[name] = i
			}
			if !slices.Contains(methods, s.method()) {
				add(sat+".method", "not one of %s", strings.Join(methods, ", "))
			}
			checkStatuses(sat+".expectedStatus", s.ExpectedStatus, add)
			switch {
			case s.MaxPages != 0 && strings.TrimSpace(s.NextPage) == "":
				add(sat+".maxPages", "bounds the calls of nextPage, which this step does not have")
			case s.MaxPages < 0 || s.MaxPages > maxMaxPages:
				add(sat+".maxPages", "must be between 1 and %d (default %d)", maxMaxPages, DefaultMaxPages)
			}
		}
	}
}

// lifecycleStep is a step compiled.
type lifecycleStep struct {
	name     string
	res      *resource
	forEach  *transform.Program // nil: one call
	nextPage *transform.Program // nil: one page
	maxPages int
}

// lcExpr is what a lifecycle expression is: a transform of a direction, forEach, or
// nextPage.
type lcExpr int

const (
	lcOutgoing lcExpr = iota
	lcIncoming
	lcForEach
	lcNextPage
)

// lcEnvs are the lifecycle environments by expression, item (a forEach step's) and page
// (a paged step's), built on first use (see outgoingEnv): most configurations have no
// lifecycle.
var lcEnvs = func() (envs [4][2][2]func() *transform.Env) {
	for x := range envs {
		for item := range envs[x] {
			for page := range envs[x][item] {
				envs[x][item][page] = sync.OnceValue(func() *transform.Env {
					return mustLifecycleEnv(lcExpr(x), item == 1, page == 1)
				})
			}
		}
	}
	return envs
}()

func lcEnv(x lcExpr, item, page bool) *transform.Env {
	return lcEnvs[x][b2i(item)][b2i(page)]()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// mustLifecycleEnv is the environment of a lifecycle expression: event and steps; for a
// transform, the contract environment of its direction; for nextPage, the incoming one
// and answer; item for forEach steps and page for paged ones (so that an expression
// reading either elsewhere does not compile).
func mustLifecycleEnv(x lcExpr, item, page bool) *transform.Env {
	vars := map[string]*cel.Type{
		VarEvent: cel.MapType(cel.StringType, cel.DynType), VarSteps: cel.MapType(cel.StringType, cel.DynType),
	}
	switch x {
	case lcOutgoing:
		vars[transform.VarHeader] = cel.MapType(cel.StringType, cel.ListType(cel.StringType))
		vars[transform.VarMethod] = cel.StringType
		vars[transform.VarPath] = cel.StringType
		vars[transform.VarHost] = cel.StringType
		vars[transform.VarAuthenticationHeader] = cel.MapType(cel.StringType, cel.StringType)
		vars[transform.VarNow] = cel.TimestampType
	case lcIncoming, lcNextPage:
		vars[transform.VarHeader] = cel.MapType(cel.StringType, cel.ListType(cel.StringType))
		vars[transform.VarBody] = cel.DynType
		vars[transform.VarStatusCode] = cel.IntType
		vars[transform.VarRequest] = cel.MapType(cel.StringType, cel.DynType)
		if x == lcNextPage {
			vars[VarAnswer] = cel.MapType(cel.StringType, cel.DynType)
		}
	}
	if item {
		vars[VarItem] = cel.DynType
	}
	if page {
		vars[VarPage] = cel.DynType
	}
	return mustVarsEnv(vars)
}

func mustVarsEnv(vars map[string]*cel.Type) *transform.Env {
	env, err := transform.NewEnvWithVariables(vars)
	if err != nil {
		panic(fmt.Sprintf("remote: lifecycle environment: %v", err))
	}
	return env
}

// compileLifecycle compiles every lifecycle step and checks that a step reads only the
// answers of earlier steps of its event.
func compileLifecycle(w *Webhook) (map[string][]*lifecycleStep, []string, config.Errors) {
	var errs config.Errors
	var warnings []string
	out := map[string][]*lifecycleStep{}
	for _, typ := range slices.Sorted(maps.Keys(w.Lifecycle)) {
		defs := w.Lifecycle[typ]
		names := make([]string, len(defs))
		for i, s := range defs {
			names[i] = s.stepName(i)
		}
		steps := make([]*lifecycleStep, len(defs))
		for i, def := range defs {
			at := fmt.Sprintf("lifecycle.%s[%d]", typ, i)
			st := &lifecycleStep{name: names[i], res: &resource{
				name: "lifecycle:" + typ + ":" + names[i], def: def.Resource,
				method: def.method(), methodValue: transform.NewValue(def.method()),
			}, maxPages: cmp.Or(def.MaxPages, DefaultMaxPages)}
			item, page := strings.TrimSpace(def.ForEach) != "", strings.TrimSpace(def.NextPage) != ""
			for _, d := range []struct {
				where, src string
				env        *transform.Env
				dst        **transform.Program
			}{
				{"forEach", def.ForEach, lcEnv(lcForEach, false, false), &st.forEach},
				{"transform.outgoing", def.Transform.Outgoing, lcEnv(lcOutgoing, item, page), &st.res.outgoing},
				{"transform.incoming", def.Transform.Incoming, lcEnv(lcIncoming, item, page), &st.res.incoming},
				{"nextPage", def.NextPage, lcEnv(lcNextPage, item, page), &st.nextPage},
			} {
				if strings.TrimSpace(d.src) == "" {
					continue
				}
				src := d.src
				switch d.where {
				case "forEach":
					src = `{"items": ` + src + "\n}" // a list; a transform's result is a map
				case "nextPage":
					src = `{"next": ` + src + "\n}" // any value or null
				}
				prg, err := transform.Compile(d.env, src)
				if err != nil {
					msg := celMessage(err)
					if d.where == "nextPage" && strings.Contains(msg, "'_?_:_'") && strings.Contains(msg, "null)") {
						msg += "\n(a page beside null is written dyn(...): cond ? dyn(offset + 100) : null)"
					}
					errs = append(errs, &config.FieldError{Path: at + "." + d.where, Msg: msg})
					continue
				}
				for _, ref := range stepRefs(prg) {
					if j := slices.Index(names, ref); j < 0 || j >= i {
						what := "no step"
						if j == i {
							what = "this step itself"
						} else if j > i {
							what = "a later step"
						}
						errs = append(errs, &config.FieldError{Path: at + "." + d.where,
							Msg: fmt.Sprintf("steps.%s names %s; a step reads only the answers of earlier steps (%s)",
								ref, what, strings.Join(names[:i], ", "))})
					}
				}
				if d.where == "transform.outgoing" {
					if err := checkResultKeys(prg, "skip"); err != nil {
						errs = append(errs, &config.FieldError{Path: at + "." + d.where, Msg: err.Error()})
						continue
					}
				}
				*d.dst = prg
				if msg := prg.CostWarning(); msg != "" {
					warnings = append(warnings, fmt.Sprintf("%s.%s: %s", at, d.where, msg))
				}
			}
			steps[i] = st
		}
		out[typ] = steps
	}
	return out, warnings, errs
}

// stepRefs are the step names a compiled lifecycle expression reads, as steps.<name> or
// steps["<name>"].
func stepRefs(prg *transform.Program) []string { return prg.Fields(VarSteps) }

// Lifecycle lists the event types the provider propagates, sorted.
func (e *Engine) Lifecycle() []string { return slices.Sorted(maps.Keys(e.lifecycle)) }

var _ provider.LifecyclePropagator = (*Engine)(nil)

// PropagationTarget names the engine's propagations in the sync queue: its provider's
// credential prefix, which stays the provider's across restarts and reloads.
func (e *Engine) PropagationTarget() string { return e.prefix }

// Propagate performs the provider's lifecycle calls for ev, in order. An event type the
// provider declares nothing for is done at once. Any fault (the vendor unreachable, a
// status outside expectedStatus, a transform failing) is an error, for the queue to retry;
// the calls made before it are made again then, so they should be idempotent at the vendor
// or looked up first. Each propagation is audited (resource lifecycle:<type>) when the
// engine has an Auditor (auditedAs). A user created disabled (ev.Disabled) is a user.create, then a
// user.disable of the same user whatever the create's steps did, so that a vendor
// configuration written for the two events keeps the user disabled there too; an update
// that changes the state (ev.State) is a user.update, then a user.disable or user.enable.
func (e *Engine) Propagate(ctx context.Context, ev provider.LifecycleEvent) error {
	if err := e.propagateType(ctx, ev); err != nil {
		return err
	}
	var then string
	switch {
	case ev.Type == provider.EventUserCreate && ev.Disabled,
		ev.Type == provider.EventUserUpdate && ev.State == provider.StateDisabled:
		then = provider.EventUserDisable
	case ev.Type == provider.EventUserUpdate && ev.State == provider.StateActive:
		then = provider.EventUserEnable
	default:
		return nil
	}
	return e.propagateType(ctx, provider.LifecycleEvent{ID: ev.ID, Type: then, Source: ev.Source, Time: ev.Time, Username: ev.Username,
		RequestID: ev.RequestID, Actor: ev.Actor})
}

// auditedAs is who and which request a propagation of ev is audited as: the admin who
// made the change (ev.Actor, the token's name or cli), else the apply's actor,
// sync:SOURCE, which no admin token's name can be; and the id of the request that queued
// the event, else (the CLI's, a sweep's, one queued by an older emfa) the event's own.
func auditedAs(ev provider.LifecycleEvent) (actor, requestID string) {
	actor, requestID = ev.Actor, ev.RequestID
	if actor == "" {
		actor = "sync:" + ev.Source
	}
	if requestID == "" {
		requestID = ev.ID
	}
	return actor, requestID
}

// propagateType performs and audits the calls the provider declares for ev's type.
func (e *Engine) propagateType(ctx context.Context, ev provider.LifecycleEvent) error {
	steps, ok := e.lifecycle[ev.Type]
	if !ok {
		return nil
	}
	skipped, err := e.propagate(ctx, ev, steps)
	outcome, reason := OutcomeDone, ""
	switch {
	case err != nil:
		outcome, reason = OutcomeFailed, err.Error()
	case skipped != "":
		outcome, reason = OutcomeSkipped, "step "+skipped+" skipped the rest"
	}
	if e.audit != nil {
		// Recorded even when the worker is stopping (the call failed for that), yet
		// bounded, so that a store that hangs does not hold the shutdown.
		actor, requestID := auditedAs(ev)
		actx, cancel := provider.Detach(ctx)
		aerr := e.audit.AppendAudit(actx, store.AuditEvent{
			Time: e.now(), RequestID: requestID, Provider: e.prefix, Username: ev.Username,
			Resource: provider.ResourceLifecyclePrefix + ev.Type, Outcome: outcome, Reason: reason, Actor: actor,
		})
		cancel()
		if aerr != nil {
			e.observer.StoreError("audit") // emfa_store_errors_total{operation="audit"}
			e.log.Error("audit lifecycle propagation", "provider", e.prefix, "event", ev.Type, "err", aerr)
		}
	}
	if err != nil {
		return fmt.Errorf("propagate %s to %s: %w", ev.Type, e.prefix, err)
	}
	return nil
}

// propagate runs the steps; skipped names the step whose incoming transform ended the event.
func (e *Engine) propagate(ctx context.Context, ev provider.LifecycleEvent, steps []*lifecycleStep) (skipped string, err error) {
	em := eventMap(ev)
	event := transform.NewValue(em)
	evBody, err := json.Marshal(em)
	if err != nil {
		return "", fmt.Errorf("event: %w", err)
	}
	answers := make(map[string]any, len(steps))
	for _, st := range steps {
		vars := transform.Vars{VarEvent: event, VarSteps: transform.NewValue(answers)}
		if st.forEach == nil {
			answer, skip, err := e.stepCall(ctx, st, vars, evBody)
			if err != nil {
				return "", fmt.Errorf("step %s: %w", st.name, err)
			}
			answers[st.name] = answer
			if skip {
				return st.name, nil
			}
			continue
		}
		res, err := st.forEach.EvalValue(ctx, vars)
		if err != nil {
			e.stats.TransformErrors.Add(1)
			e.observer.CELError(e.prefix, st.res.name, "forEach")
			return "", fmt.Errorf("step %s: forEach: %w", st.name, err)
		}
		list0, _ := res.Field("items")
		var items []transform.Value
		if err := list0.Elems(func(v transform.Value) error { items = append(items, v); return nil }); err != nil {
			e.stats.TransformErrors.Add(1)
			e.observer.CELError(e.prefix, st.res.name, "forEach")
			return "", fmt.Errorf("step %s: forEach is not a list", st.name)
		}
		list := make([]any, 0, len(items))
		for i, item := range items {
			vars[VarItem] = item
			answer, skip, err := e.stepCall(ctx, st, vars, evBody)
			if err != nil {
				return "", fmt.Errorf("step %s[%d]: %w", st.name, i, err)
			}
			list = append(list, answer)
			if skip {
				return st.name, nil
			}
		}
		answers[st.name] = list
	}
	return "", nil
}

// eventMap is ev as lifecycle transforms see it: profile fields only when said.
func eventMap(ev provider.LifecycleEvent) map[string]any {
	m := map[string]any{
		"type": ev.Type, "id": ev.ID, "source": ev.Source, "username": ev.Username,
		"group": ev.Group, "newGroup": ev.NewGroup,
	}
	if !ev.Time.IsZero() {
		m["time"] = ev.Time.UTC().Format(time.RFC3339Nano)
	}
	for k, p := range map[string]*string{"email": ev.Email, "phone": ev.Phone, "country": ev.Country, "displayName": ev.DisplayName} {
		if p != nil {
			m[k] = *p
		}
	}
	if ev.Attributes != nil {
		m["attributes"] = ev.Attributes
	}
	if ev.Disabled {
		m["disabled"] = true
	}
	if ev.State != "" {
		m["state"] = ev.State
	}
	return m
}

// skippedAnswer is the answer of a call its outgoing transform left out.
var skippedAnswer = map[string]any{"status": int64(0), "body": nil}

// stepCall makes a step's call (for one item of a forEach step), and the calls of its
// further pages while nextPage gives one. It answers the last call's answer and whether
// that call's incoming transform ended the event. A call its outgoing transform leaves
// out ends the paging; nextPage giving a page already read, or more than maxPages pages,
// is an error: the vendor's list would otherwise be read in part, or forever.
func (e *Engine) stepCall(ctx context.Context, st *lifecycleStep, vars transform.Vars, evBody []byte) (map[string]any, bool, error) {
	if st.nextPage == nil {
		answer, skip, _, err := e.lifecycleCall(ctx, st, vars, evBody)
		return answer, skip, err
	}
	vars = maps.Clone(vars)
	vars[VarPage] = transform.Value{} // null: the first page
	var seen []string                 // the pages asked for, as JSON
	for n := 1; ; n++ {
		answer, skip, iv, err := e.lifecycleCall(ctx, st, vars, evBody)
		if err != nil {
			if n > 1 {
				err = fmt.Errorf("page %d: %w", n, err)
			}
			return nil, false, err
		}
		if skip || iv == nil {
			return answer, skip, nil
		}
		iv[VarAnswer] = answer
		res, err := st.nextPage.EvalValue(ctx, iv)
		if err != nil {
			e.stats.TransformErrors.Add(1)
			e.observer.CELError(e.prefix, st.res.name, "nextPage")
			return nil, false, fmt.Errorf("page %d: nextPage: %w", n, err)
		}
		next, _ := res.Field("next")
		if next.IsNull() {
			return answer, false, nil
		}
		if n >= st.maxPages {
			return nil, false, fmt.Errorf("more than %d pages (maxPages)", st.maxPages)
		}
		j, err := next.Interface()
		var key []byte
		if err == nil {
			key, err = json.Marshal(j)
		}
		if err != nil {
			e.stats.TransformErrors.Add(1)
			e.observer.CELError(e.prefix, st.res.name, "nextPage")
			return nil, false, fmt.Errorf("page %d: nextPage: %w", n, err)
		}
		if slices.Contains(seen, string(key)) {
			return nil, false, fmt.Errorf("page %d: nextPage gave a page already read", n)
		}
		seen = append(seen, string(key))
		vars[VarPage] = next
	}
}

// lifecycleCall makes one call of a step: outgoing transform (which may skip it), the
// request, the status check and the incoming transform. It answers the step's answer,
// whether the incoming transform ended the event, and the incoming transform's variables
// (nil when the outgoing transform left the call out). It is observed as a contract call
// is, under the resource lifecycle:<type>:<step>; a call its transform skips is not a
// vendor call.
func (e *Engine) lifecycleCall(ctx context.Context, st *lifecycleStep, vars transform.Vars, evBody []byte) (answer map[string]any, skip bool, iv transform.Vars, err error) {
	r := st.res
	e.stats.Calls.Add(1)
	outcome, took := "error", time.Duration(0)
	defer func() {
		if outcome != "" {
			e.observer.VendorCall(e.prefix, r.name, outcome, took)
		}
	}()
	base, target, host, out := e.start(r)
	path := out.path // the outgoing transform's, which incoming's request repeats
	if r.outgoing != nil {
		ov := maps.Clone(vars)
		ov[transform.VarHeader] = e.headerValue
		ov[transform.VarMethod] = r.methodValue
		ov[transform.VarPath] = path
		ov[transform.VarHost] = host
		ov[transform.VarAuthenticationHeader] = e.authValue
		ov[transform.VarNow] = e.now()
		res, err := r.outgoing.EvalValue(ctx, ov)
		if err != nil {
			e.stats.TransformErrors.Add(1)
			outcome = "transform_error"
			e.observer.CELError(e.prefix, r.name, "outgoing")
			return nil, false, nil, fmt.Errorf("outgoing transform: %w", err)
		}
		if skipOf(res) {
			outcome = ""
			return skippedAnswer, false, nil, nil
		}
		if err := out.apply(r.outgoing, res, "skip"); err != nil {
			e.stats.TransformErrors.Add(1)
			outcome = "transform_error"
			e.observer.CELError(e.prefix, r.name, "outgoing")
			return nil, false, nil, fmt.Errorf("outgoing transform: %w", err)
		}
	}
	out.onto(target)
	var payload []byte
	switch {
	case out.bodySet:
		payload = out.body
	case out.method == "POST" || out.method == "PUT" || out.method == "PATCH":
		payload = evBody // as a contract call sends Verify's payload
	}
	resp, took, err := e.exchange(ctx, base, target, out, payload)
	// Where the call went, for its failure, which reaches the log, the queue's note and
	// the audit record: the path without what a transform put after a "?" in it (a key,
	// as provider.SafeURL leaves out).
	where, _, _ := strings.Cut(out.path, "?")
	where = out.method + " " + where
	if err != nil {
		outcome = failureOutcome(err)
		return nil, false, nil, callFailure(where, err)
	}
	if !e.w.accepts(r.def, resp.Status) {
		e.stats.UnexpectedStatus.Add(1)
		outcome = "status"
		err := fmt.Errorf("%s: vendor answered %d", where, resp.Status)
		if d, busy := e.retryAfter(resp); busy {
			// Refused for now (rate-limited), the vendor saying when to come back or
			// not: the queue waits that long, or its backoff, and sends the vendor
			// nothing meanwhile (sync's retry), rather than ask again sooner and be
			// refused again.
			if d > 0 {
				err = fmt.Errorf("%w (Retry-After %s)", err, d)
			}
			err = &busyError{err: err, after: d}
		}
		return nil, false, nil, err
	}
	body, err := decodeBody(resp)
	if err != nil {
		e.stats.VendorErrors.Add(1)
		return nil, false, nil, callFailure(where, err)
	}
	answer = map[string]any{"status": int64(resp.Status), "body": body}
	iv = maps.Clone(vars)
	iv[transform.VarBody] = body
	iv[transform.VarHeader] = transform.NewHeaderValue(resp.Header)
	iv[transform.VarStatusCode] = int64(resp.Status)
	// request is the outgoing transform's inputs, as for contract resources; its body is
	// the event.
	iv[transform.VarRequest] = map[string]any{
		"body": vars[VarEvent], "header": e.headerValue, "method": r.methodValue, "path": path, "host": host,
	}
	if r.incoming == nil {
		outcome = "ok"
		return answer, false, iv, nil
	}
	outcome = "transform_error" // until the incoming transform gives its result
	res, err := r.incoming.EvalValue(ctx, iv)
	if err != nil {
		e.stats.TransformErrors.Add(1)
		e.observer.CELError(e.prefix, r.name, "incoming")
		return nil, false, nil, fmt.Errorf("incoming transform (status %d): %w", resp.Status, err)
	}
	outcome = "ok"
	if msg := failOf(res); msg != "" {
		// The vendor's answer says the event cannot be carried out as it stands (a
		// conflict): failed with the file's words, which reach the queue's note and the
		// dead letter an operator lists.
		return nil, false, nil, fmt.Errorf("%s: %s", where, msg)
	}
	if b, ok := res.Field("body"); ok {
		answer["body"] = b
	}
	return answer, skipOf(res), iv, nil
}

// failOf reads an incoming transform result's fail key: a non-empty string fails the
// event with it; anything else is no.
func failOf(res transform.Value) string {
	v, ok := res.Field("fail")
	if !ok {
		return ""
	}
	s, _ := v.Text()
	return s
}

// skipOf reads a transform result's skip key; anything but true is no.
func skipOf(res transform.Value) bool {
	v, ok := res.Field("skip")
	if !ok {
		return false
	}
	b, _ := v.Bool()
	return b
}

// maxVendorRetryAfter bounds a Retry-After read (the sync queue bounds the wait further,
// sync.MaxRetryAfter): a number of seconds past it is taken as it.
const maxVendorRetryAfter = 24 * time.Hour

// retryAfter says whether an answer refuses the call for now (busy): a 429 (rate-limited,
// whatever else it says: DUO's says nothing), or a 503 with a Retry-After (a 503 without
// is a failure as a 500 is); and the wait its Retry-After asks for, in seconds or as an
// HTTP date (from the engine's now), at most maxVendorRetryAfter; 0 when it asks for none
// (no header, one that does not parse, a date past).
func (e *Engine) retryAfter(resp *response) (d time.Duration, busy bool) {
	if resp.Status != http.StatusTooManyRequests && resp.Status != http.StatusServiceUnavailable {
		return 0, false
	}
	d, ok := retryafter.Parse(resp.Header.Get("Retry-After"), e.now())
	if !ok {
		return 0, resp.Status == http.StatusTooManyRequests
	}
	return min(d, maxVendorRetryAfter), true
}

// busyError is a lifecycle call's failure for a vendor that asked to be called again
// after a while: RetryAfter says how long, for the sync queue's retry.
type busyError struct {
	err   error
	after time.Duration
}

func (b *busyError) Error() string             { return b.err.Error() }
func (b *busyError) Unwrap() error             { return b.err }
func (b *busyError) RetryAfter() time.Duration { return b.after }

// callFailure is a lifecycle call's failure err at where, its kind named first, once: a
// failed token fetch says "authentication: …" already.
func callFailure(where string, err error) error {
	k := errorKind(err)
	if strings.HasPrefix(err.Error(), k+": ") {
		return fmt.Errorf("%s: %w", where, err)
	}
	return fmt.Errorf("%s: %s: %w", where, k, err)
}
