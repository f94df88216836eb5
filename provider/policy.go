package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"cel.dev/cel-go/cel"

	"github.com/emfa/emfa/store"
)

// Policy restricts a capability to the users a CEL expression over the user admits, e.g.
// `"sms-allowed" in user.groups`: a denied capability is hidden from enrollments and
// refuses initiate and validate (audited as FAILED with the reason).
type Policy interface {
	// Denied returns why the capability is denied to the user, "" when it is allowed.
	Denied(ctx context.Context, username, capability string) (string, error)
}

// UserReader is what a policy reads of a user; store.Store satisfies it.
type UserReader interface {
	GetUserRecord(ctx context.Context, name string) (store.UserRecord, error)
}

// CELPolicy is a Policy of one CEL expression per capability, compiled at load. The
// expression sees `user`: name, groups, email, phone, displayName, attributes, disabled.
// An unknown user is a user without groups or attributes. An expression that fails to
// evaluate, or does not yield true, denies.
type CELPolicy struct {
	users UserReader
	progs map[string]celRule // by lower-cased capability
	ttl   time.Duration
	now   func() time.Time

	mu    gosync.Mutex
	cache map[string]cachedUser
}

type celRule struct {
	expr string
	prg  cel.Program
}

type cachedUser struct {
	at time.Time
	v  map[string]any
}

// policyCacheTTL bounds how stale a user's groups may be on the contract path; the
// cache keeps one read of the user per TTL for enrollments → initiate → validate.
const (
	policyCacheTTL  = 5 * time.Second
	policyCacheSize = 10000
)

var policyEnv = gosync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(cel.Variable("user", cel.MapType(cel.StringType, cel.DynType)))
})

// NewCELPolicy compiles rules (capability → expression); an expression that does not
// compile, or is not boolean, is an error naming its capability.
func NewCELPolicy(rules map[string]string, users UserReader, now func() time.Time) (*CELPolicy, error) {
	env, err := policyEnv()
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	p := &CELPolicy{users: users, progs: map[string]celRule{}, ttl: policyCacheTTL, now: now, cache: map[string]cachedUser{}}
	var errs []error
	for _, capability := range slices.Sorted(func(yield func(string) bool) {
		for k := range rules {
			if !yield(k) {
				return
			}
		}
	}) {
		expr := rules[capability]
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			errs = append(errs, fmt.Errorf("policy.%s: %w", capability, iss.Err()))
			continue
		}
		if t := ast.OutputType(); t != cel.BoolType && t != cel.DynType {
			errs = append(errs, fmt.Errorf("policy.%s: must be a boolean expression, not %s", capability, t))
			continue
		}
		prg, err := env.Program(ast, cel.CostLimit(100000), cel.InterruptCheckFrequency(100))
		if err != nil {
			errs = append(errs, fmt.Errorf("policy.%s: %w", capability, err))
			continue
		}
		p.progs[strings.ToLower(capability)] = celRule{expr: expr, prg: prg}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

func (p *CELPolicy) user(ctx context.Context, name string) (map[string]any, error) {
	now := p.now()
	p.mu.Lock()
	c, ok := p.cache[name]
	p.mu.Unlock()
	if ok && now.Sub(c.at) < p.ttl && !now.Before(c.at) {
		return c.v, nil
	}
	v := map[string]any{"name": name, "groups": []string{}, "email": "", "phone": "", "country": "", "displayName": "",
		"attributes": map[string]string{}, "disabled": false}
	r, err := p.users.GetUserRecord(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		groups := r.Profile.Groups
		if groups == nil {
			groups = []string{}
		}
		attrs := r.Profile.Attributes
		if attrs == nil {
			attrs = map[string]string{}
		}
		v = map[string]any{"name": r.Name, "groups": groups, "email": r.Profile.Email, "phone": r.Profile.Phone,
			"country": r.Profile.Country, "displayName": r.Profile.DisplayName, "attributes": attrs, "disabled": r.Disabled}
	}
	p.mu.Lock()
	if len(p.cache) >= policyCacheSize {
		clear(p.cache) // a bound, not an LRU: refilling costs one read per user
	}
	p.cache[name] = cachedUser{at: now, v: v}
	p.mu.Unlock()
	return v, nil
}

// Denied evaluates the capability's rule; a capability without one is allowed.
func (p *CELPolicy) Denied(ctx context.Context, username, capability string) (string, error) {
	rule, ok := p.progs[strings.ToLower(capability)]
	if !ok {
		return "", nil
	}
	u, err := p.user(ctx, username)
	if err != nil {
		return "", err
	}
	out, _, err := rule.prg.ContextEval(ctx, map[string]any{"user": u})
	if err != nil && ctx.Err() != nil {
		// Cut short because the request ended: nothing was decided, as with a store read
		// cut short; not the user denied (a FAILED recorded, an idempotent call's too).
		return "", fmt.Errorf("policy %s: %w", capability, context.Cause(ctx))
	}
	if err != nil {
		return "capability " + capability + " denied by policy (evaluation failed: " + err.Error() + ")", nil
	}
	if b, ok := out.Value().(bool); !ok || !b {
		return "capability " + capability + " denied by policy", nil
	}
	return "", nil
}

// denied is the refusal for a capability the provider's policy denies the user, or nil.
func (p *Provider) denied(ctx context.Context, username, capability string) (*Outcome, error) {
	if p.Policy == nil {
		return nil, nil
	}
	reason, err := p.Policy.Denied(ctx, username, capability)
	if err != nil || reason == "" {
		return nil, err
	}
	return ptr(Failed(reason)), nil
}
