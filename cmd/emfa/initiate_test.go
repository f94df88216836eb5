package main

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/rusage"
)

// BenchmarkMediatedPushInitiateCPU is BenchmarkMediatedPushInitiateParallel with the
// process's CPU time per initiate (cpu-µs/op: emfa's, and the client's and the DUO fake's,
// which are the same whatever emfa does), which ns/op hides behind the commits' fsyncs
// and the other loads of a shared machine.
func BenchmarkMediatedPushInitiateCPU(b *testing.B) {
	base := mediatedDUO(b)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var seq atomic.Int64
	b.SetParallelism(16) // × GOMAXPROCS
	cpu := rusage.Process()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !mediatedInitiate(b, client, base, fmt.Sprint("bench-", seq.Add(1))) {
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((rusage.Process()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
}
