package lifecycle_test

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// TestSwitchNoop: a switch thrown to the state it is in (on when on, never
// switched; off again with the same reason) changes nothing and records nothing, as a
// factor's or a user's enable/disable; it is answered as it is, stranded count and all.
// Each wrote an admin.switches.* SUCCESS row of a change that did not happen, and took
// the switch's actor and time for its own (a script applying its settings every hour
// filled the trail, and the switch showed who last re-applied it, not who threw it).
// Off again with another reason is a change: recorded.
func TestSwitchNoop(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		rows := func(action string) int { return len(auditOf(t, m, action).Events) }
		if _, err := m.SetSwitch(ctx, "script", "emfa", "totp", false, ""); err != nil {
			t.Fatal(err)
		}
		if n := rows("admin.switches.enable"); n != 0 {
			t.Errorf("enable of a switch never thrown: %d records, want 0", n)
		}
		first, err := m.SetSwitch(ctx, "alice-admin", "emfa", "totp", true, "vendor outage")
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		again, err := m.SetSwitch(ctx, "script", "EMFA", "TOTP", true, "vendor outage")
		if err != nil {
			t.Fatal(err)
		}
		if n := rows("admin.switches.disable"); n != 1 {
			t.Errorf("disable twice with one reason: %d records, want 1", n)
		}
		if again.Actor != "alice-admin" || !again.Updated.Equal(first.Updated) || again.State != "disabled" {
			t.Errorf("the switch off again is answered %+v, want it as alice-admin threw it %+v", again, first)
		}
		if _, err := m.SetSwitch(ctx, "script", "emfa", "totp", true, "still out"); err != nil {
			t.Fatal(err)
		}
		if n := rows("admin.switches.disable"); n != 2 {
			t.Errorf("disable with a new reason: %d records, want 2", n)
		}
		if _, err := m.SetSwitch(ctx, "script", "emfa", "totp", false, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := m.SetSwitch(ctx, "script", "emfa", "totp", false, ""); err != nil {
			t.Fatal(err)
		}
		if n := rows("admin.switches.enable"); n != 1 {
			t.Errorf("enable twice: %d records, want 1", n)
		}
		list, err := m.ListSwitches(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			if s.Capability == "totp" && s.State != "enabled" {
				t.Errorf("totp: %+v", s)
			}
		}
	})
}
