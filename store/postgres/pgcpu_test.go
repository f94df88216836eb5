package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
)

// BenchmarkValidationServerCPU runs what a TOTP validation with an X-Webhook-ID
// asks of the store (the factor-and-user read, then the deciding unit: counter, audit
// row with the factor's last use, idempotency record) from 16 connections on 64
// factors, and reports what PostgreSQL spent on it: the CPU time of the store's own
// backends (/proc/<pid>/stat), the WAL written (the server's, so other sessions'
// count too) and the factor row versions (updates, HOT or not).
//
// With EMFA_BENCH_CHECKPOINT=n, idempotency and audit hold n rows each before the timed
// part, which starts after a CHECKPOINT (server-wide), and the validations carry random
// X-Webhook-IDs for 10,000 users: the first change of each index page after a checkpoint
// writes the whole page to the WAL (full_page_writes), and the indexes whose inserts land
// on scattered pages (idempotency's key, audit's user) write one for most validations
// while they have more pages than the checkpoint interval has validations. Without it every page is already in the WAL since the last checkpoint and
// the figures are those of the records alone.
func BenchmarkValidationServerCPU(b *testing.B) {
	resource := "validate"
	if r := os.Getenv("EMFA_BENCH_RESOURCE"); r != "" {
		resource = r
	}
	prefill, _ := strconv.Atoi(os.Getenv("EMFA_BENCH_CHECKPOINT"))
	sv := testdb.Connect(b)
	schema := sv.NewSchema(b)
	app := "emfa-bench-" + randHex(4)
	u, err := url.Parse(sv.SchemaDSN(b, schema))
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", app)
	q.Set("pool_max_conns", "16")
	u.RawQuery = q.Encode()
	s, err := postgres.Open(context.Background(), u.String())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	t0 := time.Unix(1_700_000_000, 0)
	if err := s.CreateUser(ctx, store.User{ID: "bench", Name: "name-bench", CreatedAt: t0}); err != nil {
		b.Fatal(err)
	}
	const factors = 64
	for i := range factors {
		id := fmt.Sprintf("b%d", i)
		if err := s.CreateFactor(ctx, store.Factor{ID: id, UserID: "bench", Type: "totp", Label: "phone " + id,
			State: store.FactorActive, Secret: []byte("sealed-secret-of-forty-bytes-and-a-tag-" + id), KeyID: "k1",
			Params: map[string]string{"algorithm": "SHA1", "digits": "6", "period": "30"}, Counter: -1,
			CreatedAt: t0, UpdatedAt: t0}); err != nil {
			b.Fatal(err)
		}
	}
	var next [factors]atomic.Int64
	var seq atomic.Int64
	validate := func(i int) error {
		id := fmt.Sprintf("b%d", i)
		user := "name-bench"
		if prefill > 0 {
			user = fmt.Sprintf("user-%d", seq.Load()%10_000)
		}
		part := os.Getenv("EMFA_BENCH_PART")
		if part != "unit" {
			if _, _, err := s.GetFactorAndUser(ctx, id, "name-bench"); err != nil {
				return err
			}
		}
		if part == "read" {
			return nil
		}
		n := next[i].Add(1)
		now := t0.Add(time.Duration(seq.Add(1)) * time.Millisecond)
		return s.Update(ctx, func(w store.Writer) error {
			if err := w.AdvanceCounter(ctx, id, n, now); err != nil {
				return err
			}
			if err := w.AppendAudit(ctx, store.AuditEvent{Time: now, RequestID: "req", Provider: "bench", Username: user,
				Capability: "totp", FactorID: id, Resource: resource, Outcome: "SUCCESS", WebhookID: "wh"}); err != nil {
				return err
			}
			key := store.IdempotencyKey{Provider: "bench", WebhookID: fmt.Sprintf("%s-%d", id, n), Fingerprint: "f"}
			if prefill > 0 {
				key.WebhookID = randHex(16)
			}
			_, err := w.RecordIdempotency(ctx, key, "bench", 200, []byte(`{"status":"SUCCESS"}`), now.Add(time.Minute), now.Add(time.Hour), now)
			return err
		})
	}
	run := func(n int) {
		var wg sync.WaitGroup
		var left atomic.Int64
		left.Store(int64(n))
		for g := range factors {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for left.Add(-1) >= 0 {
					// One goroutine per factor: a factor's validations never race.
					if err := validate(g); err != nil {
						b.Errorf("validate: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	run(2000) // warm: every connection open, every statement prepared
	var pids []int
	rows, err := sv.Admin.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var pid int
		rows.Scan(&pid)
		pids = append(pids, pid)
	}
	rows.Close()
	if prefill > 0 {
		for _, q := range []string{
			`INSERT INTO ` + pgx.Identifier{schema, "idempotency"}.Sanitize() + `
			    SELECT 'bench', md5(g::text), 'f', 'bench', TRUE, 200, '{}', 0, 9e15, 0 FROM generate_series(1, $1::int) g`,
			`INSERT INTO ` + pgx.Identifier{schema, "audit"}.Sanitize() + ` (time, request_id, provider, username, capability,
			    factor_id, resource, outcome, reason, webhook_id, actor)
			    SELECT g, 'req', 'bench', 'user-' || g % 10000, 'totp', 'b1', 'validate', 'SUCCESS', '', 'wh', ''
			    FROM generate_series(1, $1::int) g`,
		} {
			if _, err := sv.Admin.Exec(ctx, q, prefill); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := sv.Admin.Exec(ctx, `CHECKPOINT`); err != nil {
			b.Fatal(err)
		}
	}
	var lsn0 string
	sv.Admin.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn0)
	cpu0 := cpuOf(b, pids)
	b.ResetTimer()
	run(b.N)
	b.StopTimer()
	cpu1 := cpuOf(b, pids)
	var wal int64
	sv.Admin.QueryRow(ctx, `SELECT pg_current_wal_lsn() - $1::pg_lsn`, lsn0).Scan(&wal)
	b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "pg-us/op")
	b.ReportMetric(float64(wal)/float64(b.N), "wal-B/op")
	b.ReportMetric(float64(len(pids)), "backends")
	if os.Getenv("EMFA_BENCH_HOT") != "" {
		s.Close()
		time.Sleep(2 * time.Second) // the backends' statistics, sent as they exit
		var upd, hot int64
		sv.Admin.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'factors'`, schema).Scan(&upd, &hot)
		b.Logf("factors: %d updates, %d HOT", upd, hot)
	}
}

func randHex(n int) string {
	p := make([]byte, n)
	rand.Read(p)
	return hex.EncodeToString(p)
}

// cpuOf is the user plus system CPU time of the processes pids (10 ms ticks).
func cpuOf(b *testing.B, pids []int) time.Duration {
	var d time.Duration
	for _, pid := range pids {
		buf, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			b.Fatal(err)
		}
		f := strings.Fields(string(buf[strings.LastIndexByte(string(buf), ')')+2:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		d += time.Duration(ut+st) * 10 * time.Millisecond
	}
	return d
}
