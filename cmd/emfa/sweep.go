package main

import (
	"context"
	"time"

	"github.com/emfa/emfa/provider/builtin"
)

// sweepEvery is how often serve purges expired transactions, old send records and expired
// nonces.
const sweepEvery = time.Minute

// startSweeper runs the sweeper until ctx ends or stop is called; stop returns once the
// sweeper has finished, so the store can be closed after it.
func (e *env) startSweeper(ctx context.Context) (stop func()) {
	// Send records outlive the longest window any provider's limits look at (providers
	// are built first).
	s := &builtin.Sweeper{Store: e.store, Now: e.now, SendRetention: e.sendRetention, Log: e.log, OnSweep: e.swept,
		AuditRetention: *e.cfg.Storage.AuditRetention, SessionIdle: e.cfg.SelfService.WithDefaults().SessionIdle}
	ctx, cancel := context.WithCancel(ctx)
	ticker := time.NewTicker(sweepEvery)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx, ticker.C)
	}()
	return func() {
		cancel()
		ticker.Stop()
		<-done
	}
}
