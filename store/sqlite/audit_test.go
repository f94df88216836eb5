package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/rusage"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
)

// auditLoad is a TOTP validation load on a database file whose audit trail already holds
// seed rows spread over users users, each with one factor: clients goroutines decide on
// their share of the factors (the counter's UPDATE, its audit row with the user's name),
// decisions in all. ddl runs on the migrated database before the load (a variant of the
// schema). It reports what the load wrote to the WAL, read from the log itself (a reader
// holds it open so that no checkpoint starts it over), and the process's CPU time.
type auditLoad struct {
	seed, users, clients, decisions int
	ddl                             []string
}

type walWrites struct {
	frames, commits int
	pages           map[string]int // b-tree name → frames of its pages
	cpu             time.Duration
}

func (l auditLoad) run(tb testing.TB) walWrites {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(tb.TempDir(), "emfa.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	s.Close()
	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		tb.Fatal(err)
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	const at = int64(1_700_000_000_000)
	for _, q := range []string{
		`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i+1 < ` + fmt.Sprint(l.users) + `)
		 INSERT INTO users (id, name, created_at) SELECT 'u'||i, 'user'||i||'@example.com', 0 FROM n`,
		`INSERT INTO factors (id, user_id, type, label, state, secret, key_id, counter, created_at, updated_at)
		 SELECT 'f'||substr(id, 2), id, 'totp', '', 'active', x'00', 'k1', -1, 0, 0 FROM users`,
		`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i+1 < ` + fmt.Sprint(l.seed) + `)
		 INSERT INTO audit (time, request_id, provider, username, capability, factor_id, resource, outcome, reason)
		 SELECT ` + fmt.Sprint(at-int64(l.seed)) + `+i, 'r'||i, 'verify', 'user'||(i*7919 % ` + fmt.Sprint(l.users) + `)||'@example.com', 'totp',
		        'f'||(i*7919 % ` + fmt.Sprint(l.users) + `), 'validate', 'SUCCESS', '' FROM n`,
	} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			tb.Fatal(q, err)
		}
	}
	for _, q := range l.ddl {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			tb.Fatal(q, err)
		}
	}
	var check string
	if err := raw.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		tb.Fatalf("integrity_check after %q: %s, %v", l.ddl, check, err)
	}
	if _, err := raw.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		tb.Fatal(err)
	}

	s, err = sqlite.Open(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	// A read transaction open from here on: no checkpoint copies, nor starts over, the log
	// the load writes.
	hold, err := raw.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		tb.Fatal(err)
	}
	if err := hold.QueryRowContext(ctx, `SELECT count(*) FROM factors`).Scan(new(int)); err != nil {
		tb.Fatal(err)
	}
	start := walFrameCount(tb, path)

	var wg sync.WaitGroup
	per := (l.decisions + l.clients - 1) / l.clients
	if tb, ok := tb.(*testing.B); ok {
		tb.ResetTimer()
	}
	cpu := rusage.Process()
	for c := range l.clients {
		wg.Go(func() {
			counters := map[int]int64{}
			for i := range per {
				f := c + l.clients*(i%((l.users-c+l.clients-1)/l.clients))
				counters[f]++
				err := s.Update(ctx, func(w store.Writer) error {
					if err := w.AdvanceCounter(ctx, fmt.Sprint("f", f), counters[f], time.UnixMilli(at)); err != nil {
						return err
					}
					return w.AppendAudit(ctx, store.AuditEvent{Time: time.UnixMilli(at + int64(i)), RequestID: "req", Provider: "verify",
						Username: fmt.Sprintf("user%d@example.com", f), Capability: "totp", FactorID: fmt.Sprint("f", f),
						Resource: "validate", Outcome: "SUCCESS"})
				})
				if err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	got := walWrites{cpu: rusage.Process() - cpu}
	frames := walFramesFrom(tb, path, start)
	_ = hold.Rollback()
	// Which b-tree each page written belongs to.
	owner := map[uint32]string{}
	rows, err := raw.QueryContext(ctx, `SELECT name, pageno FROM dbstat`)
	if err != nil {
		tb.Fatal(err)
	}
	for rows.Next() {
		var name string
		var page uint32
		if err := rows.Scan(&name, &page); err != nil {
			tb.Fatal(err)
		}
		owner[page] = name
	}
	rows.Close()
	got.pages = map[string]int{}
	for _, f := range frames {
		got.frames++
		if f.commit {
			got.commits++
		}
		name := owner[f.page]
		if name == "" {
			name = "(free)"
		}
		got.pages[name]++
	}
	return got
}

const walHeader, walFrame = 32, 24 + 4096

type walFrameInfo struct {
	page   uint32
	commit bool
}

func walFrameCount(tb testing.TB, path string) int {
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		return 0
	}
	return max(0, int(fi.Size()-walHeader)/walFrame)
}

// walFramesFrom reads the frames of path's log after its first n.
func walFramesFrom(tb testing.TB, path string, n int) []walFrameInfo {
	b, err := os.ReadFile(path + "-wal")
	if err != nil {
		tb.Fatal(err)
	}
	var out []walFrameInfo
	for off := walHeader + n*walFrame; off+walFrame <= len(b); off += walFrame {
		out = append(out, walFrameInfo{page: binary.BigEndian.Uint32(b[off:]), commit: binary.BigEndian.Uint32(b[off+4:]) != 0})
	}
	return out
}

// BenchmarkAuditWrites runs b.N TOTP validations from 64 clients on a trail of
// 200,000 rows over 400 users (auditLoad) and reports the WAL frames they wrote, a commit
// and a decision, those of the audit table and each of its indexes a decision, and the
// process's CPU time a decision: for the schema as it is, and as it would be without the
// index by user, or without AUTOINCREMENT. Run with -benchtime 6400x.
func BenchmarkAuditWrites(b *testing.B) {
	for _, v := range []struct {
		name string
		ddl  []string
	}{
		{"schema=now", nil},
		{"schema=no-user-index", []string{`DROP INDEX audit_username_time`}},
		{"schema=no-autoincrement", noAutoincrement},
	} {
		b.Run(v.name, func(b *testing.B) {
			l := auditLoad{seed: 200_000, users: 400, clients: 64, decisions: b.N, ddl: v.ddl}
			w := l.run(b)
			n := float64(b.N)
			b.ReportMetric(float64(w.frames)/n, "frames/op")
			b.ReportMetric(float64(w.frames)/float64(w.commits), "frames/commit")
			b.ReportMetric(float64(w.cpu.Microseconds())/n, "cpu-µs/op")
			for _, tree := range []string{"audit", "audit_time", "audit_resource_time", "audit_username_time", "sqlite_sequence", "factors"} {
				b.ReportMetric(float64(w.pages[tree])/n, tree+"-frames/op")
			}
		})
	}
}

// noAutoincrement takes AUTOINCREMENT off the audit table's definition in place, its rows
// untouched: the table's b-tree is the same with or without it (a rowid table).
var noAutoincrement = []string{
	`PRAGMA writable_schema = ON`,
	`UPDATE sqlite_schema SET sql = replace(sql, 'id          INTEGER PRIMARY KEY AUTOINCREMENT', 'id          INTEGER PRIMARY KEY')
	 WHERE type = 'table' AND name = 'audit'`,
	`DELETE FROM sqlite_sequence WHERE name = 'audit'`,
	`PRAGMA writable_schema = RESET`,
}

// BenchmarkAuditInsert is one audit row's INSERT, 32 a transaction, on the migrated
// schema as it is, without AUTOINCREMENT, and either without the index by user, with
// synchronous=OFF: the statement's and its commit's CPU on the running thread
// (cpu-ns/op), whatever else the machine runs.
func BenchmarkAuditInsert(b *testing.B) {
	for _, v := range []struct {
		name string
		ddl  []string
	}{{"autoinc", nil}, {"rowid", noAutoincrement}, {"autoinc-nouser", []string{`DROP INDEX audit_username_time`}}, {"rowid-nouser", append([]string{`DROP INDEX audit_username_time`}, noAutoincrement...)}} {
		b.Run(v.name, func(b *testing.B) {
			ctx := context.Background()
			path := filepath.Join(b.TempDir(), "emfa.db")
			s, err := sqlite.Open(ctx, path)
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
			db, err := sql.Open("sqlite", path+"?_pragma=synchronous(OFF)")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			for _, q := range v.ddl {
				if _, err := db.ExecContext(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
			conn, err := db.Conn(ctx)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			ins, err := conn.PrepareContext(ctx, `INSERT INTO audit (`+"time, request_id, provider, username, capability, factor_id, resource, outcome, reason, webhook_id, actor"+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
			if err != nil {
				b.Fatal(err)
			}
			defer ins.Close()
			i := 0
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu := threadCPU()
			if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				i++
				if _, err := ins.ExecContext(ctx, int64(1_700_000_000_000+i), "req", "verify", "user"+fmt.Sprint(i*7919%400)+"@example.com", "totp", "f1", "validate", "SUCCESS", "", "", ""); err != nil {
					b.Fatal(err)
				}
				if i%32 == 0 {
					if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
						b.Fatal(err)
					}
					if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
						b.Fatal(err)
					}
				}
			}
			if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(threadCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
