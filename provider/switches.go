package provider

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/emfa/emfa/store"
)

// Switches say whether a capability is switched off for everyone (a vendor outage, an
// SMS fraud wave), whatever the user's factors.
type Switches interface {
	// Off returns the reason a provider's capability is off, and whether it is.
	Off(ctx context.Context, prefix, capability string) (reason string, off bool, err error)
}

// SwitchLister is the store's side of the switches.
type SwitchLister interface {
	ListCapabilitySwitches(ctx context.Context) ([]store.CapabilitySwitch, error)
}

// DefaultSwitchTTL is how stale a replica's view of the org-wide switches may be: a switch
// thrown on one replica holds on every other within this time.
const DefaultSwitchTTL = 3 * time.Second

// SwitchCache reads the switches from the store at most once per TTL and answers from
// memory in between, so the contract path pays one read of a tiny table every few
// seconds per replica, not one per request. Safe for concurrent use.
type SwitchCache struct {
	Store SwitchLister
	TTL   time.Duration // default DefaultSwitchTTL
	Now   func() time.Time

	mu     sync.Mutex
	loaded time.Time
	off    map[string]string // by switchKey: the reason
}

var _ Switches = (*SwitchCache)(nil)

func switchKey(prefix, capability string) string {
	return strings.ToLower(prefix) + "\x00" + strings.ToLower(capability)
}

// Off answers from the cache, reloading it when it is older than the TTL. A store error
// is returned (the caller answers 503), so a replica never serves a capability it cannot
// tell is on.
func (c *SwitchCache) Off(ctx context.Context, prefix, capability string) (string, bool, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	ttl := c.TTL
	if ttl <= 0 {
		ttl = DefaultSwitchTTL
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := now(); c.off == nil || t.Sub(c.loaded) >= ttl || t.Before(c.loaded) {
		list, err := c.Store.ListCapabilitySwitches(ctx)
		if err != nil {
			return "", false, err
		}
		off := make(map[string]string, len(list))
		for _, s := range list {
			if s.Disabled {
				off[switchKey(s.Provider, s.Capability)] = s.Reason
			}
		}
		c.off, c.loaded = off, t
	}
	reason, off := c.off[switchKey(prefix, capability)]
	return reason, off, nil
}

// Invalidate drops the cache, so the next call reads the store (this replica's own admin
// API has just thrown a switch).
func (c *SwitchCache) Invalidate() {
	c.mu.Lock()
	c.off = nil
	c.mu.Unlock()
}

// switchedOff is the refusal for a capability switched off org-wide, or nil.
func (p *Provider) switchedOff(ctx context.Context, capability string) (*Outcome, error) {
	if p.Switches == nil {
		return nil, nil
	}
	reason, off, err := p.Switches.Off(ctx, p.CredentialPrefix, capability)
	if err != nil || !off {
		return nil, err
	}
	return ptr(Failed("capability " + capability + " switched off org-wide: " + reason)), nil
}
