package transcript

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/emfa/emfa/provider"
)

// Observed is one contract call as emfa answered it, with the vendor calls it caused.
type Observed struct {
	Time      time.Time
	Provider  string
	Resource  string
	Method    string
	Auth      string // "", "none" or "wrong": the credentials the call came with
	Request   []byte
	Status    int
	Response  []byte
	Exchanges []provider.Exchange
}

// RecorderOptions configure a Recorder.
type RecorderOptions struct {
	Dir string
	// Config is the serving configuration's text; it is copied into each transcript with
	// its secrets redacted.
	Config string
	// Setup says what a call needs created before it can replay (the users and built-in
	// factors it names); nil for none.
	Setup func(o Observed) []Setup
	Log   *slog.Logger
	// Idle writes an open transaction nobody has called for this long (default 10 min).
	Idle time.Duration
}

// Recorder groups observed calls into transactions and writes each as a transcript: the
// calls sharing a transactionId, or a single call (a lookup, a validate-only factor). It
// never slows or changes an answer: Observe only queues, and a write that fails (a full
// disk, a directory that went away) is logged.
type Recorder struct {
	o      RecorderOptions
	queue  chan Observed
	done   chan struct{}
	mu     sync.Mutex
	open   map[string]*group // by provider + transactionId
	seq    int
	failed int
	closed bool
}

type group struct {
	calls []Observed
	last  time.Time
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
	r := &Recorder{o: o, queue: make(chan Observed, 1024), done: make(chan struct{}), open: map[string]*group{}}
	go r.loop()
	return r
}

// Observe queues a call. When the queue is full the call is dropped and counted: a
// recording may lose a transaction, an answer is never delayed.
func (r *Recorder) Observe(o Observed) {
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return
	}
	select {
	case r.queue <- o:
	default:
		r.o.Log.Warn("recording: queue full, call not recorded", "provider", o.Provider, "resource", o.Resource)
	}
}

// Close writes every open transaction and stops.
func (r *Recorder) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
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
				for key, g := range r.open {
					r.write(g.calls)
					delete(r.open, key)
				}
				return
			}
			r.add(o)
		case <-tick.C:
			for key, g := range r.open {
				if time.Since(g.last) >= r.o.Idle {
					r.write(g.calls)
					delete(r.open, key)
				}
			}
		}
	}
}

// add files a call with its transaction, writing the transaction when it ends.
func (r *Recorder) add(o Observed) {
	req, _ := decodeJSON(o.Request).(map[string]any)
	resp, _ := decodeJSON(o.Response).(map[string]any)
	status, _ := resp["status"].(string)
	txid, _ := req["transactionId"].(string)
	if o.Resource == provider.ResourceInitiate && o.Status == 200 {
		if started, ok := resp["transactionId"].(string); ok && started != "" {
			r.open[o.Provider+"\x00"+started] = &group{calls: []Observed{o}, last: time.Now()}
			return
		}
	}
	key := o.Provider + "\x00" + txid
	g, inTx := r.open[key]
	if txid == "" || !inTx {
		r.write([]Observed{o})
		return
	}
	g.calls, g.last = append(g.calls, o), time.Now()
	terminal := status == "SUCCESS" || status == "CANCELED" || status == "TIMEOUT" ||
		(status == "FAILED" && o.Resource == provider.ResourceResult)
	if terminal || o.Status != 200 {
		r.write(g.calls)
		delete(r.open, key)
	}
}

// write turns calls into a transcript file.
func (r *Recorder) write(calls []Observed) {
	t := r.transcript(calls)
	data, err := Marshal(t)
	if err == nil {
		r.seq++
		first := calls[0]
		name := fmt.Sprintf("%s-%s-%s-%03d.yaml", first.Time.UTC().Format("20060102T150405Z"),
			safeName(first.Provider), safeName(first.Resource), r.seq%1000)
		err = writeFileAtomic(filepath.Join(r.o.Dir, name), data)
		if err == nil {
			r.o.Log.Info("recording: transcript written", "file", name, "calls", len(calls))
			return
		}
	}
	r.mu.Lock()
	r.failed++
	r.mu.Unlock()
	r.o.Log.Error("recording: transcript not written", "dir", r.o.Dir, "err", err)
}

// writeFileAtomic writes a whole file or nothing: a reader never sees half a transcript.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".recording-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
	}
	return werr
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

func safeName(s string) string {
	if s = unsafeChars.ReplaceAllString(s, "_"); s == "" {
		return "call"
	}
	return s
}

// transcript builds the transcript of one transaction.
func (r *Recorder) transcript(calls []Observed) *Transcript {
	first := calls[0]
	t := &Transcript{Clock: first.Time.UTC().Truncate(time.Second)}
	t.Config, t.Env = redactConfig(r.o.Config)
	txVars := map[string]string{}  // transactionId → variable
	factorVars := map[string]any{} // a set-up factor's recorded id → ${fN}
	seenSetup := map[string]bool{}
	user := ""
	prev := t.Clock
	for _, o := range calls {
		if r.o.Setup != nil {
			for _, s := range r.o.Setup(o) {
				key := s.User
				if s.Factor != nil {
					key = "factor:" + s.Factor.ID
				}
				if !seenSetup[key] {
					seenSetup[key] = true
					if s.Factor != nil {
						// Replay creates the factor anew; its id travels as a variable.
						f := *s.Factor
						f.As = fmt.Sprintf("f%d", len(factorVars)+1)
						factorVars[f.ID] = "${" + f.As + "}"
						f.ID = ""
						s.Factor = &f
					}
					t.Setup = append(t.Setup, s)
				}
			}
		}
		if gap := o.Time.Sub(prev).Truncate(time.Second); gap >= time.Second {
			t.Steps = append(t.Steps, Step{Advance: Duration(gap)})
			prev = prev.Add(gap)
		}
		step := Step{Name: o.Resource, Call: &Call{Provider: o.Provider, Resource: o.Resource}}
		if o.Method != "POST" {
			step.Call.Method = o.Method
		}
		step.Call.Auth = o.Auth
		if req := decodeJSON(o.Request); isJSON(o.Request) {
			if m, ok := req.(map[string]any); ok {
				if tx, ok := m["transactionId"].(string); ok {
					if v, known := txVars[tx]; known {
						m["transactionId"] = "${" + v + "}"
					}
				}
				if u := username(m); u != "" && user == "" {
					user = u
				}
			}
			step.Call.Body = replaceStrings(redactValue(req, redacted), factorVars)
		} else if len(o.Request) > 0 {
			raw := string(o.Request)
			step.Call.Raw = &raw
		}
		exp := &Expect{Body: replaceStrings(decodeJSON(o.Response), factorVars)}
		if o.Status != 200 {
			exp.Status = o.Status
		}
		if m, ok := exp.Body.(map[string]any); ok {
			if tx, ok := m["transactionId"].(string); ok && tx != "" {
				if v, known := txVars[tx]; known {
					m["transactionId"] = "${" + v + "}"
				} else {
					v := fmt.Sprintf("tx%d", len(txVars)+1)
					txVars[tx] = v
					m["transactionId"] = "<capture:" + v + ">"
				}
			}
		}
		step.Expect = exp
		for _, x := range o.Exchanges {
			step.Vendor = append(step.Vendor, recordExchange(x))
		}
		t.Steps = append(t.Steps, step)
	}
	t.Name = fmt.Sprintf("recorded %s on %s", strings.Join(resources(calls), ", "), first.Provider)
	if user != "" {
		t.Name += " for " + user
	}
	t.Description = fmt.Sprintf("Recorded by emfa serve --record at %s. Secrets are %s: supply them (a TOTP seed in setup, a passvalue as ${totp(SEED)}) where the scenario depends on them.",
		first.Time.UTC().Format(time.RFC3339), redacted)
	return t
}

func resources(calls []Observed) []string {
	var out []string
	for _, c := range calls {
		if len(out) == 0 || out[len(out)-1] != c.Resource {
			out = append(out, c.Resource)
		}
	}
	return out
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
func recordExchange(x provider.Exchange) Exchange {
	req := VendorRequest{Method: x.Method, Path: x.URL.Path}
	if q := x.URL.Query(); len(q) > 0 {
		req.Query = redactValue(values(q), MatchAny).(map[string]any)
	}
	req.Headers = map[string]string{}
	for _, h := range []string{"Content-Type"} {
		if v := x.RequestHeader.Get(h); v != "" {
			req.Headers[h] = v
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
			req.Form = redactValue(values(form), MatchAny).(map[string]any)
		}
	case isJSON(x.RequestBody):
		req.Body = redactValue(decodeJSON(x.RequestBody), MatchAny)
	}
	resp := VendorResponse{Status: x.Status}
	if x.Status == 0 { // no answer came (a timeout): replay answers a gateway timeout
		resp.Status = 504
	}
	if resp.Status == 200 {
		resp.Status = 0
	}
	if ct := x.ResponseHeader.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		resp.Headers = map[string]string{"Content-Type": ct}
	}
	if isJSON(x.ResponseBody) {
		resp.Body = redactValue(decodeJSON(x.ResponseBody), redacted)
	} else if len(x.ResponseBody) > 0 {
		raw := string(x.ResponseBody)
		resp.Raw = &raw
	}
	return Exchange{Request: req, Response: resp}
}

// secretFields are keys whose values are codes, answers or credentials, in any body.
var secretFields = map[string]bool{
	"passvalue": true, "passcode": true, "password": true, "code": true, "otp": true,
	"answer": true, "secret": true, "client_secret": true, "token": true,
	"access_token": true, "id_token": true, "refresh_token": true, "assertion": true,
}

// redactValue replaces the values of secret fields with with, recursively.
func redactValue(v any, with string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if secretFields[strings.ToLower(k)] {
				out[k] = with
				continue
			}
			out[k] = redactValue(e, with)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactValue(e, with)
		}
		return out
	}
	return v
}

func isJSON(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && json.Valid(b)
}

func decodeJSON(b []byte) any {
	if !isJSON(b) {
		return nil
	}
	return decodeBody(b)
}

// configSecretKeys are configuration keys whose values are secrets.
var configSecretKeys = map[string]bool{
	"password": true, "client_secret": true, "authtoken": true, "encryptionkey": true,
	"previousencryptionkeys": true, "dsn": true,
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`)

// redactConfig copies a configuration with its literal secrets replaced, and lists the
// ${NAME} references it makes, each <redacted>: replay runs with placeholders for them
// (or the real values, when the environment has them).
func redactConfig(text string) (string, map[string]string) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return "# the configuration could not be parsed for redaction and was left out\n{}\n", nil
	}
	redactNode(&doc, "")
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return "{}\n", nil
	}
	out := buf.String()
	env := map[string]string{}
	for _, m := range envRef.FindAllStringSubmatch(out, -1) {
		env[m[1]] = redacted
	}
	if len(env) == 0 {
		env = nil
	}
	return out, env
}

// redactNode replaces secret scalars under n; parent is the key n sits under.
func redactNode(n *yaml.Node, parent string) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			redactNode(c, parent)
		}
	case yaml.MappingNode:
		keys := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			keys[strings.ToLower(n.Content[i].Value)] = true
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := strings.ToLower(n.Content[i].Value), n.Content[i+1]
			secret := configSecretKeys[k] ||
				(k == "value" && (keys["key"] || keys["name"])) || // header secrets
				(k == "key" && parent == "jwt") ||
				parent == "values" // webhookFile placeholders (signing keys)
			if secret {
				redactScalars(v)
				continue
			}
			redactNode(v, k)
		}
	}
}

func redactScalars(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode {
		if !strings.HasPrefix(strings.TrimSpace(n.Value), "${") {
			n.Value, n.Style = redacted, yaml.DoubleQuotedStyle
		}
		return
	}
	for _, c := range n.Content {
		redactScalars(c)
	}
}

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
