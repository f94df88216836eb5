package provider

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/emfa/emfa/store"
)

// Resource names of the contract.
const (
	ResourceEnrollments = "enrollments"
	ResourceInitiate    = "initiate"
	ResourceValidate    = "validate"
	ResourceResult      = "result"
	ResourceTest        = "test"
)

// Auditor records decisions; store.Store satisfies it.
type Auditor interface {
	AppendAudit(ctx context.Context, e store.AuditEvent) error
}

// Provider is one configured external-MFA provider: the rules of the contract that hold
// whatever the engine (disabled providers, capability names, filtering, audit), wrapped
// around an Engine. The adapter calls nothing else.
type Provider struct {
	Name             string
	CredentialPrefix string
	Enabled          bool
	// Capabilities in the operator's spelling; requests match them case-insensitively
	// and answers use this spelling.
	Capabilities []string
	Engine       Engine
	Log          *slog.Logger
	Audit        Auditor // optional
	Now          func() time.Time
	// Switches, when set, hide and refuse capabilities switched off org-wide.
	Switches Switches
	// Policy, when set, hides and refuses capabilities a user may not use (policy.go).
	Policy Policy
}

// Capability resolves a capability as Verify sent it — bare ("totp") or prefixed
// ("emfa:totp") — to the configured spelling; ok is false when the provider does not
// expose it.
func (p *Provider) Capability(raw string) (string, bool) {
	if prefix, rest, found := strings.Cut(raw, ":"); found && strings.EqualFold(prefix, p.CredentialPrefix) {
		raw = rest
	}
	for _, c := range p.Capabilities {
		if strings.EqualFold(c, raw) {
			return c, true
		}
	}
	return "", false
}

// Enrollments answers the lookup: only factors whose capability the provider exposes,
// and [] for a disabled provider or an unknown user.
func (p *Provider) Enrollments(ctx context.Context, username string) ([]Enrollment, error) {
	out := []Enrollment{}
	if !p.Enabled {
		return out, nil
	}
	list, err := p.Engine.Enrollments(ctx, username)
	if err != nil {
		return nil, fmt.Errorf("provider %s: enrollments: %w", p.CredentialPrefix, err)
	}
	for _, e := range list {
		if c, ok := p.Capability(e.Capability); ok {
			if refusal, err := p.switchedOff(ctx, c); err != nil || refusal != nil {
				if err != nil {
					return nil, fmt.Errorf("provider %s: enrollments: %w", p.CredentialPrefix, err)
				}
				continue
			}
			if refusal, err := p.denied(ctx, username, c); err != nil || refusal != nil {
				if err != nil {
					return nil, fmt.Errorf("provider %s: enrollments: %w", p.CredentialPrefix, err)
				}
				continue
			}
			e.Capability = c
			out = append(out, e)
		}
	}
	return out, nil
}

// Initiate starts a challenge.
func (p *Provider) Initiate(ctx context.Context, req Request) (Outcome, error) {
	return p.call(ctx, ResourceInitiate, req, p.Engine.Initiate)
}

// Validate checks a code.
func (p *Provider) Validate(ctx context.Context, req Request) (Outcome, error) {
	return p.call(ctx, ResourceValidate, req, p.Engine.Validate)
}

// Result polls a challenge.
func (p *Provider) Result(ctx context.Context, req Request) (Outcome, error) {
	return p.call(ctx, ResourceResult, req, p.Engine.Result)
}

// Test is Verify's connection check.
func (p *Provider) Test(ctx context.Context) (Outcome, error) {
	if !p.Enabled {
		return Outcome{Status: StatusFailed, Attributes: map[string]any{"reason": "provider disabled"}}, nil
	}
	out, err := p.Engine.Test(ctx)
	if err != nil {
		return Outcome{}, fmt.Errorf("provider %s: test: %w", p.CredentialPrefix, err)
	}
	return out, nil
}

func (p *Provider) call(ctx context.Context, resource string, req Request, fn func(context.Context, Request) (Outcome, error)) (Outcome, error) {
	var out Outcome
	c, exposed := p.Capability(req.Capability)
	invalid := req.invalid()
	switch {
	case invalid != "":
		out = Failed(invalid) // before any store sees it: answered alike on every store
	case !p.Enabled:
		out = Failed("provider disabled")
	case !exposed:
		out = Failed(fmt.Sprintf("capability %q not exposed by this provider", req.Capability))
	default:
		req.Capability = c
		refusal, err := p.switchedOff(ctx, c)
		if err != nil {
			return Outcome{}, fmt.Errorf("provider %s: %s: %w", p.CredentialPrefix, resource, err)
		}
		if refusal == nil {
			refusal, err = p.denied(ctx, req.Username, c)
			if err != nil {
				return Outcome{}, fmt.Errorf("provider %s: %s: %w", p.CredentialPrefix, resource, err)
			}
		}
		if refusal != nil {
			out = *refusal
			break
		}
		if out, err = fn(ctx, req); err != nil {
			return Outcome{}, fmt.Errorf("provider %s: %s: %w", p.CredentialPrefix, resource, err)
		}
	}
	p.decide(ctx, req.RequestID, resource, req, out)
	return out, nil
}

// decide logs a decision and appends it to the audit trail. The reason goes there, never
// to Verify; codes and answers go nowhere.
func (p *Provider) decide(ctx context.Context, requestID, resource string, req Request, out Outcome) {
	level := slog.LevelInfo
	if out.Status == StatusFailed {
		level = slog.LevelWarn
	}
	// What the caller sent is recorded bounded and escaped: the audit write must not be
	// what fails (PostgreSQL refuses a NUL), nor a log line carry 30 KB or a forged line.
	req.Username = Printable(req.Username, MaxUsernameBytes)
	req.Capability = Printable(req.Capability, MaxCapabilityBytes)
	req.ID = Printable(req.ID, MaxFactorIDBytes)
	out.Reason = Printable(out.Reason, maxReasonBytes)
	if p.Log != nil {
		p.Log.Log(ctx, level, "decision",
			"provider", p.CredentialPrefix, "resource", resource, "capability", req.Capability,
			"factor", req.ID, "user", req.Username, "status", string(out.Status),
			"reason", out.Reason, "request_id", requestID, "webhook_id", req.WebhookID)
	}
	if p.Audit == nil {
		return
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	ev := store.AuditEvent{
		Time: now(), RequestID: requestID, Provider: p.CredentialPrefix, Username: req.Username,
		Capability: req.Capability, FactorID: req.ID, Resource: resource,
		Outcome: string(out.Status), Reason: out.Reason, WebhookID: req.WebhookID,
	}
	// The answer is decided already; losing an audit row must not turn it into an error,
	// but it must be visible.
	if err := p.Audit.AppendAudit(context.WithoutCancel(ctx), ev); err != nil && p.Log != nil {
		p.Log.Error("audit write", "provider", p.CredentialPrefix, "resource", resource, "err", err)
	}
}
