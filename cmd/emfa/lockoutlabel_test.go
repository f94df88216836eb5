package main

import (
	"testing"

	"github.com/emfa/emfa/telemetry"
)

// A lockout is counted under the capability as the provider spells it, as its contract
// calls are (emfa_contract_calls_total's "configured spelling"): a query joining the two
// by capability found no lockouts of a provider configured with [TOTP] or [smsOTP].
func TestLockoutsLabelledAsContractCalls(t *testing.T) {
	m := telemetry.NewMetrics("test")
	o := engineObserver{m: m, provider: "emfa", capabilities: []string{"TOTP", "smsOTP"}}
	o.Lockout("totp")
	o.Lockout("smsotp")
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		if f.GetName() != "emfa_lockouts_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "capability" {
					got[l.GetValue()] += s.GetCounter().GetValue()
				}
			}
		}
	}
	if got["TOTP"] != 1 || got["smsOTP"] != 1 || len(got) != 2 {
		t.Errorf("lockouts by capability: %v, want TOTP and smsOTP once each", got)
	}
}
