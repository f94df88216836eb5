package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// BenchmarkSerial runs, one after another on one connection, what a TOTP
// validation through the harness asks of the store: the factor-and-user read, then the
// deciding unit (counter, audit row with the factor's last use, the answer's idempotency
// record under a fresh X-Webhook-ID and a "validate:"+SHA-256 fingerprint), over 200
// factors of 200 users. It reports the CPU of the one backend a validation (pg-us/op)
// and logs the backend's pid, so that a server run under callgrind can be read per
// backend: the difference of two run lengths is a validation's instructions.
func BenchmarkSerial(b *testing.B) {
	sv := testdb.Connect(b)
	schema := sv.NewSchema(b)
	app := "emfa-p47-" + randHex(4)
	u, err := url.Parse(sv.SchemaDSN(b, schema))
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	s, err := postgres.Open(context.Background(), u.String(), postgres.MaxConns(1))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	// EMFA_SERIAL_ALTER: statements run on the schema before the validations (an experiment's
	// schema change, tables named unqualified).
	if alter := os.Getenv("EMFA_SERIAL_ALTER"); alter != "" {
		if _, err := sv.Admin.Exec(ctx, "SET search_path TO "+schema+"; "+alter+"; RESET search_path"); err != nil {
			b.Fatal(err)
		}
	}
	t0 := time.Unix(1_700_000_000, 0)
	const factors = 200
	for i := range factors {
		uid, id := fmt.Sprintf("u%d", i), fmt.Sprintf("f%d", i)
		if err := s.CreateUser(ctx, store.User{ID: uid, Name: "user-" + uid, CreatedAt: t0}); err != nil {
			b.Fatal(err)
		}
		if err := s.CreateFactor(ctx, store.Factor{ID: id, UserID: uid, Type: "totp", Label: "phone",
			State: store.FactorActive, Secret: []byte("sealed-secret-of-forty-bytes-and-a-tag-" + id), KeyID: "k1",
			Params: map[string]string{"algorithm": "SHA1", "digits": "6", "period": "30"}, Counter: -1,
			CreatedAt: t0, UpdatedAt: t0}); err != nil {
			b.Fatal(err)
		}
	}
	var next [factors]int64
	seq := 0
	// EMFA_SERIAL_PART=read runs the read alone, unit the deciding unit alone.
	part := os.Getenv("EMFA_SERIAL_PART")
	validate := func() error {
		seq++
		i := seq % factors
		uid, id := fmt.Sprintf("u%d", i), fmt.Sprintf("f%d", i)
		if part != "unit" {
			if _, _, err := s.GetFactorAndUser(ctx, id, "user-"+uid); err != nil {
				return err
			}
		}
		if part == "read" {
			return nil
		}
		next[i]++
		n := next[i]
		now := t0.Add(time.Duration(seq) * time.Millisecond)
		return s.Update(ctx, func(w store.Writer) error {
			if err := w.AdvanceCounter(ctx, id, n, now); err != nil {
				return err
			}
			if err := w.AppendAudit(ctx, store.AuditEvent{Time: now, RequestID: randHex(12), Provider: "emfa",
				Username: "user-" + uid, Capability: "totp", FactorID: id, Resource: "validate", Outcome: "SUCCESS",
				WebhookID: randHex(16)}); err != nil {
				return err
			}
			key := store.IdempotencyKey{Provider: "emfa", WebhookID: randHex(16), Fingerprint: "validate:" + randHex(32)}
			_, err := w.RecordIdempotency(ctx, key, randHex(16), 200, []byte(`{"status":"SUCCESS"}`+"\n"),
				now.Add(time.Minute), now.Add(time.Hour), now)
			return err
		})
	}
	warm, _ := strconv.Atoi(os.Getenv("EMFA_SERIAL_WARM"))
	for range max(warm, 500) {
		if err := validate(); err != nil {
			b.Fatal(err)
		}
	}
	var pid int
	if err := sv.Admin.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&pid); err != nil {
		b.Fatal(err)
	}
	b.Logf("backend pid %d", pid)
	cpu0 := cpuOf(b, []int{pid})
	b.ResetTimer()
	for range b.N {
		if err := validate(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuOf(b, []int{pid})-cpu0).Microseconds())/float64(b.N), "pg-us/op")
}
