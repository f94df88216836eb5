package adapter

import (
	"strings"
	"testing"
)

// TestRefusedCountsPastListed: a batch whose refused events pass the twenty listed,
// reasons and ids both (and screen adding its own after the parse), counts every one of
// them, lists the first twenty of each, and says how many more.
func TestRefusedCountsPastListed(t *testing.T) {
	var evs []string
	for i := range 30 { // refused with their uuid: no eventType
		evs = append(evs, `{"uuid":"r`+itoa(i)+`","published":"2026-05-01T09:00:00Z"}`)
	}
	for range 5 { // refused without one: not an object
		evs = append(evs, `0`)
	}
	evs = append(evs, okEv("ok", "user.lifecycle.create", "alice@example.com", 1))
	for i := range 3 { // refused by screen: a user name emfa cannot hold
		evs = append(evs, okEv("s"+itoa(i), "user.lifecycle.create", `a\u0001b`, 1))
	}
	p, err := parseOkta(nil, []byte(oktaBatch(evs...)))
	if err != nil {
		t.Fatal(err)
	}
	if p, err = p.screen().whole(); err != nil {
		t.Fatal(err)
	}
	if len(p.events) != 1 || p.nRefused != 38 || len(p.refused) != maxListedRefusals ||
		p.nRefusedIDs != 33 || len(p.refusedIDs) != maxListedRefusals {
		t.Fatalf("%d events, %d refused (%d listed), %d ids (%d listed); want 1, 38 (20), 33 (20)",
			len(p.events), p.nRefused, len(p.refused), p.nRefusedIDs, len(p.refusedIDs))
	}
	if got := listed(p.refused, p.nRefused, "; "); !strings.HasSuffix(got, "; and 18 more") || strings.Contains(got, "; ; ") {
		t.Errorf("reasons %q", got)
	}
	if got := listed(p.refusedIDs, p.nRefusedIDs, ","); !strings.HasPrefix(got, "r0,r1,") || !strings.HasSuffix(got, "r19,and 13 more") {
		t.Errorf("ids %q", got)
	}
}
