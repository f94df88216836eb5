package postgres_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store/postgres"
)

// TestOpenWarnsOfClockSkew: a process whose clock is an hour off the database's
// says so at open (WARN), naming both times and what it still breaks (its TOTP checks,
// its records' times: sync follows the database's clock); one whose clock is within
// store.MaxFutureSkew of it says nothing. Before, nothing was said: the skew showed only as
// propagations held for an hour and a directory's later changes skipped as older.
func TestOpenWarnsOfClockSkew(t *testing.T) {
	sv := testdb.Connect(t)
	dsn := sv.SchemaDSN(t, sv.NewSchema(t))
	for _, c := range []struct {
		name string
		skew time.Duration
		warn bool
	}{{"ahead", time.Hour, true}, {"behind", -time.Hour, true}, {"within", time.Minute, false}} {
		t.Run(c.name, func(t *testing.T) {
			var logs syncBuffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			s, err := postgres.Open(t.Context(), dsn, postgres.Log(log), postgres.Clock(func() time.Time { return time.Now().Add(c.skew) }))
			if err != nil {
				t.Fatal(err)
			}
			s.Close()
			out := logs.String()
			warned := strings.Contains(out, "clock differs from the database's")
			if warned != c.warn {
				t.Fatalf("a clock %v off the database's: warned %v, want %v:\n%s", c.skew, warned, c.warn, out)
			}
			if !c.warn {
				return
			}
			for _, want := range []string{"level=WARN", "local=", "database=", "TOTP", "records"} {
				if !strings.Contains(out, want) {
					t.Errorf("the warning does not say %q:\n%s", want, out)
				}
			}
		})
	}
}
