// Package transform implements IBM Verify's CEL dialect for webhook transforms: the variables an
// outgoing or incoming transform sees, the functions Verify adds to standard CEL, and bounded
// evaluation whose result comes back as plain JSON-able Go values.
//
// A transform is compiled once, when the configuration loads, and evaluated per request:
//
//	env, err := transform.NewEnv(transform.Outgoing)
//	prg, err := transform.Compile(env, source)
//	out, err := prg.Eval(ctx, transform.Vars{"body": body, "header": header, ...})
//
// The dialect is specified in docs/cel-dialect.md; IBM's DUO webhook is the reference every
// change is tested against.
package transform

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"
)

// Direction says which side of the vendor call a transform runs on.
type Direction string

// The two directions of a webhook transform.
const (
	// Outgoing transforms rewrite the request before it is sent to the vendor.
	Outgoing Direction = "outgoing"
	// Incoming transforms turn the vendor's response into the answer for Verify.
	Incoming Direction = "incoming"
)

// Variable names shared by the directions.
const (
	VarBody                 = "body"
	VarHeader               = "header"
	VarMethod               = "method"
	VarPath                 = "path"
	VarHost                 = "host"
	VarAuthenticationHeader = "authentication_header"
	VarNow                  = "now"
	VarStatusCode           = "status_code"
	VarRequest              = "request"
)

// Limits applied when no Option overrides them.
const (
	// DefaultCostLimit bounds the runtime cost of one evaluation. One unit is roughly one
	// operation (about 50ns); IBM's DUO transforms cost well under a thousand.
	DefaultCostLimit = 1_000_000
	// DefaultMaxEstimatedCost is 0: Compile rejects nothing on its static estimate alone,
	// because IBM Verify accepts such transforms and emfa must too (an ordinary
	// list.filter(...).map(...) chain already defeats the estimator: "unbounded"). The
	// runtime cost limit bounds what an evaluation really does. WithMaxEstimatedCost sets a
	// ceiling where strictness is wanted.
	DefaultMaxEstimatedCost = 0
	// AdvisoryEstimatedCost is the worst-case static estimate above which CostWarning
	// speaks. The estimate assumes every input list, map and string holds at most
	// DefaultInputSizeHint elements, so this catches nested iteration over inputs (a triple
	// comprehension) and huge literals, not ordinary transforms.
	AdvisoryEstimatedCost = 10_000_000
	// DefaultInputSizeHint is the size assumed for every input list, map and string when the
	// cost of a transform is estimated.
	DefaultInputSizeHint = 100
	// interruptCheckFrequency is how many comprehension iterations run between checks of the
	// evaluation's context.
	interruptCheckFrequency = 100
)

// Pinned versions of the cel-go extension libraries. An upgrade of cel-go keeps these functions
// as they are; raising a version is a deliberate change that the functions golden test shows.
const (
	stringsVersion  = 5 // charAt … upperAscii, format, quote, join, reverse; with cost models
	listsVersion    = 4 // slice, flatten, sort, sortBy, range, reverse, distinct; sound costs
	encodersVersion = 0 // base64.encode/decode, costed by costModels; json.encode (1) has an unbounded cost, 2 turns on optional types
	costModel       = 1 // cost model revision used for estimates and runtime tracking
)

// headerType is the CEL type of a header map. Values of this type given as variables are
// recognised at run time, so that put stores a string as a one-element list.
var headerType = cel.MapType(cel.StringType, cel.ListType(cel.StringType))

// Env is a compilation environment: the variables a transform may use and the function library.
// An Env is immutable and safe for concurrent use.
type Env struct {
	cel    *cel.Env
	vars   map[string]*cel.Type
	limits limits
}

type limits struct {
	costLimit        uint64
	maxEstimatedCost uint64
	inputSizeHint    uint64
}

// Option configures an Env.
type Option func(*limits)

// WithCostLimit sets the runtime cost limit of one evaluation; 0 keeps DefaultCostLimit.
func WithCostLimit(n uint64) Option {
	return func(l *limits) {
		if n > 0 {
			l.costLimit = n
		}
	}
}

// WithMaxEstimatedCost sets a ceiling on the static worst-case cost estimate above which
// Compile rejects a transform; 0 (the default) sets none.
func WithMaxEstimatedCost(n uint64) Option {
	return func(l *limits) {
		if n > 0 {
			l.maxEstimatedCost = n
		}
	}
}

// WithInputSizeHint sets the size the cost estimate assumes for every input list, map and
// string; 0 keeps DefaultInputSizeHint.
func WithInputSizeHint(n uint64) Option {
	return func(l *limits) {
		if n > 0 {
			l.inputSizeHint = n
		}
	}
}

// NewEnv returns the environment of a webhook transform in the given direction, with the
// variables of docs/cel-dialect.md:
//
//	outgoing: body map(string, dyn), header map(string, list(string)), method string,
//	          path string, host string, authentication_header map(string, string), now timestamp
//	incoming: body dyn, header map(string, list(string)), status_code int,
//	          request map(string, dyn)
func NewEnv(dir Direction, opts ...Option) (*Env, error) {
	switch dir {
	case Outgoing:
		return NewEnvWithVariables(map[string]*cel.Type{
			VarBody:                 cel.MapType(cel.StringType, cel.DynType),
			VarHeader:               headerType,
			VarMethod:               cel.StringType,
			VarPath:                 cel.StringType,
			VarHost:                 cel.StringType,
			VarAuthenticationHeader: cel.MapType(cel.StringType, cel.StringType),
			VarNow:                  cel.TimestampType,
		}, opts...)
	case Incoming:
		return NewEnvWithVariables(map[string]*cel.Type{
			VarBody:       cel.DynType,
			VarHeader:     headerType,
			VarStatusCode: cel.IntType,
			VarRequest:    cel.MapType(cel.StringType, cel.DynType),
		}, opts...)
	default:
		return nil, fmt.Errorf("transform: unknown direction %q", dir)
	}
}

// NewEnvWithVariables returns an environment with the dialect's function library over the given
// variables, for expressions emfa evaluates outside webhooks (for example a generic SMS gateway
// with variables to, code and message). A variable of type timestamp named now is filled in by
// Eval when the caller leaves it out; a variable of type map(string, list(string)) is treated as a
// header map.
func NewEnvWithVariables(vars map[string]*cel.Type, opts ...Option) (*Env, error) {
	l := limits{
		costLimit:        DefaultCostLimit,
		maxEstimatedCost: DefaultMaxEstimatedCost,
		inputSizeHint:    DefaultInputSizeHint,
	}
	for _, o := range opts {
		o(&l)
	}
	envOpts := []cel.EnvOption{
		cel.DefaultUTCTimeZone(true),
		cel.CostModelVersion(costModel),
		ext.Strings(ext.StringsVersion(stringsVersion)),
		ext.Lists(ext.ListsVersion(listsVersion)),
		ext.Encoders(ext.EncodersVersion(encodersVersion)),
		cel.Lib(library{maxString: maxString(l.costLimit)}),
	}
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		envOpts = append(envOpts, cel.Variable(name, vars[name]))
	}
	ce, err := cel.NewEnv(envOpts...)
	if err != nil {
		return nil, fmt.Errorf("transform: environment: %w", err)
	}
	return &Env{cel: ce, vars: maps.Clone(vars), limits: l}, nil
}

// maxString is the length of a string whose scan (0.1 unit a byte) costs the cost limit.
func maxString(costLimit uint64) int64 {
	if costLimit > math.MaxInt64/10 {
		return math.MaxInt64
	}
	return int64(costLimit) * 10
}

// Functions lists the names of the functions and operators every environment offers, sorted:
// standard CEL, the pinned extension libraries, Verify's additions and emfa's own. Macros (has,
// all, exists, exists_one, map, filter, sortBy) are expanded by the parser and are not listed.
func Functions() []string {
	e, err := baseEnv()
	if err != nil {
		return nil
	}
	return slices.Sorted(maps.Keys(e.cel.Functions()))
}

// baseEnv is an environment without variables, built once.
var baseEnv = sync.OnceValues(func() (*Env, error) { return NewEnvWithVariables(nil) })

// EmfaOnlyFunctions lists the functions emfa adds beyond IBM Verify's dialect, sorted. A
// transform that calls one of them does not run inside Verify:
//
//	hmacSha256(msg, key) string  HMAC-SHA256 of msg keyed by key, lower-case hex
//	maskEmail(s) string          "alice@example.com" → "a***@example.com"
//	maskPhone(s) string          "+15551230123" → "+1******0123" (keeps '+', the first and
//	                             the last four digits; fewer than eight digits: all masked)
//	pathSegment(s) string        s when it is one path segment, else an error: empty, . or
//	                             .., or holding / or \, percent-encoded too
//	uuid() string                a random version 4 UUID
//
// The pinned cel-go extension libraries (strings, lists, base64 encoders) are also available;
// whether Verify offers them is not documented, so portable transforms avoid them.
func EmfaOnlyFunctions() []string {
	return slices.Clone(emfaOnly)
}

// VerifyFunctions lists the functions IBM Verify adds to standard CEL, sorted.
func VerifyFunctions() []string {
	return slices.Clone(verifyAdded)
}
