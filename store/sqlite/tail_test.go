package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// BenchmarkPacedDecisions is the store's share of the harness's paced TOTP row
// (bench/: 2,500 validations a second from 64 clients, 20,000 factors): each operation is
// due on a schedule, rate a second in all, and is taken by the first free client; its
// latency counts from when it was due. An operation is what a validation asks of the
// store: the idempotency claim (a deferred unit), the factor and its user read, and the
// decision (the counter, its audit row and the idempotency record's answer) in one unit.
//
// It reports p50, p99 and the worst, and where the slow operations' time went: waiting
// for a free client, in the claim, the read or the decision; the background checkpoints'
// count, p50 and worst, and how many slow operations overlapped one. And, from the WAL
// index (the -shm file, sampled every ~200 µs), how often the log started over
// (wal-restarts) and how many pages the writer copied itself, in its commits, outside
// every background checkpoint (writer-ckpts, writer-copied/ckpt): the stall of the
// writer's wal_autocheckpoint, which wall times on a shared machine cannot show apart.
// Run under `strace -f -e trace=fsync -T -y` to see which connection fsyncs the file.
//
// EMFA_TAIL_FACTORS sets the factors (20,000), EMFA_TAIL_RATE the rate (2,500);
// EMFA_TAIL_CSV names a file for every operation's times, EMFA_TAIL_DUMP logs the
// slowest, EMFA_TAIL_WAL prints the WAL index around the first restart.
func BenchmarkPacedDecisions(b *testing.B) {
	factors := envInt("EMFA_TAIL_FACTORS", 20000)
	rate := envInt("EMFA_TAIL_RATE", 2500)
	const clients = 64
	path := filepath.Join(b.TempDir(), "emfa.db")
	var ckMu sync.Mutex
	var ckSpans [][2]time.Time
	var ckStart time.Time
	s, err := Open(context.Background(), path, func(o *options) {
		o.checkpointed = func(error) {
			ckMu.Lock()
			ckSpans = append(ckSpans, [2]time.Time{ckStart, time.Now()})
			ckMu.Unlock()
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	probe := s.ck.probe
	s.ck.probe = func() {
		probe()
		ckMu.Lock()
		ckStart = time.Now()
		ckMu.Unlock()
	}
	ctx := context.Background()
	at := time.UnixMilli(1_700_000_000_000)
	users := max(1, factors/50)
	provision(b, s, users, factors, at)

	type sample struct {
		total, wait, claim, read, decide time.Duration
		due                              time.Time
	}
	samples := make([][]sample, clients)
	var next atomic.Int64
	counters := make([]int64, factors)
	free := make(chan int, factors) // a factor is used by one client at a time
	for i := range factors {
		free <- i
	}
	due := make(chan time.Time)
	stop := make(chan struct{})
	shm := watchWAL(path+"-shm", stop)
	b.ResetTimer()
	start := time.Now()
	go func() {
		defer close(due)
		for i := 0; ; i++ {
			t := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
			time.Sleep(time.Until(t))
			select {
			case due <- t:
			case <-stop:
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				t0, ok := <-due
				if !ok {
					return
				}
				var sm sample
				sm.due = t0
				t1 := time.Now()
				sm.wait = t1.Sub(t0)
				fi := <-free
				id := "f" + strconv.Itoa(fi)
				user := "u" + strconv.Itoa(fi%users)
				key := store.IdempotencyKey{Provider: "p", WebhookID: fmt.Sprint(c, "-", t0.UnixNano()), Fingerprint: "x"}
				owner := "o" + key.WebhookID
				claim, err := s.ClaimIdempotency(store.DeferSync(ctx), key, owner, at.Add(time.Minute), at.Add(time.Hour), at)
				if err != nil || !claim.Claimed {
					b.Errorf("claim: %v %v", claim.Claimed, err)
					return
				}
				t2 := time.Now()
				sm.claim = t2.Sub(t1)
				if _, _, err := s.GetFactorAndUser(ctx, id, user); err != nil {
					b.Errorf("read %s %s: %v", id, user, err)
					return
				}
				t3 := time.Now()
				sm.read = t3.Sub(t2)
				counters[fi]++
				n := counters[fi]
				err = s.Update(ctx, func(w store.Writer) error {
					if err := w.AdvanceCounter(ctx, id, n, at); err != nil {
						return err
					}
					if err := w.AppendAudit(ctx, store.AuditEvent{Time: at, Provider: "p", Username: user, Capability: "totp",
						FactorID: id, Resource: "validate", Outcome: "SUCCESS"}); err != nil {
						return err
					}
					return w.CompleteIdempotency(ctx, key, owner, 200, []byte(`{"status":"SUCCESS"}`), at)
				})
				free <- fi
				if err != nil {
					b.Errorf("decide: %v", err)
					return
				}
				t4 := time.Now()
				sm.decide = t4.Sub(t3)
				sm.total = t4.Sub(t0)
				samples[c] = append(samples[c], sm)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	for range due {
	}
	b.StopTimer()
	walSamples := <-shm

	var all []sample
	for _, s := range samples {
		all = append(all, s...)
	}
	if len(all) == 0 {
		return
	}
	slices.SortFunc(all, func(a, b sample) int { return int(a.total - b.total) })
	q := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))].total }
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "ops/s")
	b.ReportMetric(ms(q(0.5)), "p50-ms")
	b.ReportMetric(ms(q(0.99)), "p99-ms")
	b.ReportMetric(ms(all[len(all)-1].total), "max-ms")
	// The slowest 1 %: where their time went, summed.
	slow := all[len(all)*99/100:]
	var sw, sc, sr, sd time.Duration
	overlap := 0
	ckMu.Lock()
	spans := slices.Clone(ckSpans)
	ckMu.Unlock()
	for _, x := range slow {
		sw += x.wait
		sc += x.claim
		sr += x.read
		sd += x.decide
		end := x.due.Add(x.total)
		for _, sp := range spans {
			if sp[0].Before(end) && sp[1].After(x.due) {
				overlap++
				break
			}
		}
	}
	n := time.Duration(len(slow))
	b.ReportMetric(ms(sw/n), "slow-wait-ms")
	b.ReportMetric(ms(sc/n), "slow-claim-ms")
	b.ReportMetric(ms(sr/n), "slow-read-ms")
	b.ReportMetric(ms(sd/n), "slow-decide-ms")
	b.ReportMetric(float64(overlap)/float64(len(slow)), "slow-in-ckpt")
	var cks []time.Duration
	for _, sp := range spans {
		cks = append(cks, sp[1].Sub(sp[0]))
	}
	slices.Sort(cks)
	if len(cks) > 0 {
		b.ReportMetric(float64(len(cks)), "ckpts")
		b.ReportMetric(ms(cks[len(cks)/2]), "ckpt-p50-ms")
		b.ReportMetric(ms(cks[len(cks)-1]), "ckpt-max-ms")
	}
	// The WAL's frames copied outside every background checkpoint were copied by the
	// writer, in its commit (its wal_autocheckpoint), and a drop of mxFrame is a restart.
	var writerCopied, restarts, writerCkpts int
	for i := 1; i < len(walSamples); i++ {
		p, c := walSamples[i-1], walSamples[i]
		if c.mxFrame < p.mxFrame {
			restarts++
		}
		if c.nBackfill > p.nBackfill && c.mxFrame >= p.mxFrame {
			inBg := false
			for _, sp := range spans {
				if sp[0].Before(c.t) && sp[1].Add(time.Millisecond).After(p.t) {
					inBg = true
					break
				}
			}
			if !inBg {
				writerCkpts++
				writerCopied += int(c.nBackfill - p.nBackfill)
			}
		}
	}
	if os.Getenv("EMFA_TAIL_WAL") != "" {
		for i := 1; i < len(walSamples); i++ {
			if walSamples[i].mxFrame < walSamples[i-1].mxFrame {
				for _, w := range walSamples[max(0, i-12):min(len(walSamples), i+4)] {
					fmt.Fprintf(os.Stderr, "wal +%v mx %d backfill %d\n", w.t.Sub(start).Round(time.Microsecond), w.mxFrame, w.nBackfill)
				}
				for _, sp := range spans {
					if d := walSamples[i].t.Sub(sp[0]); d > 0 && d < 150*time.Millisecond {
						fmt.Fprintf(os.Stderr, "  bg ckpt +%v–%v\n", sp[0].Sub(start).Round(time.Microsecond), sp[1].Sub(start).Round(time.Microsecond))
					}
				}
				break
			}
		}
	}
	b.ReportMetric(float64(restarts), "wal-restarts")
	b.ReportMetric(float64(writerCkpts), "writer-ckpts")
	b.ReportMetric(float64(writerCopied)/float64(max(1, writerCkpts)), "writer-copied/ckpt")
	if f := os.Getenv("EMFA_TAIL_CSV"); f != "" {
		var buf []byte
		for _, x := range all {
			buf = fmt.Appendf(buf, "%d,%d,%d,%d,%d,%d\n", x.due.UnixNano(), x.total, x.wait, x.claim, x.read, x.decide)
		}
		_ = os.WriteFile(f, buf, 0o600)
	}
	if os.Getenv("EMFA_TAIL_DUMP") != "" {
		for _, x := range slow[max(0, len(slow)-20):] {
			b.Logf("due +%v total %v wait %v claim %v read %v decide %v", x.due.Sub(start).Round(time.Microsecond), x.total, x.wait, x.claim, x.read, x.decide)
		}
		for _, sp := range spans {
			if d := sp[1].Sub(sp[0]); d > 2*time.Millisecond {
				b.Logf("ckpt +%v %v", sp[0].Sub(start).Round(time.Microsecond), d)
			}
		}
	}
}

type walSample struct {
	t                  time.Time
	mxFrame, nBackfill uint32
}

// watchWAL samples the WAL index's last frame and the frames checkpointed (the -shm file:
// the index header twice, 48 bytes each, then nBackfill) until stop, and sends them.
func watchWAL(path string, stop <-chan struct{}) <-chan []walSample {
	out := make(chan []walSample, 1)
	go func() {
		var got []walSample
		defer func() { out <- got }()
		f, err := os.Open(path)
		if err != nil {
			return
		}
		defer f.Close()
		var buf [100]byte
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := f.ReadAt(buf[:], 0); err == nil {
				le := func(o int) uint32 {
					return uint32(buf[o]) | uint32(buf[o+1])<<8 | uint32(buf[o+2])<<16 | uint32(buf[o+3])<<24
				}
				sm := walSample{t: time.Now(), mxFrame: le(16), nBackfill: le(96)}
				if n := len(got); n == 0 || got[n-1].mxFrame != sm.mxFrame || got[n-1].nBackfill != sm.nBackfill {
					got = append(got, sm)
				}
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	return out
}

// provision makes users users and factors factors spread over them, from 64 goroutines.
func provision(b *testing.B, s *Store, users, factors int, at time.Time) {
	ctx := context.Background()
	var wg sync.WaitGroup
	var nextU, nextF atomic.Int64
	for range 64 {
		wg.Go(func() {
			for i := int(nextU.Add(1) - 1); i < users; i = int(nextU.Add(1) - 1) {
				if err := s.CreateUser(ctx, store.User{ID: "u" + strconv.Itoa(i), Name: "u" + strconv.Itoa(i), CreatedAt: at}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for range 64 {
		wg.Go(func() {
			for i := int(nextF.Add(1) - 1); i < factors; i = int(nextF.Add(1) - 1) {
				if err := s.CreateFactor(ctx, store.Factor{ID: "f" + strconv.Itoa(i), UserID: "u" + strconv.Itoa(i%users), Type: "totp", State: store.FactorActive,
					Secret: make([]byte, 48), KeyID: "k1", Counter: -1, CreatedAt: at, UpdatedAt: at}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
