package builtin_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider/builtin"
)

// TestHOTPCounterOutOfRange: an HOTP counter past the largest the store keeps
// (math.MaxInt64; RFC 4226's counter is 64 bits unsigned) is refused saying so. Before,
// it was refused as "not a number", which it is.
func TestHOTPCounterOutOfRange(t *testing.T) {
	f := newEngineFixture(t, testdb.SQLite(t), nil)
	for _, counter := range []string{"9223372036854775808", "18446744073709551615"} {
		_, err := f.engine.Enroll(t.Context(), enrollment("hotp", "alice", "counter", counter))
		if !errors.Is(err, builtin.ErrInput) || strings.Contains(err.Error(), "not a number") || !strings.Contains(err.Error(), "9223372036854775807") {
			t.Errorf("counter %s: %v; want it refused as past 9223372036854775807", counter, err)
		}
	}
	if _, err := f.engine.Enroll(t.Context(), enrollment("hotp", "alice", "counter", "ten")); err == nil || !strings.Contains(err.Error(), "not a number") {
		t.Errorf("counter ten: %v", err)
	}
}
