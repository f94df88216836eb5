package transcript

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Env is the emfa a transcript runs against. An in-process emfa implements every
// method; against a running one (replay --target) the methods that need the inside
// (Advance, Setup, Sent, Device) return ErrNotInProcess.
type Env interface {
	// URL is emfa's base URL (http://127.0.0.1:8080).
	URL() string
	// Provider is the credentialPrefix a call without one addresses.
	Provider() string
	// Authorize sets the inbound credentials on a Verify call: mode "" for the configured
	// ones, "none" for none, "wrong" for wrong ones.
	Authorize(req *http.Request, mode string)
	Now() time.Time
	Advance(d time.Duration) error
	// Setup creates a user or a factor and returns the factor's id.
	Setup(ctx context.Context, s Setup) (string, error)
	// Sent returns the last code delivered to a destination (SMS number, e-mail address).
	Sent(to string) (string, error)
	Device(ctx context.Context, a DeviceAction) error
}

// ErrNotInProcess is returned by Env methods a running emfa cannot offer.
var ErrNotInProcess = errors.New("needs an in-process emfa (not available with --target)")

// Start builds the Env a transcript runs against; vendorURL is the transcript's vendor,
// for remote providers. stop releases it.
type Start func(ctx context.Context, t *Transcript, vendorURL string) (env Env, stop func(), err error)

// StepError says where a transcript stopped matching.
type StepError struct {
	Step     int // from 1
	Name     string
	Mismatch *Mismatch
	Err      error
}

func (e *StepError) Error() string {
	where := fmt.Sprintf("step %d", e.Step)
	if e.Name != "" {
		where += fmt.Sprintf(" (%s)", e.Name)
	}
	if e.Mismatch != nil {
		return where + ": " + e.Mismatch.String()
	}
	return where + ": " + e.Err.Error()
}

func (e *StepError) Unwrap() error { return e.Err }

// Run replays t: it serves the vendor side, starts emfa through start, performs the
// setup and steps in order and returns the first mismatch (a *StepError), or nil.
func Run(ctx context.Context, t *Transcript, start Start) error {
	v, err := newVendor()
	if err != nil {
		return fmt.Errorf("start the vendor: %w", err)
	}
	defer v.close()
	env, stop, err := start(ctx, t, v.url)
	if err != nil {
		return fmt.Errorf("start emfa: %w", err)
	}
	defer stop()
	sc := &scope{vars: map[string]string{"vendor": v.url}, env: env}
	v.scope = sc
	for i, s := range t.Setup {
		if s.Factor != nil {
			f := *s.Factor
			f.Answer = slices.Clone(f.Answer)
			fields := []*string{&f.Secret, &f.Phone, &f.Email, &f.ID}
			for j := range f.Answer {
				fields = append(fields, &f.Answer[j])
			}
			f.Params = maps.Clone(f.Params)
			for name, vs := range f.Params {
				vs = slices.Clone(vs)
				for j := range vs {
					fields = append(fields, &vs[j])
				}
				f.Params[name] = vs
			}
			for _, p := range fields {
				if *p, err = sc.expand(*p); err != nil {
					return fmt.Errorf("setup[%d]: %w", i, err)
				}
			}
			s.Factor = &f
		}
		id, err := env.Setup(ctx, s)
		if err != nil {
			return fmt.Errorf("setup[%d]: %w", i, err)
		}
		if s.Factor != nil && s.Factor.As != "" {
			sc.vars[s.Factor.As] = id
		}
	}
	client := &http.Client{Timeout: 30 * time.Second}
	for i, s := range t.Steps {
		fail := func(m *Mismatch, err error) error {
			return &StepError{Step: i + 1, Name: s.Name, Mismatch: m, Err: err}
		}
		switch {
		case s.Advance != 0:
			if err := env.Advance(time.Duration(s.Advance)); err != nil {
				return fail(nil, err)
			}
		case s.Device != nil:
			a := *s.Device
			if a.Challenge, err = sc.expand(a.Challenge); err != nil {
				return fail(nil, err)
			}
			if a.Number, err = sc.expand(a.Number); err != nil {
				return fail(nil, err)
			}
			if err := env.Device(ctx, a); err != nil {
				return fail(nil, err)
			}
		default:
			if m, err := runCall(ctx, client, env, sc, v, s); m != nil || err != nil {
				return fail(m, err)
			}
		}
	}
	return nil
}

// runCall makes one Verify call and checks the answer and the vendor exchanges.
func runCall(ctx context.Context, client *http.Client, env Env, sc *scope, v *vendor, s Step) (*Mismatch, error) {
	c := s.Call
	var exchanges []Exchange
	for _, ex := range s.Vendor {
		req, err := expandRequest(sc, ex.Request)
		if err != nil {
			return nil, err
		}
		resp, err := sc.expandValue(ex.Response.Body)
		if err != nil {
			return nil, err
		}
		ex.Request, ex.Response.Body = req, resp
		exchanges = append(exchanges, ex)
	}
	v.expect(exchanges)

	var body io.Reader
	switch {
	case c.Raw != nil:
		raw, err := sc.expand(*c.Raw)
		if err != nil {
			return nil, err
		}
		body = strings.NewReader(raw)
	case c.Body != nil:
		b, err := sc.expandValue(c.Body)
		if err != nil {
			return nil, err
		}
		data, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("call body: %w", err)
		}
		body = bytes.NewReader(data)
	}
	method := strings.ToUpper(c.Method)
	if method == "" {
		method = http.MethodPost
	}
	prov := c.Provider
	if prov == "" {
		prov = env.Provider()
	}
	target := env.URL() + "/v1/providers/" + url.PathEscape(prov) + "/" + c.Resource
	if len(c.Query) > 0 {
		q, err := callQuery(sc, c.Query)
		if err != nil {
			return nil, err
		}
		target += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	env.Authorize(req, c.Auth)
	for k, val := range c.Headers {
		expanded, err := sc.expand(val)
		if err != nil {
			return nil, err
		}
		req.Header.Set(k, expanded)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", c.Resource, err)
	}
	data, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", c.Resource, err)
	}

	// A wrong vendor request explains a wrong answer: report it first.
	if m := v.done(); m != nil {
		if m.Got == "no call" { // what emfa answered instead says why it made none
			m.Got = fmt.Sprintf("no call (emfa answered %d %s)", resp.StatusCode, show(decodeBody(data)))
		}
		return m, nil
	}
	exp := s.Expect
	if exp == nil {
		exp = &Expect{}
	}
	wantStatus := exp.Status
	if wantStatus == 0 {
		wantStatus = http.StatusOK
	}
	if resp.StatusCode == http.StatusUnauthorized && wantStatus != http.StatusUnauthorized && c.Auth == "" {
		// The replay's own credentials refused: against a running emfa (replay --target),
		// a mistyped password, not a wrong answer; in process, emfa's authentication broken.
		return nil, fmt.Errorf("call %s: %w (want %d, got 401 %s)", c.Resource, ErrCredentialsRefused, wantStatus, show(decodeBody(data)))
	}
	if resp.StatusCode != wantStatus {
		return &Mismatch{"status", fmt.Sprint(wantStatus), fmt.Sprintf("%d %s", resp.StatusCode, show(decodeBody(data)))}, nil
	}
	for _, k := range sortedKeys(exp.Headers) {
		want, err := sc.expandValue(exp.Headers[k])
		if err != nil {
			return nil, err
		}
		if m := sc.matchHeader("headers."+k, want.(string), resp.Header, k); m != nil {
			return m, nil
		}
	}
	if exp.Body == MatchAbsent {
		if len(data) > 0 {
			return &Mismatch{"body", "no body", show(decodeBody(data))}, nil
		}
	} else if exp.Body != nil {
		want, err := sc.expandValue(exp.Body)
		if err != nil {
			return nil, err
		}
		if m := sc.match("body", want, decodeBody(data)); m != nil {
			return m, nil
		}
	}
	return nil, nil
}

// callQuery is a call's query, expanded: each value a string, or a list of them.
func callQuery(sc *scope, query map[string]any) (url.Values, error) {
	q := url.Values{}
	for _, k := range sortedKeys(query) {
		list, ok := query[k].([]any)
		if !ok {
			list = []any{query[k]}
		}
		for _, v := range list {
			s, err := sc.expand(fmt.Sprint(v))
			if err != nil {
				return nil, fmt.Errorf("call query %s: %w", k, err)
			}
			q.Add(k, s)
		}
	}
	return q, nil
}

func expandRequest(sc *scope, r VendorRequest) (VendorRequest, error) {
	var err error
	out := r
	if out.Path, err = sc.expand(r.Path); err != nil {
		return out, err
	}
	for _, m := range []*map[string]any{&out.Query, &out.Form} {
		if *m != nil {
			v, err := sc.expandValue(*m)
			if err != nil {
				return out, err
			}
			*m = v.(map[string]any)
		}
	}
	if out.Body, err = sc.expandValue(r.Body); err != nil {
		return out, err
	}
	if r.Headers != nil {
		out.Headers = map[string]string{}
		for k, v := range r.Headers {
			if isMatcher(v) {
				out.Headers[k] = v
				continue
			}
			if out.Headers[k], err = sc.expand(v); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// decodeBody is a JSON body decoded with numbers kept exact, or the text itself: also
// for one value followed by more ({"status":"SUCCESS"}{…}), which is no JSON.
func decodeBody(data []byte) any {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return string(data)
	}
	if _, err := dec.Token(); err != io.EOF {
		return string(data)
	}
	return v
}

// vendor serves a step's vendor exchanges in order and records the first difference.
type vendor struct {
	url   string
	close func()
	scope *scope

	mu        sync.Mutex
	exchanges []Exchange
	next      int
	mismatch  *Mismatch
}

func newVendor() (*vendor, error) {
	v := &vendor{}
	var err error
	v.url, v.close, err = ServeLocal(http.HandlerFunc(v.serve))
	return v, err
}

// ServeLocal serves h on a free loopback port until stop: the vendor of a replay, and an
// in-process emfa. (httptest would do the same, but it is test code and this ships.)
func ServeLocal(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	return "http://" + ln.Addr().String(), func() {
		srv.Close()
		<-done
	}, nil
}

func (v *vendor) expect(ex []Exchange) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.exchanges, v.next, v.mismatch = ex, 0, nil
}

// done returns the step's first vendor difference, or an expected call not made.
func (v *vendor) done() *Mismatch {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.mismatch != nil {
		return v.mismatch
	}
	if v.next < len(v.exchanges) {
		r := v.exchanges[v.next].Request
		return &Mismatch{fmt.Sprintf("vendor[%d]", v.next), fmt.Sprintf("a call %s %s", r.Method, r.Path), "no call"}
	}
	return nil
}

func (v *vendor) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	v.mu.Lock()
	defer v.mu.Unlock()
	i := v.next
	if i >= len(v.exchanges) {
		if v.mismatch == nil {
			v.mismatch = &Mismatch{fmt.Sprintf("vendor[%d]", i), "no more vendor calls", r.Method + " " + r.URL.Path}
		}
		http.Error(w, `{"error":"unexpected call"}`, http.StatusInternalServerError)
		return
	}
	ex := v.exchanges[i]
	if m := v.matchRequest(fmt.Sprintf("vendor[%d].request", i), ex.Request, r, body); m != nil {
		if v.mismatch == nil {
			v.mismatch = m
		}
		http.Error(w, `{"error":"request does not match the transcript"}`, http.StatusInternalServerError)
		return
	}
	v.next++
	resp := ex.Response
	for k, val := range resp.Headers {
		w.Header().Set(k, val)
	}
	var out []byte
	switch {
	case resp.Raw != nil:
		out = []byte(*resp.Raw)
	case resp.Body != nil:
		out, _ = json.Marshal(resp.Body)
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "application/json")
		}
	}
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	w.Write(out)
}

func (v *vendor) matchRequest(path string, want VendorRequest, r *http.Request, body []byte) *Mismatch {
	sc := v.scope
	if want.Method != "" && !strings.EqualFold(want.Method, r.Method) {
		return &Mismatch{path + ".method", want.Method, r.Method}
	}
	if want.Path != "" {
		if m := sc.match(path+".path", want.Path, r.URL.Path); m != nil {
			return m
		}
	}
	// A query or a body the transcript does not have must not be sent: a request that
	// gains a parameter is a change replay exists to catch.
	query := r.URL.Query()
	switch {
	case want.Query != nil:
		if m := sc.match(path+".query", want.Query, values(query)); m != nil {
			return m
		}
	case len(query) > 0:
		return &Mismatch{path + ".query", "no query (the transcript has none)", show(values(query))}
	}
	for _, k := range sortedKeys(want.Headers) {
		if m := sc.matchHeader(path+".headers."+k, want.Headers[k], r.Header, k); m != nil {
			return m
		}
	}
	if want.Form == nil && (want.Body == nil || want.Body == MatchAbsent) {
		if len(body) > 0 {
			return &Mismatch{path + ".body", "no body (the transcript has none)", show(decodeBody(body))}
		}
		return nil
	}
	if len(body) == 0 {
		what := want.Body
		if want.Form != nil {
			what = want.Form
		}
		return &Mismatch{path + ".body", show(what), "no body"}
	}
	if want.Form != nil {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		form, err := url.ParseQuery(string(body))
		if ct != "application/x-www-form-urlencoded" || err != nil {
			return &Mismatch{path + ".form", "a form body", show(string(body))}
		}
		if m := sc.match(path+".form", want.Form, values(form)); m != nil {
			return m
		}
	}
	if want.Body != nil && want.Body != MatchAny { // <any>: any body, checked above
		if m := sc.match(path+".body", want.Body, decodeBody(body)); m != nil {
			return m
		}
	}
	return nil
}

// matchHeader compares a header's value with want: <absent> passes exactly when the
// header is not sent; anything else is matched against its (first) value.
func (sc *scope) matchHeader(path, want string, h http.Header, name string) *Mismatch {
	vals := h.Values(name)
	if want == MatchAbsent {
		if len(vals) > 0 {
			return &Mismatch{path, "no such header", show(strings.Join(vals, ", "))}
		}
		return nil
	}
	m := sc.match(path, want, h.Get(name))
	if m != nil && len(vals) == 0 {
		m.Got = "nothing (header not sent)"
	}
	return m
}

// values turns url.Values into what a transcript writes: one value as a string, several
// as a list.
func values(v url.Values) map[string]any {
	out := make(map[string]any, len(v))
	for k, vs := range v {
		if len(vs) == 1 {
			out[k] = vs[0]
		} else {
			list := make([]any, len(vs))
			for i, s := range vs {
				list[i] = s
			}
			out[k] = list
		}
	}
	return out
}
