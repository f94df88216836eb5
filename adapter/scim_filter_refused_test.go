package adapter

import (
	"net/url"
	"testing"
)

// TestSCIMFilterRefusedWhateverItMatches: a filter on an attribute this server
// cannot filter on was refused (400 invalidFilter) only when some user or group was there
// to test it on: with none (no group yet, or the userName the filter also names not
// there) it was answered 200 with no resource, which a directory reads as "not there" and
// acts on (creates it) rather than as a filter it must not use.
func TestSCIMFilterRefusedWhateverItMatches(t *testing.T) {
	for _, c := range []struct{ what, path string }{
		{"groups, none yet", "/Groups?filter=" + url.QueryEscape(`members eq "x"`)},
		{"groups, a value filter, none yet", "/Groups?filter=" + url.QueryEscape(`members[value eq "x"].display eq "x"`)},
		{"users, the userName not there", "/Users?filter=" + url.QueryEscape(`userName eq "nobody" and nickName eq "x"`)},
		{"users, a value filter, the userName not there", "/Users?filter=" + url.QueryEscape(`userName eq "nobody" and phoneNumbers[type eq "work"].value eq "x"`)},
	} {
		t.Run(c.what, func(t *testing.T) {
			h := newSyncHarness(t)
			code, out, _ := h.scim("GET", c.path, "")
			if code != 400 || out["scimType"] != "invalidFilter" {
				t.Fatalf("GET %s: %d %v, want 400 invalidFilter", c.path, code, out)
			}
		})
	}
}
