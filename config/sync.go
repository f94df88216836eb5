package config

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Sync configures directory sync: the sources that tell emfa about users and groups
// (each off unless enabled) and the queue that applies what they say.
type Sync struct {
	SCIM   SyncSCIM   `mapstructure:"scim"`
	Okta   SyncOkta   `mapstructure:"okta"`
	Verify SyncSource `mapstructure:"verify"`
	Auth0  SyncSource `mapstructure:"auth0"`
	// MaxDeletesPerHour pauses a source that deletes more users in an hour, until an
	// operator resumes it (emfa sync resume SOURCE). 0: 100; -1: no limit.
	MaxDeletesPerHour int `mapstructure:"maxDeletesPerHour"`
	// Settle is how long an event waits in the queue before it is applied, so that events
	// delivered out of order a moment apart apply in order. Default 2s.
	Settle time.Duration `mapstructure:"settle"`
	// MaxAttempts before an event becomes a dead letter. Default 10.
	MaxAttempts int `mapstructure:"maxAttempts"`
}

// SyncSCIM is the SCIM 2.0 service provider at /scim/v2.
type SyncSCIM struct {
	Enabled bool `mapstructure:"enabled"`
	// Token is the bearer token SCIM clients (Entra ID, Okta) send.
	Token Secret `mapstructure:"token"`
}

// SyncSource is a source that posts events: Okta event hooks (/sync/okta), Verify
// notification webhooks (/sync/verify), Auth0 log streams (/sync/auth0).
type SyncSource struct {
	Enabled bool `mapstructure:"enabled"`
	// SecretHeader is the header and value the source sends with every request (Okta's
	// authScheme HEADER; Auth0's Authorization token: name Authorization).
	SecretHeader SecretHeader `mapstructure:"secretHeader"`
}

// SyncOkta is the Okta event hook source.
type SyncOkta struct {
	SyncSource `mapstructure:",squash"`
	// MFAReset says which of Okta's factor deactivations and resets
	// (user.mfa.factor.deactivate, .reset_all) reset the user's emfa factors: "others"
	// (the default) every reset_all and the deactivations made by someone other than the
	// user, an administrator or Okta itself (Okta sends the same event when users remove
	// one of their own Okta factors);
	// "all" every one; "none" none.
	MFAReset string `mapstructure:"mfaReset"`
}

// The values of sync.okta.mfaReset.
var OktaMFAResets = []string{"others", "all", "none"}

// SecretHeader is a header that carries a shared secret.
type SecretHeader struct {
	Name  string `mapstructure:"name"`
	Value Secret `mapstructure:"value"`
}

// Enabled reports whether any source is on (the queue's worker runs).
func (s Sync) Enabled() bool {
	return s.SCIM.Enabled || s.Okta.Enabled || s.Verify.Enabled || s.Auth0.Enabled
}

func (c *Config) validateSync(add func(path, format string, args ...any)) {
	s := c.Sync
	// A secret with surrounding blanks could never match: HTTP drops a header value's,
	// and the bearer token is trimmed as it is read.
	blanks := func(v Secret) bool { return strings.TrimSpace(v.Reveal()) != v.Reveal() }
	if s.SCIM.Enabled && blanks(s.SCIM.Token) {
		add("sync.scim.token", "must not begin or end with white space")
	} else if s.SCIM.Enabled && len(s.SCIM.Token) < 32 {
		add("sync.scim.token", "must be at least 32 characters when sync.scim is enabled")
	}
	for name, src := range map[string]SyncSource{"okta": s.Okta.SyncSource, "verify": s.Verify, "auth0": s.Auth0} {
		if !src.Enabled {
			continue
		}
		h := src.SecretHeader
		switch {
		case strings.TrimSpace(h.Name) == "":
			add("sync."+name+".secretHeader.name", "is required when sync.%s is enabled", name)
		case http.CanonicalHeaderKey(h.Name) != http.CanonicalHeaderKey(strings.TrimSpace(h.Name)) || strings.ContainsAny(h.Name, " :\t"):
			add("sync."+name+".secretHeader.name", "not a header name")
		}
		if blanks(h.Value) {
			add("sync."+name+".secretHeader.value", "must not begin or end with white space")
		} else if len(h.Value) < 16 {
			add("sync."+name+".secretHeader.value", "must be at least 16 characters when sync.%s is enabled", name)
		}
	}
	// Provider policies name capabilities of their provider (compiled when the provider is
	// built; CEL is not config's to import).
	for i, p := range c.Providers {
		for capability, expr := range p.Policy {
			if !slices.ContainsFunc(p.Capabilities, func(c string) bool { return strings.EqualFold(c, capability) }) {
				add(fmt.Sprintf("providers[%d].policy.%s", i, capability), "is not a capability of this provider")
			}
			if strings.TrimSpace(expr) == "" {
				add(fmt.Sprintf("providers[%d].policy.%s", i, capability), "must be a CEL expression")
			}
		}
	}
	if s.Okta.MFAReset != "" && !slices.Contains(OktaMFAResets, s.Okta.MFAReset) {
		add("sync.okta.mfaReset", "must be one of %s, not %q", strings.Join(OktaMFAResets, ", "), s.Okta.MFAReset)
	}
	if s.MaxDeletesPerHour < -1 {
		add("sync.maxDeletesPerHour", "must be -1 (no limit), 0 (default 100) or more, not %d", s.MaxDeletesPerHour)
	}
	if s.Settle < 0 || s.Settle > time.Minute {
		add("sync.settle", "must be between 0 and 1m, not %s", s.Settle)
	}
	if s.MaxAttempts < 0 || s.MaxAttempts > 100 {
		add("sync.maxAttempts", "must be between 1 and 100, not %d", s.MaxAttempts)
	}
}
