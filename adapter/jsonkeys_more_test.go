package adapter

import "testing"

// TestUniqueKeysAllocs: every contract call's body is checked for a key named twice
// (the idempotent middleware's check, or decode's). A body of the contract's shape (an
// initiate's, keys inside an object inside an object) is walked without an allocation:
// each key made a string of its own, and the keys seen and the path above them slices
// grown key by key, 6 allocations a call.
func TestUniqueKeysAllocs(t *testing.T) {
	body := []byte(`{"capability":"push","id":"DPFZRS9FB0D46QFTM891","attributes":{"username":"alice","extra":[{"a":1,"b":"x"}]}}`)
	if err := checkUniqueKeys(body); err != nil {
		t.Fatal(err)
	}
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	if n := testing.AllocsPerRun(100, func() { _ = checkUniqueKeys(body) }); n != 0 {
		t.Errorf("checkUniqueKeys: %v allocations a call, want 0", n)
	}
}

// BenchmarkUniqueKeys is the check of an initiate's body.
func BenchmarkUniqueKeys(b *testing.B) {
	body := []byte(`{"capability":"push","id":"DPFZRS9FB0D46QFTM891","attributes":{"username":"alice"}}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = checkUniqueKeys(body)
	}
}
