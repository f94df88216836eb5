package lifecycle

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// Token scopes, each including the one before it: read lists and gets; helpdesk also
// unblocks and resets people (unlocks and deletes a factor, resets a user, sends an
// activation code or link to the user's own destination); write does everything.
// The admin API's OpenAPI document names the scope each operation needs (x-scope).
const (
	ScopeRead     = "read"
	ScopeHelpdesk = "helpdesk"
	ScopeWrite    = "write"
)

// Scopes are the token scopes, from the narrowest to the widest.
var Scopes = []string{ScopeRead, ScopeHelpdesk, ScopeWrite}

// ScopeAllows reports whether a token of scope have may do what needs scope need. An
// unknown scope allows nothing, nor is anything allowed by it.
func ScopeAllows(have, need string) bool {
	h, n := slices.Index(Scopes, have), slices.Index(Scopes, need)
	return h >= 0 && n >= 0 && h >= n
}

// tokenPrefix marks an admin API token, so a leaked one is recognised by secret scanners
// and never mistaken for Verify's credentials.
const tokenPrefix = "emfa_at_"

var tokenName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Token is an admin API token as listed: never the token itself.
type Token struct {
	Name    string     `json:"name"`
	Scope   string     `json:"scope"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked,omitempty"`
}

// HashToken is what the store keeps of a secret emfa made (an admin token, an OAuth
// client's secret, an activation link, a self-service session's cookie): its SHA-256,
// hex-encoded. Each holds 256 random bits, so a fast hash is as safe as a slow one and
// costs a request nothing.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreateToken issues a token; it is returned once and only its hash is kept.
func (m *Manager) CreateToken(ctx context.Context, actor Actor, name, scope string) (string, error) {
	if !tokenName.MatchString(name) {
		return "", invalid("invalid_field", "name", "1 to 64 letters, digits, '_', '.', '-'")
	}
	if !slices.Contains(Scopes, scope) {
		return "", invalid("invalid_field", "scope", "must be read, helpdesk or write, not %q", scope)
	}
	b := make([]byte, 32)
	rand.Read(b)
	token := tokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
	// The token and the record of its issue are one commit: no credential without it.
	err := m.store.CreateAdminToken(ctx, store.AdminToken{Name: name, Scope: scope, Hash: HashToken(token), CreatedAt: m.now()},
		m.event(ctx, actor, ActionTokensCreate, "", "", name+" "+scope))
	if errors.Is(err, store.ErrExists) {
		return "", conflict("token_exists", "name", "a token named %q exists (revoked ones keep their name)", name)
	}
	if err != nil {
		return "", err
	}
	return token, nil
}

// ListTokens lists every token, revoked ones included.
func (m *Manager) ListTokens(ctx context.Context) ([]Token, error) {
	ts, err := m.store.ListAdminTokens(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Token, len(ts))
	for i, t := range ts {
		out[i] = Token{Name: t.Name, Scope: t.Scope, Created: t.CreatedAt, Revoked: timeOrNil(t.RevokedAt)}
	}
	return out, nil
}

// RevokeToken revokes a token at once, on every replica (each request reads it).
func (m *Manager) RevokeToken(ctx context.Context, actor Actor, name string) error {
	err := m.store.RevokeAdminToken(ctx, name, m.now(), m.event(ctx, actor, ActionTokensRevoke, "", "", name))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("not_found", "name", "no token %q", name)
	case errors.Is(err, store.ErrConflict):
		return conflict("already_revoked", "name", "token %q is revoked already", name)
	case err != nil:
		return err
	}
	return nil
}

// ErrBadToken is a token that is malformed, unknown or revoked: the caller gets one
// answer for all three.
var ErrBadToken = errors.New("invalid admin token")

// Authenticate finds the token's name and scope. Its reason for refusing goes to the log
// only.
func (m *Manager) Authenticate(ctx context.Context, token string) (name, scope string, err error) {
	if !strings.HasPrefix(token, tokenPrefix) || len(token) > 128 {
		return "", "", fmt.Errorf("%w: not an emfa admin token", ErrBadToken)
	}
	t, err := m.store.GetAdminToken(ctx, HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return "", "", fmt.Errorf("%w: unknown", ErrBadToken)
	}
	if err != nil {
		return "", "", err
	}
	if !t.RevokedAt.IsZero() {
		return "", "", fmt.Errorf("%w: %q revoked", ErrBadToken, t.Name)
	}
	return t.Name, t.Scope, nil
}

// RefuseScope records, as admin.refused FAILED, that the token named actor asked for
// what needs scope need (helpdesk, write) and its own does not give: method and route say what,
// user and factor whom ("" when the route names none). Only a valid token is refused so,
// an insider's: each refusal is one row, as each change is.
func (m *Manager) RefuseScope(ctx context.Context, actor Actor, need, method, route, user, factor string) {
	m.audit(ctx, actor, ActionScopeRefused, user, factor, "FAILED",
		fmt.Sprintf("insufficient scope: %s needed for %s %s", need, method, route))
}

// RefuseRequest records, as admin.refused FAILED, a request of the token named actor that
// the API refused before it reached the Manager (a body that is not JSON, too large, or
// names a field the request does not have): method and route say what, user and factor
// whom ("" when the route names none), reason why. The reason is bounded and made
// printable: it names keys the caller chose.
func (m *Manager) RefuseRequest(ctx context.Context, actor Actor, method, route, user, factor, reason string) {
	m.audit(ctx, actor, ActionScopeRefused, user, factor, "FAILED",
		fmt.Sprintf("%s %s: %s", method, route, provider.Printable(reason, maxRefusalReason)))
}

// maxRefusalReason bounds RefuseRequest's reason.
const maxRefusalReason = 512

// Switch is an org-wide capability switch as the admin API shows it.
type Switch struct {
	Provider   string    `json:"provider"`
	Capability string    `json:"capability"`
	State      string    `json:"state"` // enabled, disabled
	Reason     string    `json:"reason,omitempty"`
	Actor      string    `json:"actor,omitempty"`
	Updated    time.Time `json:"updated,omitzero"` // none for a switch never changed
	// Stranded, answered by a disable of a builtin provider's capability, is how many
	// enabled users it leaves with no factor to sign in with: each factor of theirs that
	// was usable is of a type now switched off. Warnings say so in words.
	Stranded *int     `json:"stranded,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// ListSwitches lists every provider's capabilities with their switch.
func (m *Manager) ListSwitches(ctx context.Context) ([]Switch, error) {
	recorded, err := m.store.ListCapabilitySwitches(ctx)
	if err != nil {
		return nil, err
	}
	var out []Switch
	for _, prefix := range sortedKeys(m.caps) {
		for _, c := range m.caps[prefix] {
			s := Switch{Provider: prefix, Capability: c, State: "enabled"}
			i := slices.IndexFunc(recorded, func(r store.CapabilitySwitch) bool {
				return strings.EqualFold(r.Provider, prefix) && strings.EqualFold(r.Capability, c)
			})
			if i >= 0 {
				r := recorded[i]
				s.Reason, s.Actor, s.Updated = r.Reason, r.Actor, r.UpdatedAt
				if r.Disabled {
					s.State = "disabled"
				}
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// switchedOff are the factor types switched off org-wide for a provider this manager
// serves (lower case): the self-service page neither sends nor checks their codes, as
// Verify's calls for them are refused. Only the builtin providers' switches count: the
// page uses their factors, and a vendor's provider that names a capability alike (a DUO
// provider's push, switched off for DUO's outage) is none of them. An engine that names
// no provider leaves every configured one's switches counting.
func (m *Manager) switchedOff(ctx context.Context) (map[string]bool, error) {
	recorded, err := m.store.ListCapabilitySwitches(ctx)
	if err != nil {
		return nil, err
	}
	served := func(prefix string) bool {
		return slices.ContainsFunc(m.engines, func(e *builtin.Engine) bool {
			return e.Provider() == "" || strings.EqualFold(e.Provider(), prefix)
		})
	}
	off := map[string]bool{}
	for _, r := range recorded {
		if !r.Disabled || !served(r.Provider) {
			continue
		}
		for prefix := range m.caps {
			if strings.EqualFold(prefix, r.Provider) {
				off[strings.ToLower(r.Capability)] = true
			}
		}
	}
	return off, nil
}

// SetSwitch switches a provider's capability off (disabled true) or on for everyone.
func (m *Manager) SetSwitch(ctx context.Context, actor Actor, prefix, capability string, disabled bool, reason string) (Switch, error) {
	action := ActionSwitchesEnable
	if disabled {
		action = ActionSwitchesDisable
	}
	p, c, err := m.capability(prefix, capability)
	if err != nil {
		return Switch{}, m.refuse(ctx, actor, action, "", "", err)
	}
	if err := checkText("reason", reason, disabled, maxText); err != nil {
		return Switch{}, m.refuse(ctx, actor, action, "", "", err)
	}
	now := m.now()
	out := Switch{Provider: p, Capability: c, State: "enabled", Reason: reason, Actor: string(actor), Updated: now}
	// In that state already (off: for the same reason): nothing written, no record of a
	// change that did not happen, and the switch keeps who threw it and when, as a
	// factor's or a user's state set to what it is.
	was, rerr := m.switchOf(ctx, p, c)
	if rerr != nil {
		return Switch{}, rerr
	}
	if was.Disabled == disabled && (!disabled || was.Reason == reason) {
		out.Reason, out.Actor, out.Updated = was.Reason, was.Actor, was.UpdatedAt
	} else {
		sw := store.CapabilitySwitch{Provider: strings.ToLower(p), Capability: strings.ToLower(c), Disabled: disabled, Reason: reason,
			Actor: string(actor), UpdatedAt: now}
		ev := requested(ctx, AdminEvent(now, actor, action, "", "", "SUCCESS", reason))
		ev.Provider, ev.Capability = p, c
		if err := m.store.SetCapabilitySwitch(ctx, sw, ev); err != nil {
			return Switch{}, err
		}
		m.switched()
	}
	if disabled {
		out.State = "disabled"
		// Counted after the switch is written: a break-glass switch is not held up by it,
		// and a count that fails leaves it written (and says so).
		n, counted, err := m.stranded(ctx, c)
		switch {
		case err != nil:
			out.Warnings = []string{"the users this leaves without a usable factor could not be counted (the store failed); the switch is off"}
		case counted:
			out.Stranded = &n
			who := fmt.Sprintf("%d users have", n)
			if n == 1 {
				who = "1 user has"
			}
			if n > 0 {
				out.Warnings = []string{who + " no factor to sign in with while " + c + " is off: every usable factor of theirs is of a type switched off " +
					"(enroll another for them, or switch it on again)"}
			}
		}
	}
	return out, nil
}

// switchOf is the switch recorded for a provider's capability; the zero switch (on,
// never thrown) when none is.
func (m *Manager) switchOf(ctx context.Context, prefix, capability string) (store.CapabilitySwitch, error) {
	recorded, err := m.store.ListCapabilitySwitches(ctx)
	if err != nil {
		return store.CapabilitySwitch{}, err
	}
	for _, r := range recorded {
		if strings.EqualFold(r.Provider, prefix) && strings.EqualFold(r.Capability, capability) {
			return r, nil
		}
	}
	return store.CapabilitySwitch{}, nil
}

// stranded counts the enabled users who have a factor they could sign in with (active,
// or pre-provisioned for its first use) and none but of the types switched off
// (switchedOff), once capability is: the users its switch leaves with no way in. counted
// is false when capability is no builtin provider's factor type (a vendor's, whose
// factors emfa does not hold). It reads the whole directory, page by page: a switch is
// rare, and its answer is the moment to say what it did.
func (m *Manager) stranded(ctx context.Context, capability string) (n int, counted bool, err error) {
	off, err := m.switchedOff(ctx)
	if err != nil || !off[strings.ToLower(capability)] {
		return 0, false, err
	}
	q := store.UserQuery{Limit: 1000}
	for {
		recs, err := m.store.ListUserRecords(ctx, q)
		if err != nil {
			return 0, false, err
		}
		ids := make([]string, len(recs))
		for i, r := range recs {
			ids[i] = r.ID
		}
		fs, err := m.store.ListFactorsOf(ctx, ids)
		if err != nil {
			return 0, false, err
		}
		for _, r := range recs {
			if r.Disabled {
				continue // no way in anyway
			}
			usable, left := 0, 0
			for _, f := range fs[r.ID] {
				if f.State != store.FactorActive && (f.State != store.FactorPending || builtin.ActivationOf(&f) != ActivationOnFirstUse) {
					continue
				}
				usable++
				if !off[strings.ToLower(f.Type)] {
					left++
				}
			}
			if usable > 0 && left == 0 {
				n++
			}
		}
		if len(recs) < q.Limit {
			return n, true, nil
		}
		q.After = recs[len(recs)-1].Name
	}
}

// capability finds a configured provider's capability, in its configured spelling.
func (m *Manager) capability(prefix, capability string) (string, string, *Error) {
	for p, caps := range m.caps {
		if !strings.EqualFold(p, prefix) {
			continue
		}
		for _, c := range caps {
			if strings.EqualFold(c, capability) {
				return p, c, nil
			}
		}
		return "", "", notFound("not_found", "capability", "provider %s has no capability %q", p, capability)
	}
	return "", "", notFound("not_found", "provider", "no provider %q", prefix)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// AuditQuery selects audit events, newest first.
type AuditQuery struct {
	User    string
	Action  string // validate, initiate, admin.users.create...
	Outcome string
	// Actor is who made an admin change (a token's name, cli, sync:SOURCE), exactly.
	Actor string
	// RequestID is the X-Request-ID of the request the events belong to, exactly.
	RequestID string
	Since     time.Time
	Until     time.Time
	Cursor    string
	Limit     int // 1 to 1000; 0: 100
}

// AuditEvent is an audit event as the admin API shows it.
type AuditEvent struct {
	Time       time.Time `json:"time"`
	Actor      string    `json:"actor,omitempty"`
	Action     string    `json:"action"`
	Outcome    string    `json:"outcome"`
	Reason     string    `json:"reason,omitempty"`
	User       string    `json:"user,omitempty"`
	Provider   string    `json:"provider,omitempty"`
	Capability string    `json:"capability,omitempty"`
	FactorID   string    `json:"factorId,omitempty"`
	RequestID  string    `json:"requestId,omitempty"`
	WebhookID  string    `json:"webhookId,omitempty"`
}

// AuditTimeFormat is how an audit event's time is written, in UTC: RFC 3339 with three
// digits of milliseconds always (the trail's precision), so that times align in a column
// and sort as text.
const AuditTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON writes the time in AuditTimeFormat.
func (e AuditEvent) MarshalJSON() ([]byte, error) {
	type fields AuditEvent // without this method
	return json.Marshal(struct {
		Time string `json:"time"` // first, as in the type
		fields
	}{e.Time.UTC().Format(AuditTimeFormat), fields(e)})
}

// auditNames are the writings of name, given raw or escaped, that its audit rows hold:
// escaped as the trail writes it (provider.Printable: "alice\u200b"), and raw, as the
// rows written before the trail escaped the characters that hide or reorder text hold
// it (a ZERO WIDTH SPACE itself). A name with no such character is its own one writing.
func auditNames(name string) (string, []string) {
	escaped := provider.Printable(name, provider.MaxUsernameBytes)
	raw := provider.UnescapeUnseen(name)
	var forms []string
	for _, f := range []string{name, raw} {
		if f != escaped && !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	return escaped, forms
}

// AuditPage is a page of events; Next is the cursor of the following one.
type AuditPage struct {
	Events []AuditEvent `json:"events"`
	Next   string       `json:"next,omitempty"`
}

// QueryAudit returns a page of the audit trail.
func (m *Manager) QueryAudit(ctx context.Context, q AuditQuery) (AuditPage, error) {
	// The user as its rows write it (event): an invisible character escaped; and raw, as
	// rows written before the trail escaped it hold it.
	user, forms := auditNames(q.User)
	sq := store.AuditQuery{Username: user, UsernameForms: forms, Resource: q.Action, Outcome: q.Outcome, Actor: q.Actor, RequestID: q.RequestID,
		Since: q.Since, Until: q.Until, Limit: q.Limit}
	if sq.Limit == 0 {
		sq.Limit = 100
	}
	if sq.Limit < 1 || sq.Limit > 1000 {
		return AuditPage{}, invalid("invalid_parameter", "limit", "must be between 1 and 1000")
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		// An empty page would read as "nothing happened then".
		return AuditPage{}, invalid("invalid_parameter", "until", "must be after since (%s), not %s",
			q.Since.Format(time.RFC3339Nano), q.Until.Format(time.RFC3339Nano))
	}
	if q.Cursor != "" {
		c, ok := parseAuditCursor(q.Cursor)
		if !ok {
			return AuditPage{}, invalid("invalid_parameter", "cursor", "is not a cursor this API returned")
		}
		sq.Before = &c
	}
	entries, err := m.store.QueryAudit(ctx, sq)
	if err != nil {
		return AuditPage{}, err
	}
	page := AuditPage{Events: make([]AuditEvent, len(entries))}
	for i, e := range entries {
		page.Events[i] = AuditEvent{Time: e.Time, Actor: e.Actor, Action: e.Resource, Outcome: e.Outcome, Reason: e.Reason,
			User: e.Username, Provider: e.Provider, Capability: e.Capability, FactorID: e.FactorID, RequestID: e.RequestID, WebhookID: e.WebhookID}
	}
	if len(entries) == sq.Limit {
		last := entries[len(entries)-1]
		page.Next = base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d.%d", last.Time.UnixMilli(), last.Seq))
	}
	return page, nil
}

func parseAuditCursor(s string) (store.AuditCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return store.AuditCursor{}, false
	}
	ms, seq, ok := strings.Cut(string(b), ".")
	t, err1 := strconv.ParseInt(ms, 10, 64)
	n, err2 := strconv.ParseInt(seq, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return store.AuditCursor{}, false
	}
	return store.AuditCursor{Time: time.UnixMilli(t).UTC(), Seq: n}, true
}
