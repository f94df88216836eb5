package transform

import (
	"strconv"
	"strings"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// impure are the functions whose result may differ between two calls with the same
// arguments: a call to one is never shared (sharedCalls). A function added to the library
// that is not a pure function of its arguments must be listed here.
var impure = map[string]bool{"uuid": true}

// maxShared is how many distinct shared calls an evaluation keeps the value of; a transform
// with more evaluates the rest as often as it names them.
const maxShared = 8

// sharedCallsVar is the activation entry that holds an evaluation's *sharedValues. '@' cannot
// begin a CEL identifier, so no transform can read it.
const sharedCallsVar = "@emfa.shared"

// sharedValues are the values of the shared calls computed so far in one evaluation, by slot.
type sharedValues [maxShared]ref.Val

// sharedCalls finds the calls a transform makes more than once with the same arguments, outside
// any comprehension, calling only pure functions: IBM's DUO outgoing transforms format the Date
// and build the form twice each, once to send and once to sign. It returns the slot of each
// such call by expression ID. Only the outermost of nested shared calls gets a slot. Within
// one evaluation the variables do not change, so every occurrence of such a call has the value
// of the first one evaluated, which the evaluation keeps in sharedValues.
func sharedCalls(root ast.Expr) map[int64]int {
	// Each distinct subtree gets a number; a node's key is its kind and content with its
	// children's numbers, so that the keys stay short however deep the expression.
	numbers := map[string]int{}
	canon := map[int64]int{} // expression ID → its subtree's number; absent: not shareable
	count := map[int]int{}   // subtree number → occurrences of shareable calls
	var walk func(e ast.Expr, inLoop bool) (int, bool)
	number := func(key string) int {
		n, ok := numbers[key]
		if !ok {
			n = len(numbers)
			numbers[key] = n
		}
		return n
	}
	walk = func(e ast.Expr, inLoop bool) (int, bool) {
		var b strings.Builder
		ok := true
		child := func(c ast.Expr) {
			n, cok := walk(c, inLoop)
			ok = ok && cok
			b.WriteByte(' ')
			b.WriteString(strconv.Itoa(n))
		}
		switch e.Kind() {
		case ast.IdentKind:
			b.WriteString("i ")
			b.WriteString(strconv.Quote(e.AsIdent()))
		case ast.LiteralKind:
			k, lok := literalKey(e.AsLiteral())
			b.WriteString("l ")
			b.WriteString(k)
			if !lok {
				return number("literal " + strconv.FormatInt(e.ID(), 10)), false
			}
		case ast.SelectKind:
			s := e.AsSelect()
			b.WriteString("s ")
			b.WriteString(strconv.Quote(s.FieldName()))
			b.WriteString(strconv.FormatBool(s.IsTestOnly()))
			child(s.Operand())
		case ast.CallKind:
			c := e.AsCall()
			b.WriteString("c ")
			b.WriteString(strconv.Quote(c.FunctionName()))
			ok = !impure[c.FunctionName()]
			if c.IsMemberFunction() {
				b.WriteString(" m")
				child(c.Target())
			}
			for _, a := range c.Args() {
				child(a)
			}
		case ast.ListKind:
			l := e.AsList()
			b.WriteString("[ ")
			for i, x := range l.Elements() {
				b.WriteString(strconv.FormatBool(l.IsOptional(int32(i))))
				child(x)
			}
		case ast.MapKind:
			b.WriteString("{ ")
			for _, en := range e.AsMap().Entries() {
				me := en.AsMapEntry()
				b.WriteString(strconv.FormatBool(me.IsOptional()))
				child(me.Key())
				child(me.Value())
			}
		case ast.StructKind:
			s := e.AsStruct()
			b.WriteString("S ")
			b.WriteString(strconv.Quote(s.TypeName()))
			for _, en := range s.Fields() {
				f := en.AsStructField()
				b.WriteString(strconv.Quote(f.Name()))
				b.WriteString(strconv.FormatBool(f.IsOptional()))
				child(f.Value())
			}
		case ast.ComprehensionKind:
			// Its variables are not the transform's: nothing in it is shared, and an
			// expression holding one is not.
			c := e.AsComprehension()
			for _, x := range []ast.Expr{c.IterRange(), c.AccuInit(), c.LoopCondition(), c.LoopStep(), c.Result()} {
				walk(x, true)
			}
			return number("comprehension " + strconv.FormatInt(e.ID(), 10)), false
		default:
			return number("unknown " + strconv.FormatInt(e.ID(), 10)), false
		}
		n := number(b.String())
		if ok && !inLoop && e.Kind() == ast.CallKind {
			canon[e.ID()] = n
			count[n]++
		}
		return n, ok
	}
	walk(root, false)
	slots := map[int64]int{}
	slotOf := map[int]int{}
	var pick func(e ast.Expr)
	pick = func(e ast.Expr) {
		if n, ok := canon[e.ID()]; ok && count[n] > 1 {
			slot, seen := slotOf[n]
			if !seen && len(slotOf) < maxShared {
				slot, seen = len(slotOf), true
				slotOf[n] = slot
			}
			if seen {
				slots[e.ID()] = slot
				return // calls within it are evaluated once with it
			}
		}
		switch e.Kind() {
		case ast.SelectKind:
			pick(e.AsSelect().Operand())
		case ast.CallKind:
			c := e.AsCall()
			if c.IsMemberFunction() {
				pick(c.Target())
			}
			for _, a := range c.Args() {
				pick(a)
			}
		case ast.ListKind:
			for _, x := range e.AsList().Elements() {
				pick(x)
			}
		case ast.MapKind:
			for _, en := range e.AsMap().Entries() {
				pick(en.AsMapEntry().Key())
				pick(en.AsMapEntry().Value())
			}
		case ast.StructKind:
			for _, en := range e.AsStruct().Fields() {
				pick(en.AsStructField().Value())
			}
		}
	}
	pick(root)
	return slots
}

// literalKey renders a literal with its type, so that 1, 1u, 1.0 and "1" differ; ok is false
// for a value of another type, which is then never taken for another.
func literalKey(v ref.Val) (key string, ok bool) {
	switch v := v.(type) {
	case types.String:
		return "string " + strconv.Quote(string(v)), true
	case types.Bytes:
		return "bytes " + strconv.Quote(string(v)), true
	case types.Double:
		return "double " + strconv.FormatFloat(float64(v), 'g', -1, 64), true
	case types.Int:
		return "int " + strconv.FormatInt(int64(v), 10), true
	case types.Uint:
		return "uint " + strconv.FormatUint(uint64(v), 10), true
	case types.Bool:
		return "bool " + strconv.FormatBool(bool(v)), true
	case types.Null:
		return "null", true
	}
	return "", false
}

// sharedCall evaluates a call sharedCalls found once per evaluation: the first occurrence
// evaluated computes it and keeps its value in the evaluation's sharedValues; the others read
// it. An error or unknown is not kept, so that each occurrence reports its own position.
type sharedCall struct {
	interpreter.InterpretableV2
	slot int
}

func (c *sharedCall) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	var vals *sharedValues
	if x, ok := frame.ResolveName(sharedCallsVar); ok {
		vals, _ = x.(*sharedValues)
	}
	if vals == nil {
		return c.InterpretableV2.Exec(frame)
	}
	if v := vals[c.slot]; v != nil {
		return v
	}
	v := c.InterpretableV2.Exec(frame)
	switch v.(type) {
	case *types.Err, *types.Unknown:
		return v
	}
	vals[c.slot] = v
	return v
}

// Eval implements interpreter.Interpretable.
func (c *sharedCall) Eval(act interpreter.Activation) ref.Val { return evalIn(c, act) }

// shareCalls returns a decorator that applies next, then makes the calls of slots sharedCalls.
func shareCalls(slots map[int64]int, next interpreter.InterpretableDecoratorV2) interpreter.InterpretableDecoratorV2 {
	return func(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
		i, err := next(i)
		if err != nil {
			return i, err
		}
		slot, ok := slots[i.ID()]
		if !ok {
			return i, nil
		}
		if _, isConst := i.(interpreter.InterpretableConst); isConst {
			return i, nil
		}
		return &sharedCall{InterpretableV2: i, slot: slot}, nil
	}
}
