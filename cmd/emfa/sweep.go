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
func (e *env) startSweeper(ctx context.Context, l *live) (stop func()) {
	// Send records outlive the longest window any provider's limits look at, and sessions
	// idle out, as the serving configuration says, reloaded or not (its providers are
	// built first). The sync worker's providers, built once at start, count too.
	s := &builtin.Sweeper{Store: e.store, Now: e.now, Log: e.log, OnSweep: e.swept,
		AuditRetention: *e.cfg.Storage.AuditRetention,
		Settings: func() (time.Duration, time.Duration) {
			cur := l.cur.Load().env
			return max(cur.sendRetention, e.sendRetention), cur.cfg.SelfService.WithDefaults().SessionIdle
		}}
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
