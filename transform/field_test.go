package transform

import (
	"context"
	"testing"
)

// TestFieldAllocs: reading a field of the maps emfa builds (a transform's map
// literal, a converted Go map) boxes nothing. The engine reads four on every initiate.
func TestFieldAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	env, err := NewEnv(Incoming)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(env, `{"body": {"transactionId": body.txid, "status": "PENDING"}}`)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.EvalValue(context.Background(), Vars{VarBody: map[string]any{"txid": "T1"}})
	if err != nil {
		t.Fatal(err)
	}
	converted := NewValue(map[string]any{"status": "PENDING", "transactionId": "T1"})
	names := []string{"status", "transactionId", "missing"} // not constants: as the engine's
	for _, tc := range []struct {
		name string
		v    func() Value
	}{
		{"record", func() Value { b, _ := res.Field("body"); return b }},
		{"smallMap", func() Value { return converted }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.v()
			if s, ok := v.Field(names[0]); !ok {
				t.Fatalf("no status in %v", v)
			} else if got, _ := s.Text(); got != "PENDING" {
				t.Fatalf("status = %q", got)
			}
			if _, ok := v.Field(names[2]); ok {
				t.Fatal("a missing field found")
			}
			if n := testing.AllocsPerRun(100, func() {
				for _, name := range names {
					v.Field(name)
				}
			}); n != 0 {
				t.Errorf("Field allocates %v times for %d fields, want 0", n, len(names))
			}
		})
	}
}
