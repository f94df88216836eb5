package builtin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestNonceOutlivesAFastSweeper: replicas share the nonce table, and one replica's
// sweeper deletes the nonces its own clock finds expired. A replica whose clock runs a
// few seconds ahead of the one that accepted a request must not purge that request's
// nonce while the other replica still accepts its timestamp: the request would replay.
func TestNonceOutlivesAFastSweeper(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newPushFixture(t, st, false)
		ctx := context.Background()
		d := f.register(t, "alice", builtin.AlgEd25519)
		r := f.signed(t, d, "GET", "/v1/devices/challenges", nil)
		if err := f.devices.Authenticate(ctx, r); err != nil {
			t.Fatal(err)
		}
		// Just inside the window of the replica that accepted it, a second replica whose
		// clock runs 3s ahead sweeps.
		f.clock.Advance(builtin.ClockSkew - time.Second)
		fast := func() time.Time { return f.clock.Now().Add(3 * time.Second) }
		sw := builtin.Sweeper{Store: st, Now: fast}
		if _, err := sw.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if err := f.devices.Authenticate(ctx, r); !errors.Is(err, provider.ErrDeviceAuth) || !strings.Contains(err.Error(), "replayed nonce") {
			t.Errorf("the same signed request, replayed after a sweep by a replica 3s ahead: %v, want a replayed nonce", err)
		}
	})
}
