package main

import (
	"testing"
	"time"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/config"
)

// TestPageBudgetsFromConfig: selfService.throttle reaches the page's server, each part
// set apart, the rest at the defaults the README states.
func TestPageBudgetsFromConfig(t *testing.T) {
	if got, want := pageBudgets(config.SelfService{}), (adapter.PageBudgets{SignInBurst: 10, SignInEvery: 6 * time.Second,
		LinkRecordBurst: 10, LinkRecordEvery: 6 * time.Minute}); got != want {
		t.Errorf("defaults: %+v, want %+v", got, want)
	}
	c := config.SelfService{Throttle: config.SelfServiceThrottle{SignIns: config.Budget{Burst: 3}, UnknownLinkRecords: config.Budget{Every: time.Hour}}}
	if got, want := pageBudgets(c), (adapter.PageBudgets{SignInBurst: 3, SignInEvery: 6 * time.Second,
		LinkRecordBurst: 10, LinkRecordEvery: time.Hour}); got != want {
		t.Errorf("set in part: %+v, want %+v", got, want)
	}
}
