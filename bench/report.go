package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type machine struct {
	cpu, kernel, goVersion string
	cores                  int
	sqlite, postgres       string
	loadStart, loadEnd     string
	fsync                  []time.Duration // before each round and at the end
	pageFault              time.Duration   // one first touch of an anonymous page, at the start
	psiStart, psiEnd       map[string]psi
	started, ended         time.Time
}

// psi is a "some" total from /proc/pressure/<resource>: how long at least one task waited
// for the resource, cumulative.
type psi time.Duration

func pressure() map[string]psi {
	out := map[string]psi{}
	for _, r := range []string{"cpu", "io"} {
		b, err := os.ReadFile("/proc/pressure/" + r)
		if err != nil {
			continue
		}
		for f := range strings.FieldsSeq(strings.SplitN(string(b), "\n", 2)[0]) {
			if v, ok := strings.CutPrefix(f, "total="); ok {
				if us, err := strconv.ParseInt(v, 10, 64); err == nil {
					out[r] = psi(time.Duration(us) * time.Microsecond)
				}
			}
		}
	}
	return out
}

// stalled says, per resource, the share of the run during which some task waited for it:
// on a machine of one's own this stays near 0 %.
func (m machine) stalled() string {
	var parts []string
	for _, r := range []string{"cpu", "io"} {
		a, okA := m.psiStart[r]
		b, okB := m.psiEnd[r]
		if okA && okB {
			parts = append(parts, fmt.Sprintf("%s %.0f %%", r, 100*time.Duration(b-a).Seconds()/m.ended.Sub(m.started).Seconds()))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " Pressure stall (share of the run some task waited for): " + strings.Join(parts, ", ") + "."
}

// pageFaultCost is what the first write to a fresh anonymous page costs, the median of
// three passes over 16 MiB: the kernel's page fault, which on a virtual machine can cost
// a hundred times what it does on bare metal. A process's start-up is mostly such faults
// (its heap, and its binary's pages), so this says how to read the start-up figures.
func pageFaultCost() time.Duration {
	const size, page = 16 << 20, 4096
	var ds []time.Duration
	for range 3 {
		b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			return 0
		}
		start := time.Now()
		for i := 0; i < size; i += page {
			b[i] = 1
		}
		ds = append(ds, time.Since(start)/(size/page))
		_ = syscall.Munmap(b)
	}
	return median(ds)
}

// fsyncLatency is the median time of 20 4 KiB writes each followed by fsync in dir: what
// every SQLite commit waits for (synchronous=FULL), and on a shared disk the first thing
// to vary.
func fsyncLatency(dir string) time.Duration {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return 0
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	var ds []time.Duration
	for i := range 20 {
		d, err := writeSync(f, buf, int64(i*len(buf)))
		if err != nil {
			return 0
		}
		ds = append(ds, d)
	}
	return median(ds)
}

// writeSync writes buf at off in f and fsyncs f, and returns how long that took.
func writeSync(f *os.File, buf []byte, off int64) (time.Duration, error) {
	start := time.Now()
	if _, err := f.WriteAt(buf, off); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// fsyncProbeEvery is how often probeFsync writes and fsyncs beside a scenario: ~5 % of a
// disk that does a thousand fsyncs a second, and enough probes for a p99 in 5 s.
const fsyncProbeEvery = 20 * time.Millisecond

// probeFsync writes 4 KiB and fsyncs it in dir at once and then every interval until the
// function it returns is called, which returns the latencies, sorted: how long a commit's
// fsync waited while the scenario ran, so that a row's tail can be told from the disk's.
// There is always the first probe, and none if the probe file cannot be written.
func probeFsync(dir string, every time.Duration) (stop func() []time.Duration) {
	quit, done := make(chan struct{}), make(chan []time.Duration, 1)
	go func() {
		var ds []time.Duration
		defer func() { slices.Sort(ds); done <- ds }()
		f, err := os.CreateTemp(dir, "fsync-probe-")
		if err != nil {
			return
		}
		defer os.Remove(f.Name())
		defer f.Close()
		buf := make([]byte, 4096)
		t := time.NewTicker(every)
		defer t.Stop()
		for i := 0; ; i++ {
			if i > 0 {
				select {
				case <-quit:
					return
				case <-t.C:
				}
			}
			d, err := writeSync(f, buf, int64(i%256)*int64(len(buf))) // 1 MiB, overwritten
			if err != nil {
				ds = nil
				return
			}
			ds = append(ds, d)
		}
	}()
	return func() []time.Duration {
		close(quit)
		return <-done
	}
}

func machineInfo() machine {
	m := machine{cores: runtime.NumCPU(), goVersion: runtime.Version(), cpu: "unknown CPU"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				m.cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	return m
}

// loadAvg is /proc/loadavg's 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

type memReport struct {
	conns                 int
	quietFor              time.Duration
	connsQuietFor         time.Duration // how long the connections were idle when after was read
	loaded, before, after int           // KiB: as its last row ended, quiet, quiet with the connections
	loadedAfter           string        // the row at whose end loaded was read; "" if none ran
	// afterFile is the part of after mapped from files (RssFile): the binary's pages,
	// clean and shared with the page cache, against the process's own memory.
	afterFile int
	err       error
	tls       tlsMem // the same connections in HTTPS, on an emfa that served no load
}

// tlsMem is the memory reading under server.tls: at rest, then with the connections.
type tlsMem struct {
	before, after int // KiB
	err           error
}

type startup struct {
	what   string
	d      time.Duration
	spread [2]time.Duration // the fastest and slowest of several, when d is their median
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	}
}

func median[T int64 | float64 | time.Duration](v []T) T {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

type summary struct {
	tput             float64
	p50, p99         time.Duration
	errors, requests int      // wrong answers, right answers
	unsent           int      // paced: due and never sent, over the rounds
	none             bool     // no round had a right answer: no p50, p99 or CPU per request
	split            cpuSplit // CPU per request by consumer, each the median over the rounds
	rest             time.Duration

	// starvedRounds of the rounds ran out of fresh codes (starvedLimit), the worst with
	// its workers waiting starved of their time: left out of the figures unless all did.
	starvedRounds, rounds int
	starved               float64
	// rate is the highest rate a round reached, or for a starved round would have reached
	// had its workers not waited: what the codes must be able to feed.
	rate float64
}

// starvedLimit is the share of their time a round's workers may wait for fresh TOTP codes
// and the round still measure the server: above it, the round measured the codes' supply.
const starvedLimit = 0.01

func summarise(ms []measurement) summary {
	var tput []float64
	var p50, p99 []time.Duration
	var s summary
	var splits []cpuSplit
	s.rounds = len(ms)
	var fed []measurement
	for _, m := range ms {
		s.errors += m.errors
		s.requests += m.requests
		s.unsent += m.unsent
		share := m.starvedShare()
		if share <= starvedLimit {
			fed = append(fed, m)
			s.rate = max(s.rate, m.throughput())
			continue
		}
		s.starvedRounds++
		s.starved = max(s.starved, share)
		if share < 1 {
			s.rate = max(s.rate, m.throughput()/(1-share))
		}
	}
	// A round that ran out of codes measured their supply, and at fewer requests in
	// flight: it is left out of the figures, unless every round ran out (the row then
	// says its req/s is a floor).
	if len(fed) == 0 {
		fed = ms
	}
	for _, m := range fed {
		tput = append(tput, m.throughput())
		// A round without a right answer has no latency and no cost per answer: not a 0.
		if m.requests > 0 {
			splits = append(splits, m.cpu.per(m.requests))
			p50 = append(p50, m.quantile(0.5))
			p99 = append(p99, m.quantile(0.99))
		}
	}
	s.tput = median(tput)
	if len(p50) == 0 {
		s.none = true
		return s
	}
	s.p50, s.p99 = median(p50), median(p99)
	med := func(f func(cpuSplit) time.Duration) time.Duration {
		var v []time.Duration
		for _, c := range splits {
			v = append(v, f(c))
		}
		return median(v)
	}
	s.split = cpuSplit{
		server:   med(func(c cpuSplit) time.Duration { return c.server }),
		harness:  med(func(c cpuSplit) time.Duration { return c.harness }),
		stub:     med(func(c cpuSplit) time.Duration { return c.stub }),
		postgres: med(func(c cpuSplit) time.Duration { return c.postgres }),
		machine:  med(func(c cpuSplit) time.Duration { return c.machine }),
	}
	s.rest = med(cpuSplit.rest) // of each round's rest: not the medians' difference
	return s
}

func signedDur(d time.Duration) string {
	if d < 0 {
		return "−" + fmtDur(-d)
	}
	return "+" + fmtDur(d)
}

func report(o options, info machine, scenarios []*scenario, results map[*scenario][]measurement,
	skipped []string, mem memReport, startups []startup, provisioned []startup) {
	w := o.out
	fmt.Fprintf(w, "\n## emfa benchmark, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fault := ""
	if info.pageFault > 0 {
		fault = fmt.Sprintf(" A page fault (first touch of an anonymous page) %.2f µs.", float64(info.pageFault)/1e3)
	}
	fmt.Fprintf(w, "Machine: %s, %d logical CPUs, Linux %s, %s. Load average (1/5/15 min) %s at the start, %s at the end.%s%s\n",
		info.cpu, info.cores, info.kernel, info.goVersion, info.loadStart, info.loadEnd, info.stalled(), fault)
	var fs []string
	for _, d := range info.fsync {
		fs = append(fs, fmtDur(d))
	}
	stores := info.sqlite
	if info.postgres != "" {
		stores += "; " + info.postgres
	}
	fmt.Fprintf(w, "Stores: %s. fsync of 4 KiB in the SQLite directory (median of 20), before each round and at the end: %s.\n",
		stores, strings.Join(fs, ", "))
	fmt.Fprintf(w, "Run: -duration %s -warmup %s -c %d -rounds %d -factors %d -period %d -paced %d -webhook-id=%v; medians of %d rounds, errors summed.\n\n",
		o.duration, o.warmup, o.conc, o.rounds, o.factors, o.period, o.paced, o.webhookID, o.rounds)

	fmt.Fprintln(w, "| scenario | req/s | p50 | p99 | server CPU/req | errors / requests |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	sum := map[string]summary{}
	limited, wrong := false, false
	need := 0.0 // the factors the supply-limited rows needed: rate × period
	for _, s := range scenarios {
		if len(results[s]) == 0 {
			continue
		}
		x := summarise(results[s])
		sum[s.name] = x
		wrong = wrong || x.errors > 0
		name := s.name
		if x.unsent > 0 {
			name += fmt.Sprintf(" ⚠ did not hold its rate: %d requests fell due and were never sent (no worker was free for them in time; the p99 leaves them out)", x.unsent)
		}
		switch {
		case x.starvedRounds == x.rounds && x.rounds > 0:
			name += fmt.Sprintf(" ⚠ supply-limited in every round (workers waited for fresh codes up to %.0f%% of the time): its req/s is the code supply, a floor of emfa's", 100*x.starved)
		case x.starvedRounds > 0:
			name += fmt.Sprintf(" ⚠ supply-limited in %d of %d rounds (workers waited for fresh codes up to %.0f%% of the time), left out of its figures", x.starvedRounds, x.rounds, 100*x.starved)
		}
		if x.starvedRounds > 0 {
			limited = true
			need = max(need, x.rate*float64(o.period))
		}
		p50, p99, cpu := "–", "–", "–"
		if !x.none {
			p50, p99, cpu = fmtDur(x.p50), fmtDur(x.p99), fmtDur(x.split.server)
		}
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s | %d / %d |\n", name, x.tput, p50, p99, cpu, x.errors, x.requests+x.errors)
	}
	for _, s := range skipped {
		fmt.Fprintf(w, "| %s | – | – | – | – | – |\n", s)
	}
	fmt.Fprintln(w)
	if wrong && !o.keep {
		fmt.Fprintf(w, "⚠ Some answers were wrong (errors above); the run's logs are gone with its temporary directory. Run again with -keep to keep emfa's logs and databases.\n\n")
	}
	if limited {
		advice := fmt.Sprintf("run with -factors of at least %.0f (the row's highest rate, or a starved round's req/s over the share of the time its workers did not wait, × the period)",
			math.Ceil(need/1000)*1000)
		if need <= float64(o.factors) {
			advice = fmt.Sprintf("run with -factors well above %d (no round was fed long enough to estimate how many: the warm-up may have used every code)", o.factors)
		}
		fmt.Fprintf(w, "⚠ A TOTP row ran out of fresh codes: in such a round its throughput is what %d factors with a %d s period can supply, not what emfa can serve, so those rounds are left out of the row's figures unless every round ran out. "+
			"Once a factor's window is spent it gives one fresh code a period: %s.\n\n", o.factors, o.period, advice)
	}

	cpuTable(w, info, scenarios, sum)

	header := false
	for _, c := range []struct{ label, bare, emfa, stub string }{
		{"enrollments (DUO preauth)", "enrollments · bare Go mediator", "enrollments · emfa (duo.yaml)", "preauth · DUO stub direct"},
		{"initiate push (DUO auth async)", "initiate push · bare Go mediator", "initiate push · emfa (duo.yaml)", "auth async push · DUO stub direct"},
	} {
		b, okb := sum[c.bare]
		e, oke := sum[c.emfa]
		st, oks := sum[c.stub]
		if !okb || !oke || !oks {
			continue
		}
		if !header {
			fmt.Fprintln(w, "| call | emfa / bare throughput | bare p50 over the stub | emfa p50 over the stub | emfa / bare CPU per request |")
			fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
			header = true
		}
		// A row that answered nothing has no throughput to divide by, and no p50 or CPU
		// per request: "–", not +Inf, NaN or a difference from a p50 never measured.
		tput, bareOver, emfaOver, cpuRatio := "–", "–", "–", "–"
		if b.tput > 0 {
			tput = fmt.Sprintf("%.2f", e.tput/b.tput)
		}
		if !b.none && !st.none {
			bareOver = signedDur(b.p50 - st.p50)
		}
		if !e.none && !st.none {
			emfaOver = signedDur(e.p50 - st.p50)
		}
		if !b.none && !e.none && b.split.server > 0 {
			cpuRatio = fmt.Sprintf("%.1f×", float64(e.split.server)/float64(b.split.server))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", c.label, tput, bareOver, emfaOver, cpuRatio)
	}
	if header {
		fmt.Fprintln(w)
	}

	if mem.err != nil {
		fmt.Fprintf(w, "Memory: could not hold %d idle connections: %v\n", mem.conns, mem.err)
	} else {
		loaded := "under load not measured (no row of it ran)"
		if mem.loadedAfter != "" {
			loaded = fmt.Sprintf("as its last row (%s) ended %.1f MiB", mem.loadedAfter, float64(mem.loaded)/1024)
		}
		fmt.Fprintf(w, "Memory (emfa duo.yaml, VmRSS): %s; at rest, %s after the run's last row, %.1f MiB; ",
			loaded, mem.quietFor, float64(mem.before)/1024)
		if mem.conns == 0 {
			fmt.Fprintln(w, "idle connections not measured (-idle-conns 0).")
		} else {
			fmt.Fprintf(w, "with %d keep-alive connections open, each having made one enrollments call and then idle for %s: %.1f MiB (%+.1f KiB per connection), of which %.1f MiB are file pages (the binary's, shared with the page cache) and %.1f MiB the process's own.\n",
				mem.conns, mem.connsQuietFor, float64(mem.after)/1024, float64(mem.after-mem.before)/float64(mem.conns),
				float64(mem.afterFile)/1024, float64(mem.after-mem.afterFile)/1024)
			if t := mem.tls; t.err != nil {
				fmt.Fprintf(w, "Memory under server.tls: not measured: %v\n", t.err)
			} else {
				fmt.Fprintf(w, "Memory under server.tls (a second emfa duo.yaml, serving no load before): at rest %.1f MiB; with %d HTTPS keep-alive connections, each having made one enrollments call and then idle for %s: %.1f MiB (%+.1f KiB per connection).\n",
					float64(t.before)/1024, mem.conns, mem.connsQuietFor, float64(t.after)/1024, float64(t.after-t.before)/float64(mem.conns))
			}
		}
	}
	var parts []string
	for _, s := range startups {
		part := fmt.Sprintf("%s %s", s.what, fmtDur(s.d))
		if s.spread[1] > 0 {
			part += fmt.Sprintf(" (%s–%s)", fmtDur(s.spread[0]), fmtDur(s.spread[1]))
		}
		parts = append(parts, part)
	}
	fmt.Fprintf(w, "Start-up (process start to the first /readyz 200): %s.\n", strings.Join(parts, "; "))
	if len(provisioned) > 0 {
		parts = parts[:0]
		for _, p := range provisioned {
			parts = append(parts, fmt.Sprintf("%s %.1f s (%.0f factors/s)", p.what, p.d.Seconds(), float64(o.factors)/p.d.Seconds()))
		}
		fmt.Fprintf(w, "Provisioning %d TOTP factors through the admin API (users, then factors with their QR code; %d requests at a time): %s.\n",
			o.factors, provisionParallel, strings.Join(parts, "; "))
	}
}

func starvedNote(m measurement) string {
	note := ""
	if m.unsent > 0 {
		note = fmt.Sprintf("  (%d due and never sent: fell behind its rate)", m.unsent)
	}
	if m.starved == 0 {
		return note
	}
	return note + fmt.Sprintf("  (waited for fresh codes %.0f%% of the time)", 100*m.starvedShare())
}

// cpuTable says where the machine's CPU went per request in each row (cpu.go), and what
// rate the machine's CPUs could carry at that cost if the row had them all.
func cpuTable(w io.Writer, info machine, scenarios []*scenario, sum map[string]summary) {
	pg := info.postgres != ""
	fmt.Fprint(w, "Where the machine's CPU went, per request (medians of the rounds): the server's own, the load generator's, the DUO stub's where the server calls it")
	if pg {
		fmt.Fprint(w, ", PostgreSQL's processes' (with the VACUUM (ANALYZE) and CHECKPOINT the harness runs after each of its rows, so that the upkeep its writes cause is charged to it and not to a later row)")
	}
	fmt.Fprintf(w, ", the rest of the machine's busy time, and all of it; the last column is %d CPUs divided by all of it, the rate at which the row would fill the machine.\n\n", info.cores)
	head, rule := "| scenario | server | load generator | DUO stub |", "|---|---:|---:|---:|"
	if pg {
		head, rule = head+" PostgreSQL |", rule+"---:|"
	}
	fmt.Fprintln(w, head+" the rest | all | CPUs ÷ all |")
	fmt.Fprintln(w, rule+"---:|---:|---:|")
	for _, s := range scenarios {
		x, ok := sum[s.name]
		if !ok {
			continue
		}
		if x.none {
			fmt.Fprintf(w, "| %s | – | – | – |%s – | – | – |\n", s.name, map[bool]string{true: " – |"}[pg])
			continue
		}
		c := x.split
		stub := "–"
		if s.stub != nil {
			stub = fmtDur(c.stub)
		}
		row := fmt.Sprintf("| %s | %s | %s | %s |", s.name, fmtDur(c.server), fmtDur(c.harness), stub)
		if pg {
			row += " " + fmtDur(c.postgres) + " |"
		}
		fill := "–"
		if c.machine > 0 {
			fill = fmt.Sprintf("%.0f/s", float64(info.cores)*float64(time.Second)/float64(c.machine))
		}
		// A rest below zero is rounding (each process read in whole ticks, the machine's
		// busy time sampled at each tick: cpu.go): shown with its sign.
		rest := strings.TrimPrefix(signedDur(x.rest), "+")
		fmt.Fprintf(w, "%s %s | %s | %s |\n", row, rest, fmtDur(c.machine), fill)
	}
	fmt.Fprintln(w)
}
