package remote

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/transform"
)

// resource is a webhook resource with its transforms compiled.
type resource struct {
	name     string
	def      Resource
	outgoing *transform.Program // nil: the Verify payload is sent as JSON
	incoming *transform.Program // nil: the vendor's body is the answer
	// method and methodValue are def's method, for the request and for the outgoing
	// transform, converted once (a transform.Value, boxed once as Engine.headerValue is).
	method      string
	methodValue any
}

// The environments are built on first use, not at package initialisation: building one
// takes a fresh process about a millisecond, and serve compiles while its store opens
// (cmd/emfa), off the path to listening. A command that compiles nothing builds none.
var (
	outgoingEnv = sync.OnceValue(func() *transform.Env { return mustEnv(transform.Outgoing) })
	incomingEnv = sync.OnceValue(func() *transform.Env { return mustEnv(transform.Incoming) })
)

func mustEnv(d transform.Direction) *transform.Env {
	env, err := transform.NewEnv(d)
	if err != nil {
		panic(fmt.Sprintf("remote: %s environment: %v", d, err)) // a bug in the library, caught by any test
	}
	return env
}

// Check validates w and compiles its transforms: what New would refuse, as config.Errors
// naming each resource and direction, and advisory warnings (a transform whose worst-case
// cost is high or cannot be bounded).
func Check(w *Webhook) (warnings []string, err error) {
	_, warnings, err = CheckCompiled(w)
	return warnings, err
}

// Compiled is what Check compiled from a webhook, for New to build on (Options.Compiled)
// rather than compile it all again: start-up and each reload check every provider, then
// build it.
type Compiled struct {
	w *Webhook
	c compiled
}

// CheckCompiled is Check, and also returns what it compiled when w is valid (nil when
// it is not).
func CheckCompiled(w *Webhook) (*Compiled, []string, error) {
	var errs config.Errors
	if err := w.Validate(); err != nil {
		errs = append(errs, err.(config.Errors)...)
	}
	c, warnings, err := compileAll(w)
	if err != nil {
		errs = append(errs, err.(config.Errors)...)
	}
	if len(errs) > 0 {
		return nil, warnings, errs
	}
	return &Compiled{w: w, c: c}, warnings, nil
}

// Compile compiles every transform of w and returns config.Errors naming each failing
// resource and direction (with the CEL position in the message), or nil.
func Compile(w *Webhook) (map[string]*resource, error) {
	resources, _, err := compile(w)
	return resources, err
}

func compile(w *Webhook) (map[string]*resource, []string, error) {
	var errs config.Errors
	var warnings []string
	out := map[string]*resource{}
	names := make([]string, 0, len(w.Resources))
	for name := range w.Resources {
		names = append(names, name)
	}
	sort.Strings(names)
	// Every transform is compiled on its own, up to one per CPU at a time: compiling one
	// of IBM's DUO transforms takes a fresh process some milliseconds (parsing, checking and
	// up to three cost estimates), and start-up waits for them all. Errors and warnings
	// keep the order of the resources by name, outgoing before incoming.
	type job struct {
		name, src string
		dir       transform.Direction
		env       *transform.Env
		dst       **transform.Program
		prg       *transform.Program
		err       error
		shared    *job // the job that compiles the same source, when not this one
	}
	var jobs []*job
	for _, name := range names {
		def := w.Resources[name]
		r := &resource{name: name, def: def, method: def.method(), methodValue: transform.NewValue(def.method())}
		for _, j := range []*job{
			{name: name, src: def.Transform.Outgoing, dir: transform.Outgoing, env: outgoingEnv(), dst: &r.outgoing},
			{name: name, src: def.Transform.Incoming, dir: transform.Incoming, env: incomingEnv(), dst: &r.incoming},
		} {
			if strings.TrimSpace(j.src) != "" {
				jobs = append(jobs, j)
			}
		}
		out[strings.ToLower(name)] = r
	}
	// A transform that several resources share (a YAML anchor: DUO's passcode validation
	// for validate and hotp_1) is compiled once: a compiled program is immutable, and
	// evaluations share it.
	type key struct {
		dir transform.Direction
		src string
	}
	var unique []*job
	first := map[key]*job{}
	for _, j := range jobs {
		if f, ok := first[key{j.dir, j.src}]; ok {
			j.shared = f
			continue
		}
		first[key{j.dir, j.src}] = j
		unique = append(unique, j)
	}
	parallel(len(unique), func(i int) {
		j := unique[i]
		j.prg, j.err = compileSafely(j.env, j.src)
	})
	for _, j := range jobs {
		if j.shared != nil {
			j.prg, j.err = j.shared.prg, j.shared.err
		}
		if j.err != nil {
			errs = append(errs, &config.FieldError{
				Path: fmt.Sprintf("resources.%s.transform.%s", j.name, j.dir),
				Msg:  celMessage(j.err),
			})
			continue
		}
		check := checkIncomingBody
		if j.dir == transform.Outgoing {
			check = func(prg *transform.Program) (string, error) { return "", checkResultKeys(prg) }
		}
		w, err := check(j.prg)
		if err != nil {
			errs = append(errs, &config.FieldError{Path: fmt.Sprintf("resources.%s.transform.%s", j.name, j.dir), Msg: err.Error()})
			continue
		}
		if w != "" {
			warnings = append(warnings, fmt.Sprintf("resources.%s.transform.%s: %s", j.name, j.dir, w))
		}
		*j.dst = j.prg
		if w := j.prg.CostWarning(); w != "" {
			warnings = append(warnings, fmt.Sprintf("resources.%s.transform.%s: %s", j.name, j.dir, w))
		}
	}
	if len(errs) > 0 {
		return nil, warnings, errs
	}
	return out, warnings, nil
}

// checkIncomingBody refuses an incoming transform whose result, a map literal (or a
// conditional's maps), has only literal keys and no body, in every branch: only body has an
// effect (cel-dialect.md), so such a transform ("bdy", a key left out) answers no call,
// which would show only at the first one. A conditional one of whose branches has body
// while another has not loads with a warning (the string returned) naming that branch: a
// call taking it fails, which may be meant (an unexpected vendor answer failed on purpose:
// {}) or a typo. Other keys are left alone (Verify ignores them), as is a map whose keys are
// computed or that is no literal.
func checkIncomingBody(prg *transform.Program) (string, error) {
	maps, answers := prg.ResultMaps()
	var first *transform.ResultMap // the first map literal without body
	for i, m := range maps {
		switch {
		case m.Computed || m.Has("body"):
			answers = true
		case first == nil:
			first = &maps[i]
		}
	}
	if first == nil {
		return "", nil
	}
	if !answers {
		return "", fmt.Errorf("%s: the incoming transform's result has no body key, the only one with an effect: no call would get an answer", first.At)
	}
	return fmt.Sprintf("%s: this branch of the incoming transform's result has no body key, the only one with an effect: a call that takes it fails (a typo?)", first.At), nil
}

// parallel runs fn(0) … fn(n-1), at most GOMAXPROCS at a time, and returns when all have.
func parallel(n int, fn func(i int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// compileSafely is transform.Compile with a panic returned as an error: it may run on a
// goroutine of its own (parallel), where a panic would end the process.
func compileSafely(env *transform.Env, src string) (prg *transform.Program, err error) {
	defer func() {
		if p := recover(); p != nil {
			prg, err = nil, fmt.Errorf("transform: compile: %v", p)
		}
	}()
	return transform.Compile(env, src)
}

// compiled is everything New compiles from a webhook.
type compiled struct {
	resources map[string]*resource
	lifecycle map[string][]*lifecycleStep
}

// compileAll compiles the contract resources and the lifecycle steps.
func compileAll(w *Webhook) (compiled, []string, error) {
	resources, warnings, err := compile(w)
	var errs config.Errors
	if err != nil {
		errs = append(errs, err.(config.Errors)...)
	}
	lifecycle, lw, lerrs := compileLifecycle(w)
	warnings = append(warnings, lw...)
	errs = append(errs, lerrs...)
	if len(errs) > 0 {
		return compiled{}, warnings, errs
	}
	return compiled{resources, lifecycle}, warnings, nil
}

// celMessage drops the prefixes a compile error carries ("transform: compile: ",
// "ERROR: <input>:"): the path before it already says which transform it is, and what is
// left starts with the line:column.
func celMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "transform: compile: ")
	return strings.NewReplacer("ERROR: <input>:", "", "<input>:", "").Replace(msg)
}
