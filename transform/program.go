package transform

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	celcommon "cel.dev/cel-go/common"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
)

// ErrCostLimit is returned (wrapped) by Eval when an evaluation exceeds its cost limit.
var ErrCostLimit = errors.New("cost limit exceeded")

// Vars are the values of an evaluation's variables by name. Values are plain Go values: a body
// from DecodeJSON, an http.Header or map[string][]string for header maps, strings, ints, and a
// time.Time for now. Variables the environment does not declare are ignored.
type Vars map[string]any

// Program is a compiled transform. A Program is immutable and safe for concurrent use.
type Program struct {
	env      *Env
	ast      *ast.AST
	prg      cel.Program
	estimate cost.Estimate
	// untracked is the program without runtime cost tracking, which costs about a third
	// of an evaluation (see untrackedPath). fast makes it once, on the first evaluation:
	// finding the input size up to which it is safe takes one or two more cost estimates,
	// 40 % of what compiling IBM's DUO webhook costs, which start-up and every reload would
	// otherwise wait for.
	fast      sync.Once
	untracked untrackedPath
	// checked is the checked AST, kept for fast.
	checked *cel.Ast
	// uses are the variables the transform reads: only their sizes decide whether the
	// estimate bounds an evaluation.
	uses map[string]bool
	// inputs are the declared variables the transform reads, as activation converts them:
	// a list, where walking the environment's map cost an iterator per evaluation.
	inputs []input
	// loops says whether the transform has a comprehension: only there does CEL check the
	// context, so without one it is evaluated without handing it the context, which costs a
	// cancelable context per evaluation.
	loops bool
	// names are the names the transform's text writes (Names).
	names map[string]bool
}

// compile is Compile without the cache (compiled).
func compile(env *Env, source string) (*Program, error) {
	checked, iss := env.cel.Compile(source)
	if iss.Err() != nil {
		return nil, fmt.Errorf("transform: compile: %s", compileErrors(iss))
	}
	native := checked.NativeRep()
	root := native.Expr()
	pos := position(native, root.ID())
	if t := checked.OutputType(); t.Kind() != types.MapKind && t.Kind() != types.DynKind {
		return nil, fmt.Errorf("transform: compile: %s: result is %s, want a map", pos, cel.FormatCELType(t))
	}
	est, err := env.cel.EstimateCost(checked, sizeHint(env.limits.inputSizeHint))
	if err != nil {
		return nil, fmt.Errorf("transform: compile: %s: cost estimate: %w", pos, err)
	}
	if ceiling := env.limits.maxEstimatedCost; ceiling > 0 && est.Max > ceiling {
		return nil, fmt.Errorf("transform: compile: %s: worst-case cost estimate %s exceeds the limit %d (inputs assumed to hold at most %d elements)",
			pos, costString(est.Max), env.limits.maxEstimatedCost, env.limits.inputSizeHint)
	}
	if err := constantPatterns(native); err != nil {
		return nil, fmt.Errorf("transform: compile: %w", err)
	}
	prg, err := env.cel.Program(checked,
		cel.CostLimit(env.limits.costLimit),
		cel.InterruptCheckFrequency(interruptCheckFrequency),
		cel.CostTracking(dynamicCalls{limit: env.limits.costLimit}),
		// A constant pattern is compiled here, once, as the untracked path's OptOptimize
		// does: a match is charged by its text's length, and compiling the pattern again on
		// every call (every element, in a comprehension over a vendor's list) costs many
		// times that. A constant that is no regular expression is refused here, at load.
		cel.OptimizeRegex(interpreter.MatchesRegexOptimization),
		cel.CustomDecoratorV2(library{maxString: maxString(env.limits.costLimit)}.boundCalls),
	)
	if err != nil {
		return nil, fmt.Errorf("transform: compile: %w", err)
	}
	uses := idents(root)
	return &Program{env: env, ast: native, prg: prg, estimate: est, loops: hasComprehension(root), uses: uses, checked: checked,
		inputs: inputsOf(env, uses), names: writtenNames(root)}, nil
}

// compileErrors is CEL's refusal of a transform, each error with its position and message
// ("ERROR: <input>:1:66: undeclared reference to 'nope'") but not the source line cel-go
// prints under it, nor a string literal a syntax error trips on: a transform's text may hold
// a secret (a webhookFile's placeholders are filled in transforms too), and the refusal goes
// to emfa check's output and serve's log.
func compileErrors(iss *cel.Issues) string {
	errs := slices.Clone(iss.Errors())
	slices.SortStableFunc(errs, func(a, b *celcommon.Error) int {
		if c := a.Location.Line() - b.Location.Line(); c != 0 {
			return c
		}
		return a.Location.Column() - b.Location.Column()
	})
	var b strings.Builder
	// broken says the lexer met text it could not read (a string literal's unknown escape,
	// one left open): what follows may be the rest of a literal read as tokens (the part of
	// "ab\qS3CRET" after the escape is an identifier), so no token after it is shown.
	broken := false
	for i, e := range errs {
		if i > 0 {
			b.WriteByte('\n')
		}
		msg := syntaxToken.ReplaceAllStringFunc(e.Message, func(m string) string {
			sub := syntaxToken.FindStringSubmatch(m)
			if broken || strings.ContainsAny(sub[2], "\"'`") {
				return sub[1] + "(text not shown)" + sub[3]
			}
			return m
		})
		if strings.Contains(e.Message, "token recognition error") {
			broken = true
		}
		fmt.Fprintf(&b, "ERROR: <input>:%d:%d: %s", e.Location.Line(), e.Location.Column()+1, msg)
	}
	return b.String()
}

// syntaxToken is the text a syntax error quotes ("mismatched input '…' expecting …",
// "token recognition error at: '…'"): an identifier is kept, text with a quote in it (a
// string literal, or the rest of the line after one, line break included) is not shown.
var syntaxToken = regexp.MustCompile(`(?s)(input |at: )'(.*?)'( expecting |$)`)

// constantPatterns checks the constant patterns of the matches calls in e, which building
// the program compiles, so that one that is no regular expression is refused with its
// position: "<input>:line:column: error parsing regexp: …".
func constantPatterns(a *ast.AST) error {
	var err error
	ast.PreOrderVisit(a.Expr(), ast.NewExprVisitor(func(x ast.Expr) {
		if err != nil || x.Kind() != ast.CallKind || x.AsCall().FunctionName() != "matches" {
			return
		}
		args := x.AsCall().Args()
		pattern := args[len(args)-1] // s.matches(p) or matches(s, p)
		if pattern.Kind() != ast.LiteralKind {
			return
		}
		if p, ok := pattern.AsLiteral().(types.String); ok {
			if _, perr := regexp.Compile(string(p)); perr != nil {
				// regexp's message quotes the pattern: the transform's text, which may hold
				// a secret (a webhookFile's placeholder), as compileErrors has it.
				err = fmt.Errorf("%s: %s", position(a, pattern.ID()), patternError(perr))
			}
		}
	}))
	return err
}

// input is a declared variable a transform reads, and how activation converts it.
type input struct {
	name string
	kind inputKind
}

type inputKind int

const (
	inputValue   inputKind = iota // toCEL
	inputNow                      // a timestamp, the clock when not given
	inputHeader                   // a header map
	inputRequest                  // the incoming transform's request
)

// inputsOf lists the declared variables of env that uses names, sorted by name.
func inputsOf(env *Env, uses map[string]bool) []input {
	var in []input
	for _, name := range slices.Sorted(maps.Keys(env.vars)) {
		if !uses[name] {
			continue // never read: not converted
		}
		t := env.vars[name]
		kind := inputValue
		switch {
		case t.IsExactType(cel.TimestampType) && name == VarNow:
			kind = inputNow
		case t.IsExactType(headerType):
			kind = inputHeader
		case name == VarRequest:
			kind = inputRequest
		}
		in = append(in, input{name: name, kind: kind})
	}
	return in
}

// dynamicCalls prices, at run time, a call whose overload is chosen at run time (its
// arguments are dyn, as every field of body is: body.a + body.b, body.items.sort()), which
// cel-go tracks under no overload id and charges one unit whatever its arguments:
//   - string and bytes arguments are charged as their statically typed overloads charge them
//     (0.1 per character), so that concatenating input strings in a comprehension meets the
//     cost limit as string(body.a) + string(body.b) does;
//   - a list or map argument one unit per element or entry (a sort's two per comparison,
//     n·log2(n) of them), as the typed overloads of the
//     functions that walk one (sort, reverse, in, ==, format, put…) charge at least, so that
//     sorting or searching the input as often as a comprehension repeats it meets the limit;
//     the functions that do not walk it (size, an index, in on a map) are left out;
//   - a string result 0.1 per character, the building of it (format);
//   - the call one unit, but for a call given text alone, which is charged its text, a unit
//     at least, as a concatenation's and a conversion's typed overloads are (and estimated):
//     charged one unit more, a concatenation or a conversion of the input's strings was
//     charged over the estimate of its transform at that input size.
//
// A comparison (==, !=, in) of lists or maps, typed or not, is charged one unit per value
// it may walk, whatever it finds: two values alike but for their last element are walked
// to it. == and != walk at most the smaller operand's values at every depth (a map of
// lists compared with itself is one unit at its top level, and its lists' elements at the
// bottom; one compared with {} is one unit), in on a list each element's against the one
// sought.
//
// reverse of a string, which a list's reverse makes a call chosen at run time, is charged as
// the string's typed overload is (runesModel), not as text alone.
//
// A match of a pattern computed from the input, which boundCalls tracks under computedMatch,
// is charged by the pattern's instructions (computedMatchCost).
//
// distinct, typed or not, is charged the lists extension's two units a pair and what comparing
// its elements walks below their top level (distinctWalk).
//
// Calls on other values, and other statically typed calls, keep cel-go's charge.
type dynamicCalls struct {
	limit uint64 // the cost limit: a walk to charge stops past it
}

// CallCost implements cost.ActualCostEstimator.
func (c dynamicCalls) CallCost(function, overloadID string, args []ref.Val, result ref.Val) *uint64 {
	if n, ok := c.comparison(function, args); ok {
		return &n
	}
	if function == "distinct" && len(args) == 1 {
		if l, ok := args[0].(traits.Lister); ok {
			// The lists extension's charge, two units and a tenth per pair, and what
			// comparing its elements walks below their top level.
			n := cost.ActualSize(l)
			charge := cost.SafeAdd(cost.CallCost, cost.ListCreateBaseCost,
				cost.SafeMultiplyByFactor(cost.SafeMultiply(n, n), 2+cost.StringTraversalCostFactor),
				distinctWalk(l, c.limit))
			return &charge
		}
	}
	if overloadID == computedMatch && len(args) == 2 {
		s, ok1 := args[0].(types.String)
		p, ok2 := args[1].(types.String)
		if ok1 && ok2 {
			n, _ := computedMatchCost(s, p)
			return &n
		}
	}
	if overloadID != "" {
		return nil
	}
	if function == "reverse" && len(args) == 1 {
		if _, ok := args[0].(types.String); ok {
			// A string's reverse, the lists extension's reverse being a list's: as
			// its typed overload charges it (runesModel).
			n := cost.SafeAdd(cost.CallCost, cost.SafeMultiply(cost.ActualSize(args[0]), runesCost))
			return &n
		}
	}
	var chars, elems uint64
	for i, a := range args {
		switch a.(type) {
		case types.String, types.Bytes:
			chars += cost.ActualSize(a)
		case traits.Lister, traits.Mapper:
			if walks(function, i, a) {
				n := cost.ActualSize(a)
				if function == "sort" {
					// About n·log2(n) comparisons, two units each, as cel-go's typed sort
					// charges a pair.
					n = cost.SafeMultiply(n, 2*uint64(bits.Len64(n)))
				}
				elems = cost.SafeAdd(elems, n)
			}
		}
	}
	// A concatenation's text is its arguments', charged already; a conversion's (string(x))
	// is its argument's, or a number's or a time's few characters, which its typed
	// overloads charge one unit.
	if s, ok := result.(types.String); ok && function != operators.Add && function != overloads.TypeConvertString {
		chars += uint64(len(s))
	}
	if chars == 0 && elems == 0 {
		return nil
	}
	text := uint64(math.Ceil(float64(chars) * cost.StringTraversalCostFactor))
	if elems == 0 {
		// Text alone: a unit at least, as a concatenation's and a conversion's typed
		// overloads charge it (and the estimate has it), not a unit more.
		n := max(1, text)
		return &n
	}
	n := 1 + elems + text
	return &n
}

// comparison is the charge of ==, != or in when a list or map is compared (ok): one unit
// per value it may walk, past the limit at most. Other calls, and comparisons of scalars
// (a string's is charged by its length, as before), are not comparisons here.
func (c dynamicCalls) comparison(function string, args []ref.Val) (uint64, bool) {
	if len(args) != 2 {
		return 0, false
	}
	switch function {
	case operators.Equals, operators.NotEquals:
		if !aggregate(args[0]) || !aggregate(args[1]) {
			return 0, false // unequal at once, or scalars
		}
		// At most the smaller operand's values: the walk stops at its end.
		return 1 + minDeepSize(args[0], args[1], c.limit), true
	case operators.In, overloads.DeprecatedIn:
		l, ok := args[1].(traits.Lister)
		if !ok || !aggregate(args[0]) {
			return 0, false // a map's lookup, or a scalar sought (one unit an element)
		}
		// Each element is walked as far as it is alike the value sought. A list smaller
		// than the value sought bounds each element's walk as well as its own size does.
		sought := minDeepSize(args[0], l, c.limit)
		n := uint64(1)
		for i, size := int64(0), sizeOf(l); i < size && n <= c.limit; i++ {
			n += min(sought, deepSize(l.Get(types.Int(i)), 0, sought))
		}
		return n, true
	}
	return 0, false
}

// aggregate reports whether v is a list or a map.
func aggregate(v ref.Val) bool {
	switch v.(type) {
	case traits.Lister, traits.Mapper:
		return true
	}
	return false
}

// minDeepSize is the smaller of a's and b's deepSize (past limit at most), found by walking
// each only about as far as the smaller goes: the charge of comparing a large value with a
// small one must not cost a walk of the large one.
func minDeepSize(a, b ref.Val, limit uint64) uint64 {
	for bound := min(16, limit); ; {
		if n := min(deepSize(a, 0, bound), deepSize(b, 0, bound)); n <= bound || bound == limit {
			return n
		}
		if bound > limit/4 {
			bound = limit
		} else {
			bound *= 4
		}
	}
}

// deepSize is n plus the number of values v holds at every depth (itself included), or a
// number past limit once it gets there.
func deepSize(v ref.Val, n, limit uint64) uint64 {
	n++
	if n > limit {
		return n
	}
	switch x := v.(type) {
	case traits.Mapper:
		_ = eachEntry(x, func(_, e ref.Val) error {
			if n = deepSize(e, n+1, limit); n > limit {
				return errStop
			}
			return nil
		})
	case traits.Lister:
		for i, size := int64(0), sizeOf(x); i < size && n <= limit; i++ {
			n = deepSize(x.Get(types.Int(i)), n, limit)
		}
	}
	return n
}

// distinctWalk bounds, from above, what l.distinct() walks below its elements' top level (a
// number past limit once it gets there): it compares each element with those kept before
// it, and a comparison walks the smaller of the two elements' contents. Elements with none
// (scalars, empty lists and maps) add nothing, as the lists extension's charge of a pair
// covers their comparison. Every element but the largest has its contents walked by its
// comparison with the largest, so the walk to measure them stops once those pass limit.
func distinctWalk(l traits.Lister, limit uint64) uint64 {
	n := sizeOf(l)
	var inner []uint64
	var sum, largest uint64
	for i := int64(0); i < n; i++ {
		e := deepSize(l.Get(types.Int(i)), 0, min(limit, math.MaxUint64-1)+1) - 1 // less the element itself
		if e == 0 {
			continue
		}
		inner = append(inner, e)
		sum += e
		largest = max(largest, e)
		if sum-largest > limit {
			return sum - largest
		}
	}
	// With the contents ascending, the k-th is the smaller of its pairs with the
	// len(inner)-1-k after it.
	slices.Sort(inner)
	var walk uint64
	for k, e := range inner {
		walk = cost.SafeAdd(walk, cost.SafeMultiply(e, uint64(len(inner)-1-k)))
	}
	return walk
}

// walks reports whether function walks its argument i, the list or map a: all do but size,
// an index, a map's in (a lookup) and a list concatenation (cel-go's is a view of both).
func walks(function string, i int, a ref.Val) bool {
	switch function {
	case overloads.Size, operators.Index, operators.OptIndex, operators.Add:
		return false
	case operators.In, overloads.DeprecatedIn:
		_, isMap := a.(traits.Mapper)
		return i == 1 && !isMap
	}
	return true
}

// untrackedPath is a program evaluated without runtime cost tracking, and the input size
// up to which that is safe: the static estimate (at most the cost limit for such inputs)
// already bounds the cost. prg is nil when the estimate bounds no input size.
type untrackedPath struct {
	prg  cel.Program
	upTo uint64
	// slack is the cost limit less the estimate at upTo: what the comparisons of lists and
	// maps, which the estimate charges by their top level, may walk below it before the
	// evaluation is left to the tracked program (untrackedComparisons).
	slack uint64
	// shares says the program evaluates calls the transform makes more than once once
	// (sharedCalls): an evaluation hands it a sharedValues.
	shares bool
}

// untrackedProgram is the program's untracked path, made on the first call.
func (p *Program) untrackedProgram() untrackedPath {
	p.fast.Do(func() {
		upTo, est, ok := p.env.boundedUpTo(p.checked, p.estimate)
		if !ok {
			return
		}
		// Calls made twice with the same arguments are made once: that only lowers the
		// cost, which the estimate of the transform as written bounds.
		lib := library{maxString: maxString(p.env.limits.costLimit)}
		dec := lib.joinLiterals
		slots := sharedCalls(p.ast.Expr())
		if len(slots) > 0 {
			dec = shareCalls(slots, dec)
		}
		// The context's deadline, checked between comprehension iterations, still bounds
		// the evaluation should the estimate ever fall short.
		prg, err := p.env.cel.Program(p.checked, cel.InterruptCheckFrequency(interruptCheckFrequency), cel.EvalOptions(cel.OptOptimize),
			cel.CustomDecoratorV2(lib.boundCalls), cel.CustomDecoratorV2(lib.untrackedForms), cel.CustomDecoratorV2(lib.untrackedComparisons),
			cel.CustomDecoratorV2(dec))
		if err != nil {
			return // the tracked program serves: slower, as safe
		}
		p.untracked = untrackedPath{prg: prg, upTo: upTo, slack: p.env.limits.costLimit - est, shares: len(slots) > 0}
	})
	return p.untracked
}

// idents returns the names of the identifiers e reads (variables and comprehension variables).
func idents(e ast.Expr) map[string]bool {
	names := map[string]bool{}
	ast.PreOrderVisit(e, ast.NewExprVisitor(func(x ast.Expr) {
		if x.Kind() == ast.IdentKind {
			names[x.AsIdent()] = true
		}
	}))
	return names
}

// hasComprehension reports whether e contains a comprehension (a macro such as map or all).
func hasComprehension(e ast.Expr) bool {
	found := false
	ast.PreOrderVisit(e, ast.NewExprVisitor(func(x ast.Expr) {
		if x.Kind() == ast.ComprehensionKind {
			found = true
		}
	}))
	return found
}

// boundedUpTo finds an input size up to which the worst-case cost estimate of checked stays
// within the runtime cost limit: any size when the estimate does not grow with the inputs, else
// 4096, the input size hint the configuration was checked with (est is that estimate), or 32,
// the largest that fits. ok is false when none does; bound is the estimate at upTo. Each
// estimate costs about as much as compiling, so only these few are tried.
func (env *Env) boundedUpTo(checked *cel.Ast, est cost.Estimate) (upTo, bound uint64, ok bool) {
	fits := func(h uint64) (cost.Estimate, bool) {
		e, err := env.cel.EstimateCost(checked, sizeHint(h))
		return e, err == nil && e.Max <= env.limits.costLimit
	}
	hint := env.limits.inputSizeHint
	if est.Max <= env.limits.costLimit {
		if huge, ok := fits(1 << 32); ok && huge.Max == est.Max {
			return unknownSize - 1, est.Max, true // the same for 2^32 as for the hint: size does not matter
		}
		if hint < 4096 {
			if e, ok := fits(4096); ok {
				return 4096, e.Max, true
			}
		}
		return hint, est.Max, true
	}
	if hint > 32 {
		if e, ok := fits(32); ok {
			return 32, e.Max, true
		}
	}
	return 0, 0, false
}

// CostWarning says, when the worst-case static estimate exceeds AdvisoryEstimatedCost
// (or cannot be bounded), that this transform could be expensive; "" otherwise. The runtime
// cost limit still bounds every evaluation.
//
// The warning says what it means for the operator, who may have copied a tested file:
// "unbounded exceeds 10000000" read as a number, and "the runtime cost limit applies" said
// neither that a working transform needs no change nor what a run over the limit does.
func (p *Program) CostWarning() string {
	if p.estimate.Max <= AdvisoryEstimatedCost {
		return ""
	}
	then := fmt.Sprintf("nothing to change if it works: a run over the runtime cost limit of %d is stopped, and its call fails",
		p.env.limits.costLimit)
	if p.estimate.Max == math.MaxUint64 {
		return "worst-case cost cannot be estimated before it runs (it hands a function a value whose size is known only then): " + then
	}
	return fmt.Sprintf("worst-case cost estimate %d exceeds %d (inputs assumed to hold at most %d elements): %s",
		p.estimate.Max, AdvisoryEstimatedCost, p.env.limits.inputSizeHint, then)
}

// CostEstimate returns the static estimate of the transform's evaluation cost, assuming every
// input list, map and string holds at most the environment's input size hint.
func (p *Program) CostEstimate() (minCost, maxCost uint64) {
	return p.estimate.Min, p.estimate.Max
}

// Eval evaluates the transform once. The context bounds the evaluation (its deadline is checked
// between comprehension iterations), as does the environment's cost limit. now is read once per
// evaluation: from vars[VarNow] when the caller gives it (tests pass a fixed time), else the
// clock; either way it is converted to UTC. The result is a map of plain JSON-able values (see
// toJSON). A failure at run time is returned as an error holding the CEL position and message,
// never a variable's value.
func (p *Program) Eval(ctx context.Context, vars Vars) (map[string]any, error) {
	val, err := p.EvalValue(ctx, vars)
	if err != nil {
		return nil, err
	}
	out, err := mapToJSON(val.v.(traits.Mapper))
	if err != nil {
		if err == errResultTooLarge {
			return nil, fmt.Errorf("transform: eval: result: %w", err)
		}
		return nil, fmt.Errorf("transform: eval: result: %s", p.namedKeys(err.Error(), '"'))
	}
	return out, nil
}

// Uses reports whether the transform reads the variable name, so that a caller can leave out
// one that costs something to build: an evaluation converts only the variables it reads.
func (p *Program) Uses(name string) bool { return p.uses[name] }

// EvalValue is Eval returning the result map as a Value, for callers that read a few of its
// keys or convert it into their own types without building Go maps first. Vars may hold Values
// (NewValue, NewHeaderValue) converted once for several evaluations.
func (p *Program) EvalValue(ctx context.Context, vars Vars) (result Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			result = Value{}
			if re, ok := r.(runtime.Error); ok {
				err = fmt.Errorf("transform: eval: internal error: %s", re.Error())
				return
			}
			err = fmt.Errorf("transform: eval: internal error (panic of type %T)", r)
		}
	}()
	if err := ctx.Err(); err != nil {
		return Value{}, fmt.Errorf("transform: eval: %w", err)
	}
	st, size, err := p.activation(vars)
	if err != nil {
		return Value{}, fmt.Errorf("transform: eval: %w", err)
	}
	act := st.act
	prg := p.prg
	if u := p.untrackedProgram(); u.prg != nil && size <= u.upTo {
		prg = u.prg
		act[untrackedVar] = st
		st.slack = u.slack
		if u.shares {
			act[sharedCallsVar] = &st.shared
		}
	}
	val, err := p.run(ctx, prg, act)
	if st.retrack { // a form the untracked path leaves to tracking (untrackedForms)
		val, err = p.run(ctx, p.prg, act)
	}
	st.release()
	if err != nil {
		return Value{}, p.evalError(err)
	}
	if _, ok := val.(traits.Mapper); !ok {
		return Value{}, fmt.Errorf("transform: eval: result is %s, want a map", val.Type().TypeName())
	}
	return Value{v: val, size: unknownSize}, nil
}

// run evaluates prg, one of p's programs, with act.
func (p *Program) run(ctx context.Context, prg cel.Program, act map[string]any) (ref.Val, error) {
	// A context that is never done (Done is nil) has nothing for CEL to check.
	if p.loops && ctx.Done() != nil {
		val, _, err := prg.ContextEval(ctx, act)
		return val, err
	}
	val, _, err := prg.Eval(act)
	return val, err
}

// activation builds the evaluation's variables from vars: only declared names the transform
// reads (Uses), converted to CEL (Values as they are), now filled in and made UTC, header
// maps marked as such. size is the largest string, list or map among them. It returns
// the pooled evalState, for EvalValue to release.
func (p *Program) activation(vars Vars) (st *evalState, size uint64, err error) {
	st = activations.Get().(*evalState)
	act := st.act
	for _, in := range p.inputs {
		name := in.name
		v, ok := vars[name]
		var val ref.Val
		var sz uint64
		switch {
		case in.kind == inputNow:
			// Straight to a CEL timestamp: through v, an any, the time would be boxed twice.
			tm, isTime := v.(time.Time)
			ts, isTimestamp := v.(types.Timestamp)
			switch {
			case !ok || v == nil:
				val = types.Timestamp{Time: time.Now().UTC()}
			case isTime:
				val = types.Timestamp{Time: tm.UTC()}
			case isTimestamp && ts.Location() == time.UTC:
				val = v.(ref.Val) // Now's: boxed once, by the caller
			case isTimestamp:
				val = types.Timestamp{Time: ts.UTC()}
			default:
				val, sz = toCEL(v)
			}
		case !ok:
			continue
		case in.kind == inputHeader:
			val, sz = headerToCEL(v)
			if val == nil {
				st.release()
				return nil, 0, fmt.Errorf("variable %s: header variable is %T, want a map of string lists", name, v)
			}
		case in.kind == inputRequest:
			val, sz = requestToCEL(v)
		default:
			val, sz = toCEL(v)
		}
		act[name] = val
		size = max(size, sz)
	}
	return st, size, nil
}

// evalState is what an evaluation needs besides its program: its variables, and the values
// of the calls it shares.
type evalState struct {
	act    map[string]any
	shared sharedValues
	// retrack says the untracked program met what its estimate does not bound: the
	// evaluation is made again with cost tracking.
	retrack bool
	// walked is what the untracked program's comparisons of lists and maps have walked,
	// and slack what they may (untrackedComparisons).
	walked, slack uint64
}

// untrackedVar is the activation entry that holds an untracked evaluation's *evalState, which
// untrackedForms marks. '@' cannot begin a CEL identifier, so no transform can read it.
const untrackedVar = "@emfa.untracked"

// release empties st and puts it back in activations. CEL drops the map when evaluation ends
// (its frame lets go of it): the next evaluation reuses it and its storage.
func (st *evalState) release() {
	clear(st.act)
	clear(st.shared[:])
	st.retrack = false
	st.walked, st.slack = 0, 0
	activations.Put(st)
}

// activations hold evaluations' variables between evaluations.
var activations = sync.Pool{New: func() any { return &evalState{act: make(map[string]any, 8)} }}

// requestToCEL converts the incoming transform's request variable, marking its header entry as a
// header map. A request of up to maxSmall entries, as the remote engine passes, becomes a record
// in one allocation, its usual keys boxed once for all evaluations.
func requestToCEL(v any) (ref.Val, uint64) {
	req, ok := v.(map[string]any)
	if !ok {
		return toCEL(v)
	}
	size := uint64(len(req))
	entry := func(k string, x any) (ref.Val, uint64) {
		var val ref.Val
		var sz uint64
		if k == VarHeader {
			val, sz = headerToCEL(x)
		}
		if val == nil {
			val, sz = toCEL(x)
		}
		return val, max(sz, uint64(len(k)))
	}
	if len(req) <= maxSmall {
		r := new(struct {
			rec  record
			keys [maxSmall]ref.Val
		})
		i := 0
		for k, x := range req {
			kv, ok := requestKeys[k]
			if !ok {
				kv = types.String(k)
			}
			var sz uint64
			r.keys[i] = kv
			r.rec.vals[i], sz = entry(k, x)
			size = max(size, sz)
			i++
		}
		r.rec.keys = r.keys[:i]
		return &r.rec, size
	}
	m := make(map[string]ref.Val, len(req))
	for k, x := range req {
		var sz uint64
		m[k], sz = entry(k, x)
		size = max(size, sz)
	}
	return types.NewMap(types.DefaultTypeAdapter, m), size
}

// requestKeys are the keys of the request variable the remote engine passes, as CEL values.
var requestKeys = map[string]ref.Val{
	VarBody: types.String(VarBody), VarHeader: types.String(VarHeader), VarMethod: types.String(VarMethod),
	VarPath: types.String(VarPath), VarHost: types.String(VarHost),
}

// evalError turns an evaluation error into one that names the position and CEL's message, with
// quoted text (which may echo a value) removed.
func (p *Program) evalError(err error) error {
	var cancelled interpreter.EvalCancelledError
	if errors.As(err, &cancelled) && cancelled.Cause == interpreter.CostLimitExceeded {
		return fmt.Errorf("transform: eval: %w (limit %d)", ErrCostLimit, p.env.limits.costLimit)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("transform: eval: %w", err)
	}
	if strings.HasPrefix(err.Error(), "internal error:") {
		// cel-go recovered a panic and put its text, which may hold anything, in the message.
		return errors.New("transform: eval: internal error (a function panicked)")
	}
	// Keys first, in single quotes, which redact keeps: it removes what else is quoted.
	msg := p.unknownKey(redact(p.namedKeys(err.Error(), '\'')))
	var celErr *types.Err
	if errors.As(err, &celErr) && celErr.NodeID() != 0 {
		return fmt.Errorf("transform: eval: %s: %s", position(p.ast, celErr.NodeID()), msg)
	}
	return fmt.Errorf("transform: eval: %s", msg)
}

var quoted = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|`[^`]*`")

// redact removes double- and back-quoted text from a CEL runtime message: errors of conversions
// and parsers (strconv, time, regexp) quote their input, which may be a secret. Single quotes,
// which CEL uses for type and function names, are kept.
func redact(msg string) string {
	return timeZone.ReplaceAllString(quoted.ReplaceAllString(msg, `"…"`), "$1 (not shown)")
}

// timeZone is cel-go's message for a time zone argument it cannot read (now.getHours(tz)),
// which names the zone unquoted: a value the transform may have read from its input.
var timeZone = regexp.MustCompile(`(?s)(unknown time zone|timezone offset (?:hours|minutes) out of range \[[^\]]*\]:) .*$`)

// noSuchKey is CEL's message for a map lookup that found nothing: it names the key
// unquoted, so redact leaves it.
var noSuchKey = regexp.MustCompile(`no such key: (.*)$`)

// unknownKey keeps the key a "no such key" message names only when the transform's own
// text has it (a field the configuration names: "no such key: transactionId" says what
// the vendor's answer lacked); a key computed from the input (a map indexed by a
// passvalue) may be a secret, and is not shown.
func (p *Program) unknownKey(msg string) string {
	m := noSuchKey.FindStringSubmatchIndex(msg)
	if m == nil {
		return msg
	}
	key := msg[m[2]:m[3]]
	if p.Names(key) {
		return msg
	}
	return msg[:m[2]] + "(a key the transform does not name; not shown)"
}

// keyNamed is a key an error names, as %q writes it: the library's (jsonToFormURLEncoded's)
// and a result's conversion's (the path to a value that has no JSON form).
var keyNamed = regexp.MustCompile(`key ("(?:[^"\\]|\\.)*")`)

// namedKeys keeps each key msg names, in the quote q, only when the transform's own text
// has it, as unknownKey does: a key computed from the input may be a secret, and is not
// shown.
func (p *Program) namedKeys(msg string, q byte) string {
	if !strings.Contains(msg, `key "`) {
		return msg
	}
	return keyNamed.ReplaceAllStringFunc(msg, func(m string) string {
		if k, err := strconv.Unquote(m[len("key "):]); err == nil && !strings.ContainsRune(k, rune(q)) && p.Names(k) {
			return "key " + string(q) + k + string(q)
		}
		return keyNotShown
	})
}

// keyNotShown stands for a key an error does not show.
const keyNotShown = "key (one the transform does not name; not shown)"

// hideKeys replaces every key msg names with keyNotShown, where the transform's text is not
// at hand to tell a key it names from one computed from its input.
func hideKeys(msg string) string {
	if !strings.Contains(msg, `key "`) {
		return msg
	}
	return keyNamed.ReplaceAllLiteralString(msg, keyNotShown)
}

// Names reports whether the transform's text writes s, as a string literal or a field it
// selects, so that an error about a name it gave a result (a key, a header) may show it: a
// name computed from the input may be a secret, and is not shown (as unknownKey and
// namedKeys do), even when it happens to be part of the text (a PIN inside a date layout).
func (p *Program) Names(s string) bool {
	return p.names[s]
}

// writtenNames are the string literals of e and the fields it selects.
func writtenNames(e ast.Expr) map[string]bool {
	names := map[string]bool{}
	ast.PreOrderVisit(e, ast.NewExprVisitor(func(x ast.Expr) {
		switch x.Kind() {
		case ast.LiteralKind:
			if s, ok := x.AsLiteral().(types.String); ok && s != "" {
				names[string(s)] = true
			}
		case ast.SelectKind:
			names[x.AsSelect().FieldName()] = true
		}
	}))
	return names
}

// position renders the source position of an expression as <input>:line:column.
func position(a *ast.AST, id int64) string {
	loc := a.SourceInfo().GetStartLocation(id)
	return fmt.Sprintf("<input>:%d:%d", loc.Line(), loc.Column()+1)
}

func costString(c uint64) string {
	if c == math.MaxUint64 {
		return "unbounded"
	}
	return strconv.FormatUint(c, 10)
}

// sizeHint is the cost estimator: every list, map and string reached from a variable holds at
// most this many elements.
type sizeHint uint64

// EstimateSize implements cost.Estimator.
func (h sizeHint) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	if len(n.Path()) == 0 {
		return nil
	}
	sz := cost.RangedSizeEstimate(0, uint64(h))
	return &sz
}

// EstimateCallCost implements cost.Estimator; the library's cost models price its functions.
func (sizeHint) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

// Bounds of a result's conversion to plain Go values. A list or map a result holds in several
// places costs CEL one reference each, but is converted (and sent) in full each time:
// body.items.map(x, body.items) is n² values for an evaluation cost of n. These bounds are
// far above a result that holds its input a few times (a vendor's answer is at most
// maxResponseBytes, 1 MiB by default).
const (
	maxResultValues = 1 << 20
	maxResultText   = 64 << 20
)

// errResultTooLarge is a conversion's refusal of a result over those bounds.
var errResultTooLarge = fmt.Errorf("result too large: more than %d JSON values or %d MiB of text (a list, map or string it holds in several places counts each time)",
	maxResultValues, maxResultText>>20)

// jsonBudget is what is left of the bounds during one conversion, and the block its short
// lists are carved from.
type jsonBudget struct {
	values, text int64
	block        []any
}

// listBlock is how many elements the block short lists share holds; a list of up to half as
// many is carved from it.
const listBlock = 8

// list returns an empty slice with room for exactly n elements. A short list's room comes from
// a block shared by the conversion's short lists (a result's header values are one-element
// lists each): one allocation for several. Its capacity is n, so an append by the caller
// copies rather than writing into a neighbour.
func (b *jsonBudget) list(n int64) []any {
	if n == 0 || n > listBlock/2 {
		return make([]any, 0, n)
	}
	if int64(cap(b.block)-len(b.block)) < n {
		b.block = make([]any, 0, listBlock)
	}
	start := len(b.block)
	b.block = b.block[:start+int(n)]
	return b.block[start:start:len(b.block)]
}

func newJSONBudget() *jsonBudget { return &jsonBudget{values: maxResultValues, text: maxResultText} }

// spend takes n values and text bytes of text from the budget.
func (b *jsonBudget) spend(n, text int64) error {
	b.values -= n
	b.text -= text
	if b.values < 0 || b.text < 0 {
		return errResultTooLarge
	}
	return nil
}

// wrap says where err happened, unless it is errResultTooLarge, said once whatever the depth.
func wrap(err error, format string, arg any) error {
	if err == errResultTooLarge {
		return err
	}
	return fmt.Errorf(format+": %w", arg, err)
}

// mapToJSON converts a CEL map with string keys to plain Go values, within the bounds.
func mapToJSON(m traits.Mapper) (map[string]any, error) { return newJSONBudget().mapToJSON(m) }

// toJSON converts a CEL value to plain Go values (jsonBudget.toJSON), within the bounds.
func toJSON(v ref.Val) (any, error) { return newJSONBudget().toJSON(v) }

// mapToJSON converts a CEL map with string keys to plain Go values. It walks the map with
// eachEntry, which reads a chained header map or a record in place, where an iterator would
// first build them flat and then look up every key.
func (b *jsonBudget) mapToJSON(m traits.Mapper) (map[string]any, error) {
	n := sizeOf(m)
	if err := b.spend(1, 0); err != nil || n > b.values {
		return nil, errResultTooLarge
	}
	out := make(map[string]any, int(n))
	typed := false // a key not a string: two keys may write one JSON key (1 and "1")
	err := eachEntry(m, func(k, v ref.Val) error {
		ks, err := mapKey(k)
		if err != nil {
			return err
		}
		if _, str := k.(types.String); !str {
			typed = true
		}
		if typed {
			if _, dup := out[ks]; dup {
				// One would be dropped, which one by map order: the same transform would
				// send one body or the other from call to call.
				return fmt.Errorf("key %q given twice (keys of different types, as 1 and \"1\", write one JSON key)", ks)
			}
		}
		if err := b.spend(0, int64(len(ks))); err != nil {
			return err
		}
		x, err := b.toJSON(v)
		if err != nil {
			return wrap(err, "key %q", ks)
		}
		out[ks] = x
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// mapKey renders a map key as a JSON object key: strings as they are, integers and booleans as
// their text.
func mapKey(k ref.Val) (string, error) {
	switch k := k.(type) {
	case types.String:
		return string(k), nil
	case types.Int:
		return strconv.FormatInt(int64(k), 10), nil
	case types.Uint:
		return strconv.FormatUint(uint64(k), 10), nil
	case types.Bool:
		return strconv.FormatBool(bool(k)), nil
	}
	return "", fmt.Errorf("map key of type %s", k.Type().TypeName())
}

// toJSON converts a CEL value to a plain Go value that encoding/json renders as CEL's JSON
// mapping does: int stays int64 (uint uint64), double float64, bytes become a base64 string,
// timestamps RFC 3339 text, durations seconds with an "s" suffix, null nil; maps and lists keep
// their nesting as map[string]any and []any.
func (b *jsonBudget) toJSON(v ref.Val) (any, error) {
	switch v := v.(type) {
	case types.String:
		if err := b.spend(1, int64(len(v))); err != nil {
			return nil, err
		}
		return string(v), nil
	case types.Bytes:
		if err := b.spend(1, int64(base64.StdEncoding.EncodedLen(len(v)))); err != nil {
			return nil, err
		}
		return base64.StdEncoding.EncodeToString(v), nil
	case traits.Mapper:
		return b.mapToJSON(v)
	case traits.Lister:
		n := sizeOf(v)
		if err := b.spend(1, 0); err != nil || n > b.values {
			return nil, errResultTooLarge
		}
		out := b.list(n)
		for i := int64(0); i < n; i++ {
			e, err := b.toJSON(v.Get(types.Int(i)))
			if err != nil {
				return nil, wrap(err, "element %d", i)
			}
			out = append(out, e)
		}
		return out, nil
	}
	if err := b.spend(1, 0); err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(v), nil
	case types.Int:
		return int64(v), nil
	case types.Uint:
		return uint64(v), nil
	case types.Double:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, errors.New("double is not a finite number")
		}
		return f, nil
	case types.Timestamp:
		return v.Time.Format(time.RFC3339Nano), nil
	case types.Duration:
		return strconv.FormatFloat(v.Duration.Seconds(), 'f', -1, 64) + "s", nil
	case *types.Err:
		return nil, errors.New(redact(v.Error()))
	}
	return nil, fmt.Errorf("value of type %s has no JSON form", v.Type().TypeName())
}
