package transcript

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/emfa/emfa/internal/jsonkeys"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// Observed is one contract call as emfa answered it, with the vendor calls it caused, or
// one device answer (Resource "device").
type Observed struct {
	Time      time.Time
	Provider  string
	Resource  string
	Method    string
	Auth      string // "", "none" or "wrong": the credentials the call came with
	Challenge string // a device answer's challenge (the push's transactionId)
	Query     string // the URL's query (a GET result's parameters)
	Request   []byte
	Status    int
	Response  []byte
	Exchanges []provider.Exchange
	// Setup is what the call needs created before it can replay (the user and the
	// built-in factors it names, as the call left them); nil for none.
	Setup []Setup
	// Input is what replay sends in place of the call's redacted passvalue when the call
	// succeeded: ${totp(<redacted>)}, ${sent(+15551230123)}, ${answer()}… ("": it stays
	// redacted); or when it was refused a code that was right when it came (a TOTP code
	// used already, or sent to a locked factor), so that a replay fails where emfa
	// accepts it. A wrong code is replayed as <redacted>, which is refused too.
	Input string
	// SetupLost, when set, says why Setup is not what the call needs (its lookups
	// failed): the call's step is named so, and replays red for want of it.
	SetupLost string

	// reconfigure, set on a Reconfigure's marker in the queue (not a call), is the
	// configuration the calls after it were served under.
	reconfigure *reconfiguration
}

// reconfiguration is a reload's configuration, for the recorder.
type reconfiguration struct {
	config  string
	secrets []string
}

// ResourceDevice is the Resource of an observed device answer.
const ResourceDevice = "device"

// RecorderOptions configure a Recorder.
type RecorderOptions struct {
	Dir string
	// Config is the serving configuration's text; it is copied into each transcript with
	// its secrets redacted.
	Config string
	Log    *slog.Logger
	// Secrets are the secret values the configuration holds (the vendors' keys, the
	// senders' passwords, …, as resolved from the environment): a recording redacts each
	// wherever it appears — in a body, a query, a header, the configuration — whole, or
	// inside a longer string (a URL, "Bearer …") when it has 8 characters or more.
	Secrets []string
	// LookupEnv, when set, resolves the configuration's ${NAME} references as serving
	// did. Only the path of a variable whose value is a URL is kept from it: the
	// transcript's env lists that variable as <redacted>/api (scheme and host redacted),
	// so replay calls its vendor at the recorded paths where the variable is not set.
	LookupEnv func(string) (string, bool)
	// Idle writes a session nobody has called for this long (default 10 min).
	Idle time.Duration
}

// maxSessionCalls bounds a session's transcript; a longer one is written in parts.
const maxSessionCalls = 500

// maxSessionBytes bounds the bodies and vendor exchanges of a session's transcript, a
// quarter of the file replay reads (maxFileBytes; YAML adds to what it holds): a session
// that holds more is written in parts too.
func maxSessionBytes() int64 { return maxFileBytes / 4 }

// singleBurst and singleRate bound the transcripts of single calls (refused, or naming
// no user), which anyone reaching emfa can cause without credentials: a burst of
// singleBurst, then singleRate a minute.
const (
	singleBurst = 100
	singleRate  = 100.0 / 60 // a second
)

// maxHeldCalls and maxHeldBytes bound the calls held in open sessions, all together, in
// number and in the bytes of their bodies and vendor exchanges (a vendor's answer may
// have 1 MiB): past either, the sessions called least recently are written (vars for a
// test).
var (
	maxHeldCalls = 20000
	maxHeldBytes = 64 << 20
)

// Recorder groups observed calls into sessions and writes each as a transcript: the calls
// of one user to one provider — with the device answers to that user's pushes — until
// nobody has called for Idle (or the recorder closes), so that what one call depends on
// (the lockout earlier failures caused, the send limit an earlier code used up, the
// transaction a late result polls) replays with it. A call that names no user, or is
// refused (401, 400, 5xx), is a transcript of its own (bounded in rate: takeSingle). The
// recorder never slows or changes an answer: Observe only queues, and a write that fails
// (a full disk, a directory that went away) is logged.
type Recorder struct {
	o       RecorderOptions
	secrets *secretValues
	queue   chan Observed
	done    chan struct{}
	mu      sync.Mutex
	open    map[string]*group // by provider + user
	byTx    map[string]string // transactionId → the session that started it
	seq     int
	held    int // calls in open sessions
	// heldBytes is what they hold (heldSize).
	heldBytes int
	// singles is how many single calls may be written now (a token bucket, refilled at
	// singleRate since singlesAt); dropped counts those left out since the last warning.
	singles       float64
	singlesAt     time.Time
	dropped       int
	droppedLogged time.Time
	failed        int
	closed        bool
	// queueDropped counts the calls left out for a full queue since queueDroppedLogged.
	queueDropped       int
	queueDroppedLogged time.Time
	// sending counts the Observes and Reconfigures past their closed check and not yet
	// queued: Close waits for them before it closes the queue under them.
	sending sync.WaitGroup
}

type group struct {
	calls []Observed
	bytes int // heldSize of its calls
	last  time.Time
	txs   []string // the transactionIds its calls were answered (byTx's keys for it)
}

// heldSize is what a held call holds: its bodies and its vendor exchanges'.
func heldSize(o Observed) int {
	n := len(o.Query) + len(o.Request) + len(o.Response)
	for _, x := range o.Exchanges {
		n += len(x.RequestBody) + len(x.ResponseBody)
	}
	return n
}

// NewRecorder starts a recorder writing into o.Dir. An unusable directory is logged and
// the recorder goes on trying: recording must never stop emfa from serving.
func NewRecorder(o RecorderOptions) *Recorder {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Idle <= 0 {
		o.Idle = 10 * time.Minute
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		o.Log.Error("recording: transcripts directory unusable; calls will not be recorded until it is", "dir", o.Dir, "err", err)
	}
	r := &Recorder{o: o, secrets: newSecretValues(o.Secrets), queue: make(chan Observed, 1024), done: make(chan struct{}),
		open: map[string]*group{}, byTx: map[string]string{}}
	go r.loop()
	return r
}

// Observe queues a call. When the queue is full the call is dropped and counted (in the
// log, once a minute): a recording may lose a transaction, an answer is never delayed.
func (r *Recorder) Observe(o Observed) {
	if !r.startSend() {
		return
	}
	defer r.sending.Done()
	select {
	case r.queue <- o:
	default:
		r.queueFull()
	}
}

// queueFull counts a call left out for a full queue, and logs the count at most once a
// minute: a flood of calls is no flood of log lines.
func (r *Recorder) queueFull() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queueDropped++
	if now := time.Now(); now.Sub(r.queueDroppedLogged) >= time.Minute {
		r.o.Log.Warn("recording: queue full, calls not recorded", "left_out", r.queueDropped)
		r.queueDropped, r.queueDroppedLogged = 0, now
	}
}

// Reconfigure tells the recorder that the calls observed from now on are served under
// another configuration (a reload): config is its text, secrets its secret values. The
// sessions under way are written first, with the configuration they ran under, so that
// each transcript replays as it was served; later ones carry config. The secrets of the
// earlier configuration are still redacted (a rotated key's old value may be in a call
// still being recorded). It is queued behind the calls observed before it.
func (r *Recorder) Reconfigure(config string, secrets []string) {
	if !r.startSend() {
		return
	}
	defer r.sending.Done()
	r.queue <- Observed{reconfigure: &reconfiguration{config: config, secrets: secrets}} // never dropped
}

// startSend reports whether the recorder is open, and then counts a send in r.sending
// (its caller calls Done): a Close waits for it before closing the queue.
func (r *Recorder) startSend() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.sending.Add(1)
	return true
}

// Close writes every open session and stops.
func (r *Recorder) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	r.sending.Wait() // the loop still drains: a send blocked on a full queue ends
	close(r.queue)
	<-r.done
	return nil
}

// Failed counts transcripts that could not be written.
func (r *Recorder) Failed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *Recorder) loop() {
	defer close(r.done)
	tick := time.NewTicker(min(r.o.Idle, time.Minute))
	defer tick.Stop()
	for {
		select {
		case o, ok := <-r.queue:
			if !ok {
				for _, key := range sortedKeys(r.open) {
					r.flush(key)
				}
				r.logDropped(true)
				return
			}
			if c := o.reconfigure; c != nil {
				for _, key := range sortedKeys(r.open) {
					r.flush(key)
				}
				r.o.Config = c.config
				for _, v := range c.secrets {
					if !r.secrets.whole[v] && !slices.Contains(r.o.Secrets, v) { // each once
						r.o.Secrets = append(slices.Clip(r.o.Secrets), v) // never into the caller's array
					}
				}
				r.secrets = newSecretValues(r.o.Secrets)
				continue
			}
			r.add(o)
		case <-tick.C:
			for _, key := range sortedKeys(r.open) {
				if time.Since(r.open[key].last) >= r.o.Idle {
					r.flush(key)
				}
			}
			r.logDropped(false)
		}
	}
}

// logDropped logs the single calls, and the calls a full queue, left out since the last
// warning, a minute after it (or at once when the recorder closes): a flood that stopped
// within the minute is counted too, not only one that goes on.
func (r *Recorder) logDropped(closing bool) {
	now := time.Now()
	if r.dropped > 0 && (closing || now.Sub(r.droppedLogged) >= time.Minute) {
		r.o.Log.Warn("recording: too many refused calls or calls naming no user; these are not recorded", "left_out", r.dropped)
		r.dropped, r.droppedLogged = 0, now
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.queueDropped > 0 && (closing || now.Sub(r.queueDroppedLogged) >= time.Minute) {
		r.o.Log.Warn("recording: queue full, calls not recorded", "left_out", r.queueDropped)
		r.queueDropped, r.queueDroppedLogged = 0, now
	}
}

// flush writes a session and forgets it.
func (r *Recorder) flush(key string) {
	r.write(r.open[key].calls)
	r.held -= len(r.open[key].calls)
	r.heldBytes -= r.open[key].bytes
	for _, tx := range r.open[key].txs {
		if r.byTx[tx] == key {
			delete(r.byTx, tx)
		}
	}
	delete(r.open, key)
}

// add files a call with its session.
func (r *Recorder) add(o Observed) {
	if o.Resource == ResourceDevice {
		if o.Status != http.StatusOK {
			// Refused (a second answer to a challenge answered already, one no longer
			// pending, a bad signature): it changed nothing, and as a step it would fail
			// the replay, where a device step's answer must be taken.
			return
		}
		key, ok := r.byTx[o.Challenge]
		if !ok {
			r.o.Log.Warn("recording: a device answer to a challenge not recorded is left out", "challenge", o.Challenge)
			return
		}
		g := r.open[key]
		g.calls, g.last = append(g.calls, o), time.Now()
		r.hold(g, o)
		r.bound(key)
		return
	}
	user := username(o.params())
	if user == "" || o.Status != 200 {
		if r.takeSingle() {
			r.write([]Observed{o})
		}
		return
	}
	// One user whatever the case Verify sends the name in, as emfa takes it.
	key := o.Provider + "\x00" + store.FoldName(user)
	g, ok := r.open[key]
	if !ok {
		g = &group{}
		r.open[key] = g
	}
	g.calls, g.last = append(g.calls, o), time.Now()
	r.hold(g, o)
	if resp, _ := decodeJSON(o.Response).(map[string]any); resp != nil {
		if tx, _ := resp["transactionId"].(string); tx != "" {
			r.byTx[tx] = key
			g.txs = append(g.txs, tx)
		}
	}
	if len(g.calls) >= maxSessionCalls || int64(g.bytes) >= maxSessionBytes() {
		r.flush(key)
		return
	}
	r.bound(key)
}

// takeSingle reports whether a single call may be written now (singleBurst,
// singleRate); one that may not is counted, and the count logged once a minute
// (logDropped).
func (r *Recorder) takeSingle() bool {
	now := time.Now()
	if r.singlesAt.IsZero() {
		r.singles = singleBurst
	} else {
		r.singles = min(singleBurst, r.singles+now.Sub(r.singlesAt).Seconds()*singleRate)
	}
	r.singlesAt = now
	if r.singles >= 1 {
		r.singles--
		return true
	}
	r.dropped++
	r.logDropped(false)
	return false
}

// hold counts a call added to g.
func (r *Recorder) hold(g *group, o Observed) {
	n := heldSize(o)
	g.bytes += n
	r.held++
	r.heldBytes += n
}

// bound writes the sessions called least recently while more calls than maxHeldCalls,
// or more bytes than maxHeldBytes, are held, down to nine tenths of each (one sort for
// many calls), but not the session of the call just added (key).
func (r *Recorder) bound(key string) {
	if r.held <= maxHeldCalls && r.heldBytes <= maxHeldBytes {
		return
	}
	keys := make([]string, 0, len(r.open))
	for k := range r.open {
		if k != key {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Or(r.open[a].last.Compare(r.open[b].last), strings.Compare(a, b)) })
	r.o.Log.Warn("recording: too many calls held in open sessions; the sessions called least recently are written now", "held", r.held, "bytes", r.heldBytes)
	for _, k := range keys {
		if r.held <= maxHeldCalls*9/10 && r.heldBytes <= maxHeldBytes/10*9 {
			break
		}
		r.flush(k)
	}
}

// write turns calls into a transcript file.
func (r *Recorder) write(calls []Observed) {
	t := r.transcript(calls)
	data, err := Marshal(t)
	if err == nil {
		r.seq++
		first := calls[0]
		name := fmt.Sprintf("%s-%s-%s-%03d", first.Time.UTC().Format("20060102T150405Z"),
			safeName(first.Provider), safeName(first.Resource), r.seq)
		var path string
		path, err = writeFileAtomic(filepath.Join(r.o.Dir, name), ".yaml", data)
		if err == nil {
			r.o.Log.Info("recording: transcript written", "file", filepath.Base(path), "calls", len(calls))
			return
		}
	}
	r.mu.Lock()
	r.failed++
	r.mu.Unlock()
	r.o.Log.Error("recording: transcript not written", "dir", r.o.Dir, "err", err)
}

// writeFileAtomic writes a whole file or nothing, at base+ext or, when a file has that
// name already (an earlier run's, another replica's in a shared folder), at base-2+ext,
// base-3+ext…: a reader never sees half a transcript, and no transcript replaces
// another. It returns the path written.
func writeFileAtomic(base, ext string, data []byte) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(base), ".recording-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", werr
	}
	for n := 1; ; n++ {
		path := base + ext
		if n > 1 {
			path = fmt.Sprintf("%s-%d%s", base, n, ext)
		}
		// A hard link is made whole and never replaces a file. A file system without
		// them gets the name claimed — created only if free, as a link is — and the
		// whole file renamed over the claim, this writer's own: a look for the name and
		// then a rename let another replica take it in between, and be replaced.
		err := link(tmp.Name(), path)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			var claim *os.File
			if claim, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
				claim.Close()
				if err = os.Rename(tmp.Name(), path); err != nil {
					os.Remove(path) // the claim, empty
				}
			}
		}
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		return path, nil
	}
}

// link makes a hard link (a var for a test of a file system without them).
var link = os.Link

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// maxNamePart bounds each part of a transcript's file name: a path can be as long as a
// URL, a file name at most 255 bytes.
const maxNamePart = 64

func safeName(s string) string {
	if s = unsafeChars.ReplaceAllString(s, "_"); s == "" {
		return "call"
	}
	return s[:min(len(s), maxNamePart)]
}

// transcript builds the transcript of one session.
func (r *Recorder) transcript(calls []Observed) *Transcript {
	first := calls[0]
	t := &Transcript{Clock: first.Time.UTC().Truncate(time.Millisecond)}
	t.Config, t.Env = redactConfig(r.o.Config, r.secrets, r.o.LookupEnv)
	b := &builder{t: t, secrets: r.secrets, txVars: map[string]string{}, numbers: map[string]capturedNumber{},
		factorVars: map[string]any{}, specs: map[string]*FactorSpec{}, seen: map[string]bool{}}
	user := ""
	prev := t.Clock
	for _, o := range calls {
		b.setup(o.Setup)
		// The clock moves as it did between the calls, to the millisecond: a TOTP code or
		// an expiry lands where it did. A gap under a second is written only when it
		// crosses a whole second, where a TOTP step (any whole number of seconds from 10
		// to 300, 15 and 45 too) may change.
		gap := o.Time.Sub(prev).Truncate(time.Millisecond)
		if gap >= time.Second || (gap > 0 && prev.Add(gap).Unix() != prev.Unix()) {
			t.Steps = append(t.Steps, Step{Advance: Duration(gap)})
			prev = prev.Add(gap)
		}
		if o.Resource == ResourceDevice {
			t.Steps = append(t.Steps, b.device(o))
			continue
		}
		if u := username(o.params()); u != "" && user == "" {
			user = u
		}
		t.Steps = append(t.Steps, b.call(o))
	}
	inCreationOrder(t.Setup)
	t.Name = fmt.Sprintf("recorded %s on %s", strings.Join(resources(calls), ", "), first.Provider)
	if user != "" {
		t.Name += " for " + user
	}
	t.Description = fmt.Sprintf("Recorded by emfa serve --record at %s. Secrets are %s: a TOTP or HOTP seed must be put back (in setup and in ${totp(…)}/${hotp(…)}) for its codes to replay; sent codes replay as ${sent(…)}, right answers to questions as ${answer()}.",
		first.Time.UTC().Format(time.RFC3339), redacted)
	return t
}

// builder keeps what the steps of one transcript refer to.
type builder struct {
	t          *Transcript
	secrets    *secretValues
	txVars     map[string]string         // transactionId → variable
	numbers    map[string]capturedNumber // transactionId → the number its push showed
	factorVars map[string]any            // a set-up factor's recorded id → ${fN}
	specs      map[string]*FactorSpec    // a set-up factor's recorded id → its setup
	seen       map[string]bool
}

type capturedNumber struct{ value, name string }

// setup adds what a call needs created, each user and factor once. A later call's view
// of an HOTP factor may have a lower counter (the one its code was accepted at): the
// setup must reach it.
func (b *builder) setup(setup []Setup) {
	for _, s := range setup {
		key := store.FoldName(s.User) // "Bob" and "bob" are one user, created once
		if s.Factor != nil {
			key = "factor:" + s.Factor.ID
		}
		if b.seen[key] {
			if f := s.Factor; f != nil && b.specs[f.ID] != nil && f.Counter < b.specs[f.ID].Counter {
				b.specs[f.ID].Counter = f.Counter
			}
			continue
		}
		b.seen[key] = true
		if s.Factor != nil {
			// Replay creates the factor anew; its id travels as a variable.
			f := *s.Factor
			f.As = fmt.Sprintf("f%d", len(b.factorVars)+1)
			b.factorVars[f.ID] = "${" + f.As + "}"
			b.specs[f.ID] = &f
			f.ID = ""
			s.Factor = &f
		}
		b.t.Setup = append(b.t.Setup, s)
	}
}

// inCreationOrder puts the users first and then the factors in the order they were
// created: the calls name them in another order (a validate on the newer one, then an
// enrollments listing both), but replay creates them in the order written and
// enrollments lists them oldest first, as the recorded answer did.
func inCreationOrder(setup []Setup) {
	slices.SortStableFunc(setup, func(a, b Setup) int {
		switch {
		case a.Factor == nil || b.Factor == nil:
			return cmp.Compare(boolRank(a.Factor != nil), boolRank(b.Factor != nil))
		default:
			return a.Factor.Created.Compare(b.Factor.Created)
		}
	})
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// call is the step of one contract call.
func (b *builder) call(o Observed) Step {
	step := Step{Name: o.Resource, Call: &Call{Provider: o.Provider, Resource: o.Resource, Auth: o.Auth}}
	if o.SetupLost != "" {
		step.Name += " — recorded without its setup (" + o.SetupLost + "): replays red"
	}
	if o.Method != "POST" {
		step.Call.Method = o.Method
	}
	resp := decodeJSON(o.Response)
	status := ""
	if m, ok := resp.(map[string]any); ok {
		status, _ = m["status"].(string)
	}
	factorID := ""
	if req := decodeJSON(o.Request); callJSON(o.Request) {
		if m, ok := req.(map[string]any); ok {
			factorID, _ = m["id"].(string)
			if tx, ok := m["transactionId"].(string); ok {
				if v, known := b.txVars[tx]; known {
					m["transactionId"] = "${" + v + "}"
				}
			}
		}
		body := b.secrets.redactValue(req)
		if m, ok := body.(map[string]any); ok && o.Input != "" && (status == "SUCCESS" || status == "FAILED") {
			if a, ok := m["attributes"].(map[string]any); ok && a["passvalue"] == redacted {
				a["passvalue"] = o.Input
			}
		}
		step.Call.Body = replaceStrings(body, b.factorVars)
	} else if len(o.Request) > 0 {
		raw := b.secrets.literalString(redactRaw(string(o.Request)))
		step.Call.Raw = &raw
	}
	if q, err := url.ParseQuery(o.Query); err == nil && len(q) > 0 {
		m := values(q)
		if id, ok := m["id"].(string); ok && factorID == "" {
			factorID = id
		}
		if tx, ok := m["transactionId"].(string); ok {
			if v, known := b.txVars[tx]; known {
				m["transactionId"] = "${" + v + "}"
			}
		}
		step.Call.Query = replaceStrings(b.secrets.redactValue(m), b.factorVars).(map[string]any)
	}
	// The code the user typed goes to the vendor under a name of the vendor's choosing
	// (privacyIDEA's "pass"), which a name may not tell: it is redacted by its value too.
	vendor := b.secrets
	switch pv := attributes(o.params())["passvalue"].(type) {
	case string:
		if pv != "" {
			vendor = vendor.with(pv)
		}
	case exactNumber:
		vendor = vendor.with(string(pv))
	}
	// A remote provider's answer may pass on the vendor's (an incoming transform's
	// attributes: body.response): its secrets are redacted as the vendor's answer's are,
	// by name and by value, and matched as <any>, which what replay's emfa makes of the
	// redacted vendor answer is.
	exp := &Expect{Body: vendor.matcher(walkStrings(redactKeys(replaceStrings(resp, b.factorVars), MatchAny, SecretName), redactLinks))}
	if o.Status != 200 {
		exp.Status = o.Status
	}
	if m, ok := exp.Body.(map[string]any); ok {
		tx, _ := m["transactionId"].(string)
		if tx != "" {
			if v, known := b.txVars[tx]; known {
				m["transactionId"] = "${" + v + "}"
			} else {
				v := fmt.Sprintf("tx%d", len(b.txVars)+1)
				b.txVars[tx] = v
				m["transactionId"] = "<capture:" + v + ">"
			}
		}
		if a, ok := m["attributes"].(map[string]any); ok {
			// The number a push shows is drawn afresh on replay: captured, and the
			// device's answer reuses it.
			if n, ok := a["number"]; ok && n != nil && tx != "" {
				v := fmt.Sprintf("n%d", len(b.numbers)+1)
				b.numbers[tx] = capturedNumber{value: fmt.Sprint(n), name: v}
				a["number"] = "<capture:" + v + ">"
			}
			// Of several questions, replay may draw another.
			if _, ok := a["question"]; ok {
				if f := b.specs[factorID]; f != nil && len(f.Question) > 1 {
					a["question"] = MatchAny
				}
			}
		}
	}
	step.Expect = exp
	for _, x := range o.Exchanges {
		step.Vendor = append(step.Vendor, vendor.recordExchange(x))
	}
	return step
}

// device is the step of a device's answer to a push.
func (b *builder) device(o Observed) Step {
	var body struct {
		Decision string `json:"decision"`
		Number   *int   `json:"number"`
	}
	json.Unmarshal(o.Request, &body)
	a := &DeviceAction{Action: body.Decision, Challenge: o.Challenge}
	if v, ok := b.txVars[o.Challenge]; ok {
		a.Challenge = "${" + v + "}"
	}
	if body.Number != nil {
		// The number shown is reused; another one stays wrong on replay (0 is never shown).
		a.Number = "0"
		if n, ok := b.numbers[o.Challenge]; ok && n.value == fmt.Sprint(*body.Number) {
			a.Number = "${" + n.name + "}"
		}
	}
	return Step{Name: "device " + body.Decision, Device: a}
}

// params are what a call names: its JSON body's fields, or, for a call without a body
// (a GET result), its query's.
func (o Observed) params() map[string]any {
	if len(bytes.TrimSpace(o.Request)) == 0 && o.Query != "" {
		q, _ := url.ParseQuery(o.Query)
		return values(q)
	}
	m, _ := decodeJSON(o.Request).(map[string]any)
	return m
}

func resources(calls []Observed) []string {
	var out []string
	for _, c := range calls {
		if c.Resource == ResourceDevice {
			continue
		}
		if len(out) == 0 || out[len(out)-1] != c.Resource {
			out = append(out, c.Resource)
		}
	}
	return out
}

// attributes are a call's attributes (nil when it has none).
func attributes(m map[string]any) map[string]any {
	a, _ := m["attributes"].(map[string]any)
	return a
}

func username(m map[string]any) string {
	if u, ok := m["username"].(string); ok {
		return u
	}
	if a, ok := m["attributes"].(map[string]any); ok {
		u, _ := a["username"].(string)
		return u
	}
	return ""
}

// recordExchange writes a vendor call as what replay must see and answer. Credentials,
// signatures and the Date they sign are matched as <any>; codes and tokens too.
func (s *secretValues) recordExchange(x provider.Exchange) Exchange {
	req := VendorRequest{Method: x.Method, Path: s.pathMatcher(x.URL.Path)}
	if q := x.URL.Query(); len(q) > 0 {
		req.Query = s.redactRequest(values(q)).(map[string]any)
	}
	req.Headers = map[string]string{}
	for _, h := range []string{"Content-Type"} {
		if v := x.RequestHeader.Get(h); v != "" {
			req.Headers[h] = s.matcherString(v)
		}
	}
	for _, h := range []string{"Authorization", "Date", "X-Api-Key"} {
		if x.RequestHeader.Get(h) != "" {
			req.Headers[h] = MatchAny
		}
	}
	ct, _, _ := mime.ParseMediaType(x.RequestHeader.Get("Content-Type"))
	switch {
	case len(x.RequestBody) == 0:
	case ct == "application/x-www-form-urlencoded":
		if form, err := url.ParseQuery(string(x.RequestBody)); err == nil {
			req.Form = s.redactRequest(values(form)).(map[string]any)
		}
	case isJSON(x.RequestBody):
		req.Body = s.redactRequest(decodeJSON(x.RequestBody))
	}
	if len(x.RequestBody) > 0 && req.Form == nil && req.Body == nil {
		// A body replay must see, that cannot be redacted field by field (XML, text, a
		// form that does not parse): any body matches, none does not.
		req.Body = MatchAny
	}
	resp := VendorResponse{Status: x.Status}
	if x.Status == 0 { // no answer came (a timeout): replay answers a gateway timeout
		resp.Status = 504
	}
	if resp.Status == 200 {
		resp.Status = 0
	}
	// An incoming transform may read the answer's headers: each is kept (a JSON
	// Content-Type is replay's default), but those of the transport, which replay's
	// vendor sets itself, and a secret by name (a session cookie too) is <redacted>.
	for name, vals := range x.ResponseHeader {
		name = http.CanonicalHeaderKey(name)
		v := strings.Join(vals, ", ")
		switch {
		case transportHeaders[name] || len(vals) == 0:
			continue
		case name == "Content-Type" && strings.HasPrefix(v, "application/json"):
			continue
		case SecretName(name) || name == "Set-Cookie":
			v = redacted
		}
		if resp.Headers == nil {
			resp.Headers = map[string]string{}
		}
		resp.Headers[name] = s.literalString(v)
	}
	if isJSON(x.ResponseBody) {
		resp.Body = s.redactValue(decodeJSON(x.ResponseBody))
	} else if len(x.ResponseBody) > 0 {
		raw := s.literalString(redactRawAnswer(string(x.ResponseBody)))
		resp.Raw = &raw
	}
	return Exchange{Request: req, Response: resp}
}

// transportHeaders are a vendor answer's headers of its transport, which a recording
// leaves out: replay's vendor sets its own.
var transportHeaders = map[string]bool{"Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Keep-Alive": true, "Trailer": true, "Upgrade": true, "Proxy-Connection": true}

// secretNames are keys whose values are codes, answers or credentials, in any body or
// query, compared lower-cased with '_', '-' and '.' left out (api_key, apiKey and
// X-Api-Key alike); secretSuffixes end such keys (access_token, vendorPassword).
var secretNames = map[string]bool{
	"passvalue": true, "passcode": true, "password": true, "passwd": true, "pwd": true, "pin": true,
	"code": true, "otp": true, "answer": true, "secret": true, "token": true, "assertion": true,
	"key": true, "apikey": true, "xapikey": true, "apisecret": true, "authorization": true,
	"credential": true, "credentials": true,
}

var secretSuffixes = []string{"secret", "password", "token", "apikey", "accesskey", "secretkey", "privatekey", "signingkey"}

// SecretName reports whether a field, query parameter or header of that name carries a
// secret by its name alone: a recording redacts its value whatever it is.
func SecretName(name string) bool {
	n := strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == '.' {
			return -1
		}
		return unicode.ToLower(r)
	}, name)
	if secretNames[n] {
		return true
	}
	for _, s := range secretSuffixes {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return false
}

// varyingFields are keys of a vendor request whose values differ from run to run: a
// nonce emfa draws (uuid()), a signature over it, the time it was made.
var varyingFields = map[string]bool{"nonce": true, "signature": true, "sig": true, "timestamp": true}

// redactValue is what replay sends or serves in place of v (a Verify call's body or
// query, a vendor's answer): the values of secret fields, and every secret of the
// configuration wherever it appears, <redacted>.
func (s *secretValues) redactValue(v any) any {
	return s.literal(redactKeys(v, redacted, SecretName))
}

// redactRequest is a vendor request's query, form or body as replay must match it: the
// values of secret and varying fields <any>, and a string holding a secret of the
// configuration a matcher for what replay sends in its place.
func (s *secretValues) redactRequest(v any) any {
	return s.walk(redactKeys(v, MatchAny, func(k string) bool { return SecretName(k) || varyingFields[strings.ToLower(k)] }), s.requestString)
}

// requestString is a string of a vendor request as replay must match it: matcherString's,
// with the values of a link's parameters of a secret name open too (redactLinks).
func (s *secretValues) requestString(str string) string {
	if !strings.Contains(str, "://") {
		return s.matcherString(str)
	}
	var open [][2]int // the secret parameters' values
	for _, m := range linkParam.FindAllStringSubmatchIndex(str, -1) {
		name, err := url.QueryUnescape(str[m[4]:m[5]])
		if err == nil && m[7] > m[6] && SecretName(name) && !onlyEnvRef.MatchString(str[m[6]:m[7]]) {
			open = append(open, [2]int{m[6], m[7]})
		}
	}
	if len(open) == 0 {
		return s.matcherString(str)
	}
	var re strings.Builder
	piece := func(p string) { // as matcherString writes it
		switch parts := s.split(p); {
		case parts == nil:
			re.WriteString(regexp.QuoteMeta(p))
		case len(parts) == 1:
			re.WriteString(".+")
		default:
			for i, part := range parts {
				if i > 0 {
					re.WriteString(".+")
				}
				re.WriteString(regexp.QuoteMeta(part))
			}
		}
	}
	last := 0
	for _, o := range open {
		piece(str[last:o[0]])
		re.WriteString(`[^&#]+`)
		last = o[1]
	}
	piece(str[last:])
	return matchRegexp + "^" + re.String() + "$>"
}

// redactKeys replaces the values of the fields whose key is secret with with,
// recursively; under such a key, a list or an object keeps its shape and each of its
// values is replaced. An empty value stays as it is (there is nothing to hide, and
// <any> would not match it).
func redactKeys(v any, with string, secret func(string) bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if secret(k) {
				out[k] = replaceLeaves(e, with)
				continue
			}
			out[k] = redactKeys(e, with, secret)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactKeys(e, with, secret)
		}
		return out
	}
	return v
}

func replaceLeaves(v any, with string) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		if x == "" {
			return x
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = replaceLeaves(e, with)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = replaceLeaves(e, with)
		}
		return out
	}
	return with
}

// minSecretSubstring is the shortest secret a recording looks for inside a longer
// string; a shorter one (a weak test password) is redacted only where it is a whole
// value, so that it does not garble a user name or a path that happens to contain it.
const minSecretSubstring = 8

// secretValues are the secrets of the configuration (RecorderOptions.Secrets), found by
// value wherever they appear: whole, or inside a longer string (a URL, "Bearer …").
type secretValues struct {
	list  []string
	whole map[string]bool
	// marker cuts every occurrence of a long enough secret out of a string, longest
	// first; nil when there is none.
	marker *strings.Replacer
}

const secretMark = "\x00"

func newSecretValues(list []string) *secretValues {
	s := &secretValues{list: list, whole: map[string]bool{}}
	var long []string
	for _, v := range list {
		if v == "" || s.whole[v] {
			continue
		}
		s.whole[v] = true
		if len(v) >= minSecretSubstring && !strings.Contains(v, secretMark) {
			long = append(long, v)
			// As a URL or JSON writes it too: a base64 key's +, / and = percent-encoded
			// in a link, a / escaped in JSON.
			for _, e := range encodings(v) {
				if !s.whole[e] {
					s.whole[e] = true
					long = append(long, e)
				}
			}
		}
	}
	// Longest first: a secret that contains another is cut out whole.
	sort.Slice(long, func(i, j int) bool { return len(long[i]) > len(long[j]) })
	if len(long) > 0 {
		pairs := make([]string, 0, 2*len(long))
		for _, v := range long {
			pairs = append(pairs, v, secretMark)
		}
		s.marker = strings.NewReplacer(pairs...)
	}
	return s
}

// encodings are the forms other than v itself a secret v takes in a URL (its query, its
// path; percent-encoded in upper or lower case) or a JSON string (escaped, / as \/ too).
func encodings(v string) []string {
	var out []string
	add := func(e string) {
		if e != v && !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	for _, e := range []string{url.QueryEscape(v), url.PathEscape(v)} {
		add(e)
		add(lowerHex.ReplaceAllStringFunc(e, strings.ToLower))
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) == nil {
		js := strings.TrimSuffix(strings.TrimSpace(b.String()), `"`)[1:]
		add(js)
		add(strings.ReplaceAll(js, "/", `\/`))
	}
	return out
}

// lowerHex is a percent-escape, which some encoders write in lower case.
var lowerHex = regexp.MustCompile(`%[0-9A-F]{2}`)

// with is s with one more secret (a call's own: the code it carries).
func (s *secretValues) with(v string) *secretValues {
	var list []string
	if s != nil {
		list = s.list
	}
	return newSecretValues(append(slices.Clip(list), v))
}

// split is str cut around the secrets it holds: nil when it holds none, [""] when it is
// one, else the pieces between them (empty ones too).
func (s *secretValues) split(str string) []string {
	if s == nil || str == "" || strings.Contains(str, secretMark) {
		return nil
	}
	if s.whole[str] {
		return []string{""}
	}
	if s.marker == nil {
		return nil
	}
	if marked := s.marker.Replace(str); marked != str {
		return strings.Split(marked, secretMark)
	}
	return nil
}

// rawField is a JSON object's key and the value after it, as they may be found in a body
// that is not JSON: a string value may be cut off (at the body limit); a value that is
// an object or a list is not taken.
var rawField = regexp.MustCompile(`("(?:[^"\\]|\\.)*")(\s*:\s*)("(?:[^"\\]|\\.)*"?|[^\s,{}\[\]":]+)`)

// rawContainer is a JSON object's key followed by a list or an object (m[1]: the key).
var rawContainer = regexp.MustCompile(`("(?:[^"\\]|\\.)*")\s*:\s*[\[{]`)

// rawPair is a form's name=value pair.
var rawPair = regexp.MustCompile(`(^|&)([^=&]*)=([^&]*)`)

// redactRaw is a call's body that is not JSON, recorded as it came so that replay gets
// its refusal, with the values of its secret fields (SecretName) <redacted>, found by
// what they look like: the fields of a JSON object (cut off, a comma too many) or a
// form's pairs. A redaction that would make the body JSON, so that replay would not be
// refused as the call was, redacts the whole body, as does a secret field holding a list
// or an object.
func redactRaw(body string) string {
	out, whole := redactRawFields(body)
	if whole {
		return redacted
	}
	out = rawPair.ReplaceAllStringFunc(out, func(m string) string {
		sub := rawPair.FindStringSubmatch(m)
		key, err := url.QueryUnescape(sub[2])
		if err != nil || sub[3] == "" {
			return m
		}
		if !SecretName(key) {
			// A link a form holds is percent-encoded: its secret parameters are found
			// once it is not.
			if v, err := url.QueryUnescape(sub[3]); err == nil && v != sub[3] {
				if r := redactLinks(v); r != v {
					return sub[1] + sub[2] + "=" + url.QueryEscape(r)
				}
			}
			return m
		}
		return sub[1] + sub[2] + "=" + redacted
	})
	if out != body && callJSON([]byte(out)) {
		return redacted
	}
	return out
}

// redactRawFields is body with the values of the JSON object fields of a secret name
// found in it redacted; whole when one holds a list or an object, which cannot be.
func redactRawFields(body string) (out string, whole bool) {
	// A secret field holding a list or an object: its values, found by no key of their
	// own, cannot be told apart from what follows in a body that is no JSON. The whole
	// body is redacted, no JSON either.
	for _, m := range rawContainer.FindAllStringSubmatch(body, -1) {
		var key string
		if json.Unmarshal([]byte(m[1]), &key) == nil && SecretName(key) {
			return "", true
		}
	}
	return rawField.ReplaceAllStringFunc(body, func(m string) string {
		sub := rawField.FindStringSubmatch(m)
		var key string
		if json.Unmarshal([]byte(sub[1]), &key) != nil || !SecretName(key) || sub[3] == `""` {
			return m
		}
		v := redacted // a bare value stays bare, so that it stays what is not JSON
		if strings.HasPrefix(sub[3], `"`) {
			v = `"` + redacted
			if len(sub[3]) > 1 && strings.HasSuffix(sub[3], `"`) {
				v += `"`
			}
		}
		return sub[1] + sub[2] + v
	}), false
}

// rawElement is an XML element holding text alone, plain or in CDATA sections:
// <token>abc</token>, <token><![CDATA[abc]]></token> (m[1] and m[4] its tags, m[3] its
// text).
var rawElement = regexp.MustCompile(`<([A-Za-z_][\w.:-]*)(\s[^<>]*)?>((?:[^<]+|<!\[CDATA\[(?s:.*?)\]\]>)*)</([A-Za-z_][\w.:-]*)\s*>`)

// rawTag is an XML start tag (or an empty element's) with attributes; rawAttr one of
// its attributes (m[2] its name, m[4] its quoted value).
var (
	rawTag  = regexp.MustCompile(`<[A-Za-z_][\w.:-]*\s[^<>]*>`)
	rawAttr = regexp.MustCompile(`(\s)([A-Za-z_][\w.:-]*)(\s*=\s*)("[^"]*"|'[^']*')`)
)

// redactRawAnswer is a vendor's answer that is not JSON with the values of its secret
// fields <redacted>: in XML (HTML too), the text of an element and the value of an
// attribute of a secret name (&lt;redacted&gt;); a JSON object's fields as redactRaw
// finds them; and, in what is no XML, a form's pairs.
func redactRawAnswer(body string) string {
	if !strings.HasPrefix(strings.TrimSpace(body), "<") {
		return redactRaw(body) // no XML: a form's or a JSON-like body's fields
	}
	const escaped = "&lt;redacted&gt;"                                                 // escaped, the XML stays well-formed
	local := func(name string) string { return name[strings.LastIndex(name, ":")+1:] } // without a namespace prefix
	body = rawTag.ReplaceAllStringFunc(body, func(tag string) string {
		return rawAttr.ReplaceAllStringFunc(tag, func(m string) string {
			sub := rawAttr.FindStringSubmatch(m)
			if !SecretName(local(sub[2])) || len(sub[4]) == 2 {
				return m
			}
			q := sub[4][:1]
			return sub[1] + sub[2] + sub[3] + q + escaped + q
		})
	})
	body = rawElement.ReplaceAllStringFunc(body, func(m string) string {
		sub := rawElement.FindStringSubmatch(m)
		if sub[1] != sub[4] || !SecretName(local(sub[1])) || strings.TrimSpace(sub[3]) == "" {
			return m
		}
		return "<" + sub[1] + sub[2] + ">" + escaped + "</" + sub[4] + ">"
	})
	// JSON in it (an HTML page's script): its fields as redactRaw finds them, not a
	// form's pairs, which the escapes' & would run into.
	out, whole := redactRawFields(body)
	if whole {
		return redacted
	}
	return out
}

// linkParam is a parameter of a link's query or fragment (m[1] its separator, m[2] its
// name, m[3] its value).
var linkParam = regexp.MustCompile(`([?&#])([^=&#?\s"<>]*)=([^&#\s"<>]*)`)

// redactLinks is str with the values of the parameters of a secret name (token, code,
// key…) in each link it holds redacted, escaped as the link's (%3Credacted%3E): an
// activation or enrollment link a vendor answers.
func redactLinks(str string) string {
	if !strings.Contains(str, "://") {
		return str
	}
	return linkParam.ReplaceAllStringFunc(str, func(m string) string {
		sub := linkParam.FindStringSubmatch(m)
		name, err := url.QueryUnescape(sub[2])
		if err != nil || sub[3] == "" || !SecretName(name) || onlyEnvRef.MatchString(sub[3]) {
			return m // a ${NAME} is no secret itself
		}
		return sub[1] + sub[2] + "=%3Credacted%3E"
	})
}

// literalString is str with each secret it holds <redacted>, and the secret parameters
// of a link (redactLinks).
func (s *secretValues) literalString(str string) string {
	str = redactLinks(str)
	parts := s.split(str)
	if parts == nil {
		return str
	}
	if len(parts) == 1 {
		return redacted
	}
	return strings.Join(parts, redacted)
}

// matcherString is str as replay must match it: <any> where it is a secret, a regular
// expression with the secret's places open where it holds one.
func (s *secretValues) matcherString(str string) string {
	parts := s.split(str)
	if parts == nil {
		return str
	}
	if len(parts) == 1 {
		return MatchAny
	}
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return matchRegexp + "^" + strings.Join(parts, ".+") + "$>"
}

// pathMatcher is a vendor request's path as replay must match it: matcherString's, and
// a segment that is a secret whole — a short one too, the code the user typed — open.
func (s *secretValues) pathMatcher(path string) string {
	segs := strings.Split(path, "/")
	if s == nil || !slices.ContainsFunc(segs, func(seg string) bool { return seg != "" && s.whole[seg] }) {
		return s.matcherString(path)
	}
	for i, seg := range segs {
		switch parts := s.split(seg); {
		case parts == nil:
			segs[i] = regexp.QuoteMeta(seg)
		case len(parts) == 1:
			segs[i] = ".+"
		default:
			for j, p := range parts {
				parts[j] = regexp.QuoteMeta(p)
			}
			segs[i] = strings.Join(parts, ".+")
		}
	}
	return matchRegexp + "^" + strings.Join(segs, "/") + "$>"
}

// literal replaces the secrets in every string (and number) inside v by <redacted>.
func (s *secretValues) literal(v any) any { return s.walk(v, s.literalString) }

// matcher replaces every string inside v that holds a secret with a matcher.
func (s *secretValues) matcher(v any) any { return s.walk(v, s.matcherString) }

func (s *secretValues) walk(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		if isMatcher(x) {
			return x
		}
		return f(x)
	case exactNumber:
		if r := f(string(x)); r != string(x) {
			return r
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = s.walk(e, f)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = s.walk(e, f)
		}
		return out
	}
	return v
}

// exactNumber is a number of a recorded JSON body, written to YAML as a number with its
// digits as they came: a vendor's {"time": 1767225600} replays as a number, which an
// incoming transform may compare, not as the string "1767225600".
type exactNumber string

// MarshalYAML writes the number plain: YAML reads every JSON number as a number.
func (n exactNumber) MarshalYAML() (any, error) {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: string(n)}, nil
}

// exactNumbers replaces the json.Numbers of a decoded body with exactNumbers.
func exactNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		return exactNumber(x)
	case map[string]any:
		for k, e := range x {
			x[k] = exactNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = exactNumbers(e)
		}
	}
	return v
}

func isJSON(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && json.Valid(b)
}

// callJSON reports whether a Verify call's body is JSON it can be recorded as, decoded:
// one that names a key twice (which emfa refuses as ambiguous) is not, since decoded it
// keeps one of them, a body emfa accepts.
func callJSON(b []byte) bool {
	return isJSON(b) && !errors.Is(jsonkeys.Check(b), jsonkeys.ErrDuplicate)
}

// decodeJSON is a recorded JSON body, its numbers exactNumbers; nil for another body.
func decodeJSON(b []byte) any {
	if !isJSON(b) {
		return nil
	}
	return exactNumbers(decodeBody(b))
}

// configSecretKeys are configuration keys whose values are secrets (and any key
// SecretName would call one but "key", which names a file outside authentication.jwt).
var configSecretKeys = map[string]bool{
	"password": true, "client_secret": true, "clientsecret": true, "authtoken": true, "encryptionkey": true,
	"previousencryptionkeys": true, "dsn": true,
	"token":      true, // metrics.token, sync.scim.token
	"signingkey": true, // server.auth.oauth.signingKey
}

func configSecretKey(k string) bool {
	return configSecretKeys[k] || (k != "key" && SecretName(k))
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`)

// fileRef is a ${file:PATH}, a value the configuration reads from a file (${file:-x} is
// the variable "file" with a default).
var fileRef = regexp.MustCompile(`\$\{file:[^-}][^}]*\}`)

// envDefault is a ${NAME:-default} with a default (m[1]: NAME).
var envDefault = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*):-[^}]+\}`)

// redactConfig copies a configuration with its literal secrets replaced — by their
// keys, by their values (secrets) wherever else they appear, and in every URL its user
// info and query values — and lists the ${NAME} references it makes, each <redacted>:
// replay runs with placeholders for them (or the real values, when the environment has
// them). A reference whose value (lookup, when set) is a URL with a path keeps that path
// after <redacted>: the vendor's base path, which the recorded exchanges' paths hold
// anyway.
func redactConfig(text string, secrets *secretValues, lookup func(string) (string, bool)) (string, map[string]string) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return "# the configuration could not be parsed for redaction and was left out\n{}\n", nil
	}
	dropComments(&doc)
	redactNode(&doc, "", secrets)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return "{}\n", nil
	}
	out := buf.String()
	env := map[string]string{}
	for _, m := range envRef.FindAllStringSubmatchIndex(out, -1) {
		name := out[m[2]:m[3]]
		if rest := out[m[1]:]; name == "file" && strings.HasPrefix(rest, ":") && !strings.HasPrefix(rest, ":-") {
			continue // ${file:PATH}: no variable
		}
		env[name] = redacted + urlPath(name, lookup, secrets)
	}
	if len(env) == 0 {
		env = nil
	}
	return out, env
}

// dropComments removes the comments of n and every node under it: an operator notes
// there what no key marks secret (a rotated password commented out, a key's value).
func dropComments(n *yaml.Node) {
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	for _, c := range n.Content {
		dropComments(c)
	}
}

// redactNode replaces secret scalars under n; parent is the key n sits under.
func redactNode(n *yaml.Node, parent string, secrets *secretValues) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			redactNode(c, parent, secrets)
		}
	case yaml.SequenceNode:
		// A list's items are not the section itself: header.values lists {key, value}
		// pairs, where only the value is secret.
		for _, c := range n.Content {
			redactNode(c, parent+"[]", secrets)
		}
	case yaml.MappingNode:
		keys := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			keys[strings.ToLower(n.Content[i].Value)] = true
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := strings.ToLower(n.Content[i].Value), n.Content[i+1]
			secret := configSecretKey(k) ||
				(k == "value" && (keys["key"] || keys["name"])) || // header secrets
				(k == "key" && parent == "jwt") ||
				// webhookFile placeholders (signing keys), but a field's name
				(parent == "values" && !(v.Kind == yaml.ScalarNode && PlainPlaceholder(n.Content[i].Value, v.Value)))
			if secret {
				redactScalars(v)
				continue
			}
			redactNode(v, k, secrets)
		}
	case yaml.ScalarNode:
		if n.Tag == "!!str" || n.Tag == "" {
			if v := redactURL(secrets.literalString(n.Value)); v != n.Value {
				n.Value, n.Style = v, yaml.DoubleQuotedStyle
			}
		}
	}
}

// PlainPlaceholder reports whether a webhookFile's placeholder value is no secret: one
// without a digit — a field's name, a word, which a webhook's transforms and its vendor's
// bodies hold as such — under a name that does not say it is secret, and no URL. A key
// has digits.
func PlainPlaceholder(name, value string) bool {
	return !strings.ContainsAny(value, "0123456789") && !SecretName(name) && !strings.Contains(value, "://")
}

// urlPath is the path of the URL the variable name holds, without its trailing slash,
// its secrets redacted; "" when lookup is nil, or the value is no absolute URL.
func urlPath(name string, lookup func(string) (string, bool), secrets *secretValues) string {
	if lookup == nil {
		return ""
	}
	v, ok := lookup(name)
	if !ok {
		return ""
	}
	u, err := url.Parse(strings.TrimSpace(v))
	if err != nil || !u.IsAbs() || u.Host == "" {
		return ""
	}
	return secrets.literalString(strings.TrimSuffix(u.Path, "/"))
}

func redactScalars(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode {
		// A ${file:PATH} is the secret itself, in a file replay does not have.
		if !strings.HasPrefix(strings.TrimSpace(n.Value), "${") || fileRef.MatchString(n.Value) {
			n.Value, n.Style = redacted, yaml.DoubleQuotedStyle
		} else if v := envDefault.ReplaceAllString(n.Value, "${${1}:-"+redacted+"}"); v != n.Value {
			// A reference is no secret, but its default is the value served where the
			// variable was unset (replay sets it: the transcript's env lists it).
			n.Value, n.Style = v, yaml.DoubleQuotedStyle
		}
		return
	}
	for _, c := range n.Content {
		redactScalars(c)
	}
}

// urlValue is a whole value that is a URL, up to its host: a password after its user
// name (group 2) and a query (group 3) may follow.
var urlValue = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*://)(?:[^/?#@\s]*:([^/?#@\s]*)@)?[^?#\s]*(?:\?([^#\s]*))?(?:#\S*)?$`)

var onlyEnvRef = regexp.MustCompile(`^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$`)

// redactURL is v, when it is a URL, without the password of its user info and the
// values of its query (an API key, say), each "<redacted>" escaped so the URL still
// parses; a ${NAME} there is kept, it is no secret itself, but the default of a
// ${NAME:-default} is redacted (the value served where NAME is unset; replay sets it).
func redactURL(v string) string {
	// References are set aside first: their ":" and "-" are not the URL's (but in a
	// value holding the mark itself, no URL, which is taken as it is).
	var refs []string
	masked := v
	if !strings.Contains(v, "\x02") {
		masked = urlEnvRef.ReplaceAllStringFunc(v, func(ref string) string {
			refs = append(refs, envDefault.ReplaceAllString(ref, "${${1}:-"+escapedRedacted+"}"))
			return fmt.Sprintf("\x02%d\x03", len(refs)-1)
		})
	}
	m := urlValue.FindStringSubmatchIndex(masked)
	if m == nil {
		return v
	}
	var out strings.Builder
	last := 0
	if m[4] >= 0 && m[5] > m[4] && !maskedRef.MatchString(masked[m[4]:m[5]]) {
		out.WriteString(masked[last:m[4]])
		out.WriteString(escapedRedacted)
		last = m[5]
	}
	if m[6] >= 0 {
		out.WriteString(masked[last:m[6]])
		pairs := strings.Split(masked[m[6]:m[7]], "&")
		for i, p := range pairs {
			if name, val, ok := strings.Cut(p, "="); ok && val != "" && !maskedRef.MatchString(val) {
				pairs[i] = name + "=" + escapedRedacted
			}
		}
		out.WriteString(strings.Join(pairs, "&"))
		last = m[7]
	}
	out.WriteString(masked[last:])
	if refs == nil {
		return out.String()
	}
	return maskedRefs.ReplaceAllStringFunc(out.String(), func(s string) string {
		i, _ := strconv.Atoi(s[1 : len(s)-1])
		return refs[i]
	})
}

// escapedRedacted is <redacted> in a URL.
const escapedRedacted = "%3Credacted%3E"

// urlEnvRef is a ${…} in a URL; maskedRef one set aside (redactURL), maskedRefs each.
var (
	urlEnvRef  = regexp.MustCompile(`\$\{[^{}]*\}`)
	maskedRef  = regexp.MustCompile("^\x02[0-9]+\x03$")
	maskedRefs = regexp.MustCompile("\x02[0-9]+\x03")
)

// walkStrings is v with f applied to each string inside it but a matcher's.
func walkStrings(v any, f func(string) string) any { return (*secretValues)(nil).walk(v, f) }

// replaceStrings replaces every string value equal to a key of with by its value.
func replaceStrings(v any, with map[string]any) any {
	switch x := v.(type) {
	case string:
		if r, ok := with[x]; ok {
			return r
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = replaceStrings(e, with)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = replaceStrings(e, with)
		}
		return out
	}
	return v
}
