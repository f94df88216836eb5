package main

import (
	"testing"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/config"
)

// TestSyncOktaMFAResetReachesTheHook: sync.okta.mfaReset is the hook's, as its secret is
// (a snapshot's, so that a reload changes it).
func TestSyncOktaMFAResetReachesTheHook(t *testing.T) {
	for _, mode := range []string{"", "others", "all", "none"} {
		var s config.Sync
		s.Okta.Enabled, s.Okta.MFAReset = true, mode
		var o adapter.Sync
		syncCredentials(s, &o)
		if o.OktaMFAReset != mode {
			t.Errorf("mfaReset %q: the hook has %q", mode, o.OktaMFAReset)
		}
	}
}
