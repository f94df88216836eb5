package adapter

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slogAccessLine is the line slog's own JSON handler (default options) writes for a at
// level and time t: what appendAccessLine must write byte for byte.
func slogAccessLine(t time.Time, level slog.Level, a *accessRecord) string {
	var buf bytes.Buffer
	r := slog.NewRecord(t, level, "request", 0)
	r.AddAttrs(a.attrs()...)
	_ = slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}).Handle(context.Background(), r)
	return buf.String()
}

// oddStrings are strings slog escapes: quotes, backslashes, control bytes, bytes that are
// not UTF-8, U+2028 and U+2029, HTML's specials, DEL, a rune of four bytes.
var oddStrings = []string{
	"", "alice", `a"b\c`, "tab\there\nline\rcr", "\x00\x01\x1f\x7f", "bad\xffutf8\xc3", "\u2028x\u2029",
	"<script>&amp;</script>", "é€𝄞", "/v1/providers/acme/enrollments", "127.0.0.1", "\xed\xa0\x80", "\\u2028",
}

// TestAccessLineAsSlog: the access log's line, written directly, is the line
// slog's JSON handler writes for the same record, for odd strings in every field, every
// level, durations that json.Marshal writes with an exponent, times in other zones and
// with a monotonic reading, and every optional attribute present or absent. It failed
// first as a build failure (no appendAccessLine); mutations tried: "<" escaped as
// encoding/json's HTML-safe form, the e-09 clean-up dropped, U+2028 left as it is.
func TestAccessLineAsSlog(t *testing.T) {
	zone := time.FixedZone("odd", -(3*3600 + 30*60))
	times := []time.Time{time.Now(), time.Date(2026, 12, 6, 20, 0, 0, 0, time.UTC), time.Date(9999, 1, 2, 3, 4, 5, 123456789, zone), time.Date(0, 1, 1, 0, 0, 0, 1, time.UTC)}
	levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelInfo + 2, slog.LevelError + 9}
	durations := []float64{0, 0.001, 1.5, 1234.567, 1e-7, 5e-324, 1e21, 1.5e22, 123456789012.345, -0.25, math.MaxFloat64}
	n := 0
	for i, s := range oddStrings {
		for j, d := range durations {
			a := accessRecord{method: s, path: oddStrings[(i+1)%len(oddStrings)], status: 200 + i*37, durationMS: d,
				bytes: int64(j*1000 - 1), remote: oddStrings[(i+2)%len(oddStrings)], requestID: oddStrings[(i+3)%len(oddStrings)],
				provider: s, hasProvider: j%2 == 0, webhookID: oddStrings[(i+j)%len(oddStrings)], hasWebhookID: j%3 == 0,
				actor: oddStrings[(i+4)%len(oddStrings)], retry: j%4 == 1}
			tm, level := times[(i+j)%len(times)], levels[(i*3+j)%len(levels)]
			got, ok := appendAccessLine(nil, tm, level, &a)
			if !ok {
				t.Fatalf("%+v: not written", a)
			}
			if want := slogAccessLine(tm, level, &a); string(got) != want {
				t.Errorf("line differs from slog's:\n got %s\nwant %s", got, want)
			}
			n++
		}
	}
	if n < 100 {
		t.Fatalf("only %d lines compared", n)
	}
}

// TestAccessLineRefusesWhatSlogFaults: a time outside years 0–9999 and a
// duration that is not a number are left to slog, which writes its error for them.
func TestAccessLineRefusesWhatSlogFaults(t *testing.T) {
	a := accessRecord{method: "GET", path: "/healthz"}
	if _, ok := appendAccessLine(nil, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelInfo, &a); ok {
		t.Error("year 10000 written directly")
	}
	if _, ok := appendAccessLine(nil, time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelInfo, &a); ok {
		t.Error("year -1 written directly")
	}
	for _, d := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		a.durationMS = d
		if _, ok := appendAccessLine(nil, time.Now(), slog.LevelInfo, &a); ok {
			t.Errorf("duration %v written directly", d)
		}
	}
}

// FuzzAccessLine: any strings, status, size and duration give slog's line.
func FuzzAccessLine(f *testing.F) {
	for i, s := range oddStrings {
		f.Add(s, oddStrings[(i+5)%len(oddStrings)], 200+i, int64(i*100), float64(i)*0.37, uint8(i))
	}
	tm := time.Date(2026, 12, 6, 20, 0, 0, 123000, time.Local)
	f.Fuzz(func(t *testing.T, s1, s2 string, status int, size int64, d float64, flags uint8) {
		a := accessRecord{method: s1, path: s2, status: status, durationMS: d, bytes: size, remote: s2, requestID: s1,
			provider: s2, hasProvider: flags&1 != 0, webhookID: s1, hasWebhookID: flags&2 != 0, retry: flags&4 != 0}
		if flags&8 != 0 {
			a.actor = s2
		}
		level := slog.Level(int(flags>>4) - 8)
		got, ok := appendAccessLine(nil, tm, level, &a)
		if !ok {
			if !math.IsNaN(d) && !math.IsInf(d, 0) {
				t.Fatalf("%+v: not written", a)
			}
			return
		}
		if want := slogAccessLine(tm, level, &a); string(got) != want {
			t.Errorf("line differs from slog's:\n got %s\nwant %s", got, want)
		}
	})
}

// TestAccessLogAllocations: through NewLogHandler at info, a contract call's
// access line allocates nothing: the call allocates as with the log discarded
// (TestContractCallAllocations'). Through slog's JSON handler it allocated 3 more (the
// attributes past a record's five, json.Marshal's encoder for the duration); this failed
// first so, with the handler slog's own. Mutation tried: writeAccess answering false (slog's path).
func TestAccessLogAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's build allocates more")
	}
	const path, body = "/v1/providers/acme/enrollments", `{"username":"alice"}`
	discard := contractRun(t, "POST", path, body, slog.New(slog.DiscardHandler), nil)
	var lines countingWriter
	logged := contractRun(t, "POST", path, body, slog.New(NewLogHandler(&lines, nil)), nil)
	if discard() != http.StatusOK || logged() != http.StatusOK {
		t.Fatal("the call did not answer 200")
	}
	base := testing.AllocsPerRun(200, func() { discard() })
	got := testing.AllocsPerRun(200, func() { logged() })
	if lines.n.Load() < 200 {
		t.Fatalf("%d access lines written for 200 calls and more", lines.n.Load())
	}
	t.Logf("allocations a call: %v discarded, %v logged at info", base, got)
	if got > base {
		t.Errorf("an access line at info allocates %v times, want none (%v a call with the log discarded)", got-base, base)
	}
}

// TestAccessLogThroughHandler: a contract call's line through NewLogHandler is
// slog's JSON, and the handler's other lines, the derived handlers' and those under a
// ReplaceAttr or AddSource, are slog's own: the ReplaceAttr sees the access line's
// attributes. Mutation tried: direct set regardless of ReplaceAttr (the redaction below
// not applied).
func TestAccessLogThroughHandler(t *testing.T) {
	const path, body = "/v1/providers/acme/enrollments", `{"username":"alice"}`
	var plain bytes.Buffer
	contractRun(t, "POST", path, body, slog.New(NewLogHandler(&plain, nil)), nil)()
	var m map[string]any
	if err := json.Unmarshal(plain.Bytes(), &m); err != nil || m["msg"] != "request" || m["provider"] != "acme" ||
		m["request_id"] != "allocs-1" || m["status"] != 200.0 || m["level"] != "INFO" {
		t.Errorf("access line %q: %v %v", plain.String(), m, err)
	}
	redact := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == "remote" {
			a.Value = slog.StringValue("redacted")
		}
		return a
	}}
	var replaced bytes.Buffer
	contractRun(t, "POST", path, body, slog.New(NewLogHandler(&replaced, redact)), nil)()
	if !strings.Contains(replaced.String(), `"remote":"redacted"`) {
		t.Errorf("ReplaceAttr not applied to the access line: %s", replaced.String())
	}
	// slog writes no source for a record without a program counter, as the access log's
	// is, but the line is still slog's to write under AddSource.
	if NewLogHandler(io.Discard, &slog.HandlerOptions{AddSource: true}).(*jsonLog).direct {
		t.Error("under AddSource the access line is written directly")
	}
	var derived bytes.Buffer
	contractRun(t, "POST", path, body, slog.New(NewLogHandler(&derived, nil)).With("component", "api"), nil)()
	if !strings.Contains(derived.String(), `"component":"api"`) || !strings.Contains(derived.String(), `"msg":"request"`) {
		t.Errorf("a derived logger's access line lacks its attributes: %s", derived.String())
	}
}

// TestAccessLogLinesWhole: lines written directly and lines slog writes, from
// many goroutines at once into a writer that does not lock, come out whole, one JSON
// object a line (under -race, a missing lock is a reported race). Mutation tried:
// lockedWriter.Write without its lock (the race detector fails the test).
func TestAccessLogLinesWhole(t *testing.T) {
	var out bytes.Buffer // not safe for concurrent writes: the handler's lock must make it so
	h := NewLogHandler(&out, nil).(*jsonLog)
	log := slog.New(h)
	derived := log.With("k", "v")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				switch (g + i) % 3 {
				case 0:
					h.writeAccess(time.Now(), slog.LevelInfo, &accessRecord{method: "POST", path: "/p", status: 200, requestID: "r"})
				case 1:
					log.Info("other", "i", i)
				default:
					derived.Warn("derived", "i", i)
				}
			}
		}()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 400 {
		t.Fatalf("%d lines, want 400", len(lines))
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("a line not whole: %q", l)
		}
	}
}

// countingWriter counts the lines written to it, as a log file would take them.
type countingWriter struct{ n atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(bytes.Count(p, []byte{'\n'})))
	return len(p), nil
}

var _ io.Writer = (*countingWriter)(nil)

// BenchmarkAccessLine is one access line of a mediated enrollments call, as the
// access log writes it directly.
func BenchmarkAccessLine(b *testing.B) {
	a := accessRecord{method: "POST", path: "/v1/providers/duo/enrollments", status: 200, durationMS: 1.234, bytes: 187,
		remote: "127.0.0.1", requestID: "3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b", provider: "duo", hasProvider: true}
	buf := make([]byte, 0, 512)
	now := time.Now()
	for b.Loop() {
		buf, _ = appendAccessLine(buf[:0], now, slog.LevelInfo, &a)
	}
}
