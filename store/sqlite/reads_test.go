//go:build linux

package sqlite_test

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/emfa/emfa/internal/rusage"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
)

// readSyscalls is how many read system calls this process has made (/proc/self/io's
// syscr): a page a reader fetches from the file or the log, rather than from its cache or
// a mapping, is one pread.
func readSyscalls(tb testing.TB) int64 {
	f, err := os.Open("/proc/self/io")
	if err != nil {
		tb.Skip("no /proc/self/io:", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "syscr: "); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Skip("no syscr in /proc/self/io")
	return 0
}

// threadCPU is the CPU time the calling thread has used (CLOCK_THREAD_CPUTIME_ID): the
// reads' own, whatever else the machine runs. The caller locks its goroutine to the thread.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// BenchmarkReadAfterCommit is a validation's reads (GetFactorAndUser, then
// UserDisabled as a mediated call makes it) right after a commit of the writer, as under
// load every read comes: WAL makes a reader connection drop its page cache when it finds
// the database changed since its last read. It reports the reads' time and their read
// system calls, the commits apart, and the reading thread's CPU time.
func BenchmarkReadAfterCommit(b *testing.B) {
	for _, v := range []struct{ name, query string }{
		{"default", ""},
		{"mmap=off", "?_pragma=mmap_size(0)"},
		{"mmap=256MiB", "?_pragma=mmap_size(268435456)"},
	} {
		b.Run(v.name, func(b *testing.B) {
			s := open(b, fileDSN(b)+v.query)
			ctx := b.Context()
			at := time.UnixMilli(1_700_000_000_000)
			if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: at}); err != nil {
				b.Fatal(err)
			}
			for i := range 64 {
				if err := s.CreateFactor(ctx, store.Factor{ID: fmt.Sprint("f", i), UserID: "u1", Type: "totp", State: store.FactorActive,
					Secret: []byte("s"), KeyID: "k1", Counter: -1, CreatedAt: at, UpdatedAt: at}); err != nil {
					b.Fatal(err)
				}
			}
			wctx := store.DeferSync(ctx)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var took, cpu time.Duration
			var preads int64
			c := int64(0)
			for b.Loop() {
				c++
				id := fmt.Sprint("f", c%64)
				err := s.Update(wctx, validation(ctx, id, c, at))
				if err != nil {
					b.Fatal(err)
				}
				r0, t0, c0 := readSyscalls(b), time.Now(), threadCPU()
				if _, u, err := s.GetFactorAndUser(ctx, id, "alice"); err != nil || u.ID != "u1" {
					b.Fatal(u, err)
				}
				if off, err := s.UserDisabled(ctx, "alice"); err != nil || off {
					b.Fatal(off, err)
				}
				cpu += threadCPU() - c0
				took += time.Since(t0)
				preads += readSyscalls(b) - r0
			}
			b.ReportMetric(float64(took.Nanoseconds())/float64(b.N)/1e3, "read-µs/op")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/1e3, "read-cpu-µs/op")
			b.ReportMetric(float64(preads)/float64(b.N), "preads/op")
		})
	}
}

// BenchmarkValidationsUnderLoad is the store's part of a TOTP validation (its read of
// the factor and user, then its deciding unit: AdvanceCounter and the audit row, durable)
// from 64 goroutines, each on a factor of its own, with read pools of several sizes. It
// reports the process's CPU time and read system calls per validation.
func BenchmarkValidationsUnderLoad(b *testing.B) {
	for _, readers := range []int{0, 1, 2, 4, 8} {
		b.Run(fmt.Sprint("readers=", readers), func(b *testing.B) {
			s, err := sqlite.Open(b.Context(), fileDSN(b), sqlite.ReadConns(readers))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			ctx := b.Context()
			at := time.UnixMilli(1_700_000_000_000)
			if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: at}); err != nil {
				b.Fatal(err)
			}
			const clients = 64
			for i := range clients {
				if err := s.CreateFactor(ctx, store.Factor{ID: fmt.Sprint("f", i), UserID: "u1", Type: "totp", State: store.FactorActive,
					Secret: []byte("s"), KeyID: "k1", Counter: -1, CreatedAt: at, UpdatedAt: at}); err != nil {
					b.Fatal(err)
				}
			}
			var next atomic.Int64
			r0, cpu := readSyscalls(b), rusage.Process()
			b.ResetTimer()
			var wg sync.WaitGroup
			for i := range clients {
				wg.Go(func() {
					id := fmt.Sprint("f", i)
					for c := int64(1); next.Add(1) <= int64(b.N); c++ {
						if _, u, err := s.GetFactorAndUser(ctx, id, "alice"); err != nil || u.ID != "u1" {
							b.Error(u, err)
							return
						}
						err := s.Update(ctx, validation(ctx, id, c, at))
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64((rusage.Process()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
			b.ReportMetric(float64(readSyscalls(b)-r0)/float64(b.N), "preads/op")
		})
	}
}
