package remote

import (
	"fmt"
	"sort"
	"strings"

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
	// transform, converted once.
	method      string
	methodValue transform.Value
}

var (
	outgoingEnv = mustEnv(transform.Outgoing)
	incomingEnv = mustEnv(transform.Incoming)
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
	for _, name := range names {
		def := w.Resources[name]
		r := &resource{name: name, def: def, method: def.method(), methodValue: transform.NewValue(def.method())}
		for _, d := range []struct {
			dir transform.Direction
			src string
			env *transform.Env
			dst **transform.Program
		}{
			{transform.Outgoing, def.Transform.Outgoing, outgoingEnv, &r.outgoing},
			{transform.Incoming, def.Transform.Incoming, incomingEnv, &r.incoming},
		} {
			if strings.TrimSpace(d.src) == "" {
				continue
			}
			prg, err := transform.Compile(d.env, d.src)
			if err != nil {
				errs = append(errs, &config.FieldError{
					Path: fmt.Sprintf("resources.%s.transform.%s", name, d.dir),
					Msg:  celMessage(err),
				})
				continue
			}
			*d.dst = prg
			if w := prg.CostWarning(); w != "" {
				warnings = append(warnings, fmt.Sprintf("resources.%s.transform.%s: %s", name, d.dir, w))
			}
		}
		out[strings.ToLower(name)] = r
	}
	if len(errs) > 0 {
		return nil, warnings, errs
	}
	return out, warnings, nil
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
