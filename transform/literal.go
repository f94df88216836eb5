package transform

import (
	"reflect"
	"sync"

	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
)

// maxSmall is the most elements a smallList, or entries a record, holds.
const maxSmall = 6

// smallLiterals is a decorator for programs evaluated without cost tracking: it builds list
// literals of up to maxSmall elements, and map literals of up to maxSmall entries with constant
// string keys, each in one allocation where CEL spends two (a list) or three (a map). A
// transform's result is such literals, and a comprehension's step (accu + [x]) builds a
// one-element list per iteration (which appendToAccumulator leaves out where it can). Literals
// whose values are all constant are left to CEL's own optimiser, which folds them. CEL's cost
// tracking is done by its own literals, so programs that track cost keep those. The environment
// enables no optional syntax, so no literal has optional elements or entries. A list's
// flatten() is made as such a list too (flattenCall).
func smallLiterals(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
	if call, ok := i.(interpreter.InterpretableCall); ok {
		if args := call.Args(); call.OverloadID() == "map_put_key_value" && len(args) == 3 {
			return newPutCall(call.ID(), args[0], args[1], args[2]), nil
		}
		if args := call.Args(); call.OverloadID() == "list_flatten" && len(args) == 1 {
			return &flattenCall{call: call, list: args[0]}, nil
		}
		return appendToAccumulator(call), nil
	}
	c, ok := i.(interpreter.InterpretableConstructor)
	if !ok {
		return i, nil
	}
	vals := c.InitVals()
	switch c.Type() {
	case types.ListType:
		if len(vals) == 0 || len(vals) > maxSmall || allConst(vals) {
			return i, nil
		}
		return &smallListLiteral{id: i.ID(), elems: vals}, nil
	case types.MapType:
		if len(vals) == 0 || len(vals)%2 != 0 || len(vals) > 2*maxSmall {
			return i, nil
		}
		lit := &recordLiteral{id: i.ID()}
		for j := 0; j < len(vals); j += 2 {
			k, ok := vals[j].(interpreter.InterpretableConst)
			if !ok {
				return i, nil
			}
			ks, ok := k.Value().(types.String)
			if !ok || hasKey(lit.keys, ks) {
				// A repeated key is left to CEL, whose map keeps the last value.
				return i, nil
			}
			lit.keys = append(lit.keys, ks)
			lit.vals = append(lit.vals, vals[j+1])
		}
		if allConst(lit.vals) {
			return i, nil
		}
		return lit, nil
	}
	return i, nil
}

func allConst(vals []interpreter.InterpretableV2) bool {
	for _, v := range vals {
		if _, ok := v.(interpreter.InterpretableConst); !ok {
			return false
		}
	}
	return true
}

func hasKey(keys []ref.Val, k types.String) bool {
	for _, x := range keys {
		if x.(types.String) == k {
			return true
		}
	}
	return false
}

// unknownOrErr folds an element's value into the evaluation of a literal as CEL's literals do:
// an error ends it, unknowns are merged.
func unknownOrErr(v ref.Val, unk *types.Unknown) (ref.Val, *types.Unknown) {
	switch v := v.(type) {
	case *types.Err:
		return v, unk
	case *types.Unknown:
		if unk == nil {
			return nil, v
		}
		return nil, types.MergeUnknowns(unk, v)
	}
	return nil, unk
}

// execInto runs each of elems into dst, as CEL's literals do: the first error is the
// result, else the unknowns merged, else nil.
func execInto(dst []ref.Val, elems []interpreter.InterpretableV2, frame *interpreter.ExecutionFrame) ref.Val {
	var unk *types.Unknown
	for i, e := range elems {
		v := e.Exec(frame)
		var err ref.Val
		if err, unk = unknownOrErr(v, unk); err != nil {
			return err
		}
		dst[i] = v
	}
	if unk != nil {
		return unk
	}
	return nil
}

// evalIn evaluates i in a frame of its own over act.
func evalIn(i interpreter.InterpretableV2, act interpreter.Activation) ref.Val {
	frame, err := interpreter.NewExecutionFrame(act)
	if err != nil {
		return types.WrapErr(err)
	}
	defer frame.Close()
	return i.Exec(frame)
}

// smallListLiteral evaluates a list literal into a smallList.
type smallListLiteral struct {
	id    int64
	elems []interpreter.InterpretableV2
}

func (l *smallListLiteral) ID() int64 { return l.id }

func (l *smallListLiteral) Eval(act interpreter.Activation) ref.Val { return evalIn(l, act) }

func (l *smallListLiteral) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	out := &smallList{n: len(l.elems)}
	if failed := execInto(out.vals[:], l.elems, frame); failed != nil {
		return failed
	}
	return out
}

// smallList is a list of up to maxSmall values in one allocation. Indexing, size and folding
// read it directly; anything else is done by the CEL list it stands for (flat).
type smallList struct {
	n    int
	vals [maxSmall]ref.Val
	// strs says the list stands for a list of Go strings (a header value), as
	// types.NewStringList makes, rather than a list literal's list of CEL values.
	strs bool
}

// oneString makes l the one-element list of s, a string, as a header map stores it.
func (l *smallList) oneString(s ref.Val) *smallList {
	l.n, l.vals[0], l.strs = 1, s, true
	return l
}

func (l *smallList) flat() traits.Lister {
	if l.strs {
		ss := make([]string, l.n)
		for i, v := range l.vals[:l.n] {
			ss[i] = string(v.(types.String))
		}
		return types.NewStringList(types.DefaultTypeAdapter, ss)
	}
	return types.NewRefValList(types.DefaultTypeAdapter, l.vals[:l.n:l.n])
}

// Get implements traits.Indexer.
func (l *smallList) Get(index ref.Val) ref.Val {
	if i, ok := index.(types.Int); ok && i >= 0 && int(i) < l.n {
		return l.vals[i]
	}
	return l.flat().Get(index)
}

// Size implements traits.Sizer.
func (l *smallList) Size() ref.Val { return types.Int(l.n) }

// Fold implements traits.Foldable as CEL's lists do.
func (l *smallList) Fold(f traits.Folder) {
	for i, v := range l.vals[:l.n] {
		if !f.FoldEntry(i, v) {
			break
		}
	}
}

// IsZeroValue implements traits.Zeroer.
func (l *smallList) IsZeroValue() bool { return l.n == 0 }

// Add implements traits.Adder.
func (l *smallList) Add(other ref.Val) ref.Val { return l.flat().Add(other) }

// Contains implements traits.Container.
func (l *smallList) Contains(v ref.Val) ref.Val { return l.flat().Contains(v) }

// Iterator implements traits.Iterable.
func (l *smallList) Iterator() traits.Iterator { return l.flat().Iterator() }

// ConvertToNative implements ref.Val.
func (l *smallList) ConvertToNative(t reflect.Type) (any, error) { return l.flat().ConvertToNative(t) }

// ConvertToType implements ref.Val.
func (l *smallList) ConvertToType(t ref.Type) ref.Val { return l.flat().ConvertToType(t) }

// Equal implements ref.Val.
func (l *smallList) Equal(other ref.Val) ref.Val { return l.flat().Equal(other) }

// Type implements ref.Val.
func (l *smallList) Type() ref.Type { return types.ListType }

// Value implements ref.Val.
func (l *smallList) Value() any { return l.flat().Value() }

// recordLiteral evaluates a map literal with constant string keys into a record.
type recordLiteral struct {
	id int64
	// keys are types.String, boxed once here rather than whenever an entry is read.
	keys []ref.Val
	vals []interpreter.InterpretableV2
}

func (m *recordLiteral) ID() int64 { return m.id }

func (m *recordLiteral) Eval(act interpreter.Activation) ref.Val { return evalIn(m, act) }

func (m *recordLiteral) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	out := &record{keys: m.keys}
	if failed := execInto(out.vals[:], m.vals, frame); failed != nil {
		return failed
	}
	return out
}

// record is a map with up to maxSmall distinct string keys, shared with its literal, in one
// allocation. Lookups and size read it directly; anything else is done by the CEL map it stands
// for (flat).
type record struct {
	keys []ref.Val // types.String
	vals [maxSmall]ref.Val
}

func (m *record) flat() traits.Mapper {
	out := make(map[ref.Val]ref.Val, len(m.keys))
	for i, k := range m.keys {
		out[k] = m.vals[i]
	}
	return types.NewRefValMap(types.DefaultTypeAdapter, out)
}

// each calls fn for every entry of m until fn returns an error.
func (m *record) each(fn func(k, v ref.Val) error) error {
	for i, k := range m.keys {
		if err := fn(k, m.vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// Find implements traits.Mapper. A key other than a string is not in the map, as in CEL's.
func (m *record) Find(key ref.Val) (ref.Val, bool) {
	s, ok := key.(types.String)
	if !ok {
		return m.flat().Find(key)
	}
	return m.findString(string(s))
}

// findString is Find of a string key, unboxed.
func (m *record) findString(s string) (ref.Val, bool) {
	for i, k := range m.keys {
		if string(k.(types.String)) == s {
			return m.vals[i], true
		}
	}
	return nil, false
}

// Get implements traits.Indexer as CEL's maps do.
func (m *record) Get(key ref.Val) ref.Val {
	v, found := m.Find(key)
	if !found {
		return types.ValOrErr(v, "no such key: %v", key)
	}
	return v
}

// Contains implements traits.Container as CEL's maps do.
func (m *record) Contains(key ref.Val) ref.Val {
	_, found := m.Find(key)
	return types.Bool(found)
}

// Size implements traits.Sizer.
func (m *record) Size() ref.Val { return types.Int(len(m.keys)) }

// IsZeroValue implements traits.Zeroer.
func (m *record) IsZeroValue() bool { return len(m.keys) == 0 }

// Iterator implements traits.Iterable.
func (m *record) Iterator() traits.Iterator { return m.flat().Iterator() }

// ConvertToNative implements ref.Val.
func (m *record) ConvertToNative(t reflect.Type) (any, error) { return m.flat().ConvertToNative(t) }

// ConvertToType implements ref.Val.
func (m *record) ConvertToType(t ref.Type) ref.Val { return m.flat().ConvertToType(t) }

// Equal implements ref.Val.
func (m *record) Equal(other ref.Val) ref.Val { return m.flat().Equal(other) }

// Type implements ref.Val.
func (m *record) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (m *record) Value() any { return m.flat().Value() }

// appendToAccumulator turns v + [x, …], v a variable, into appendLiteral, which leaves out the
// list a comprehension's step (accu + [x]) would build on every iteration; other calls are
// returned as they are.
func appendToAccumulator(call interpreter.InterpretableCall) interpreter.InterpretableV2 {
	args := call.Args()
	if call.Function() != operators.Add || len(args) != 2 {
		return call
	}
	lit, ok := args[1].(*smallListLiteral)
	if !ok {
		return call
	}
	attr, ok := args[0].(interpreter.InterpretableAttribute)
	if !ok {
		return call
	}
	if na, ok := attr.Attr().(interpreter.NamespacedAttribute); !ok || len(na.Qualifiers()) != 0 {
		return call
	}
	return &appendLiteral{call: call, accu: args[0], elems: lit}
}

// appendLiteral is v + [x, …] with v a variable. When v is a comprehension's mutable
// accumulator, the elements are appended to it through a pooled list, for CEL's mutable list
// copies the elements of the list it is given (types.mutableList.Add); else the call is
// evaluated as CEL planned it, reading v, a variable, again.
type appendLiteral struct {
	call  interpreter.InterpretableCall
	accu  interpreter.InterpretableV2
	elems *smallListLiteral
}

// appendLists hold the lists appendLiteral hands to an accumulator.
var appendLists = sync.Pool{New: func() any { return new(smallList) }}

func (a *appendLiteral) ID() int64 { return a.call.ID() }

func (a *appendLiteral) Eval(act interpreter.Activation) ref.Val { return evalIn(a, act) }

func (a *appendLiteral) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	accu, ok := a.accu.Exec(frame).(traits.MutableLister)
	if !ok {
		return a.call.Exec(frame)
	}
	l := appendLists.Get().(*smallList)
	l.n = len(a.elems.elems)
	var unk *types.Unknown
	for i, e := range a.elems.elems {
		v := e.Exec(frame)
		var err ref.Val
		if err, unk = unknownOrErr(v, unk); err != nil {
			putAppendList(l)
			return err
		}
		l.vals[i] = v
	}
	if unk != nil {
		putAppendList(l)
		return unk
	}
	var res ref.Val
	switch acc := accu.(type) {
	case *accuList:
		acc.pushAll(l)
		res = acc
	default:
		if accu.Size() == types.IntZero {
			// CEL's empty accumulator: from now on, ours.
			acc := &accuList{}
			acc.pushAll(l)
			res = acc
		} else {
			res = accu.Add(l)
		}
	}
	putAppendList(l)
	return res
}

// accuList is a comprehension's accumulator once appendLiteral first appends to it, in place
// of CEL's mutable list, which grows its storage an allocation at a time from one element and
// then copies it into the result: up to maxSmall elements are kept in its own allocation, as
// the smallList that is the result; more in a slice. Like CEL's, it is the comprehension's
// alone: the folder only reads it and hands its result on (ToImmutableList), after which it is
// not added to.
type accuList struct {
	small smallList
	all   []ref.Val // every element, once there are more than maxSmall; else nil
}

func (a *accuList) push(v ref.Val) {
	if a.all == nil {
		if a.small.n < maxSmall {
			a.small.vals[a.small.n] = v
			a.small.n++
			return
		}
		a.all = make([]ref.Val, a.small.n, 4*maxSmall)
		copy(a.all, a.small.vals[:a.small.n])
	}
	a.all = append(a.all, v)
}

func (a *accuList) pushAll(l traits.Lister) {
	n := sizeOf(l)
	for i := int64(0); i < n; i++ {
		a.push(l.Get(types.Int(i)))
	}
}

// view is the list a holds.
func (a *accuList) view() traits.Lister {
	if a.all != nil {
		return types.NewRefValList(types.DefaultTypeAdapter, a.all)
	}
	return &a.small
}

// ToImmutableList implements traits.MutableLister.
func (a *accuList) ToImmutableList() traits.Lister { return a.view() }

// Add implements traits.Adder as CEL's mutable list does: other's elements are appended.
func (a *accuList) Add(other ref.Val) ref.Val {
	l, ok := other.(traits.Lister)
	if !ok {
		return types.MaybeNoSuchOverloadErr(other)
	}
	a.pushAll(l)
	return a
}

// Get implements traits.Indexer.
func (a *accuList) Get(index ref.Val) ref.Val { return a.view().Get(index) }

// Size implements traits.Sizer.
func (a *accuList) Size() ref.Val {
	if a.all != nil {
		return types.Int(len(a.all))
	}
	return types.Int(a.small.n)
}

// Contains implements traits.Container.
func (a *accuList) Contains(v ref.Val) ref.Val { return a.view().Contains(v) }

// Iterator implements traits.Iterable.
func (a *accuList) Iterator() traits.Iterator { return a.view().Iterator() }

// ConvertToNative implements ref.Val.
func (a *accuList) ConvertToNative(t reflect.Type) (any, error) { return a.view().ConvertToNative(t) }

// ConvertToType implements ref.Val.
func (a *accuList) ConvertToType(t ref.Type) ref.Val { return a.view().ConvertToType(t) }

// Equal implements ref.Val.
func (a *accuList) Equal(other ref.Val) ref.Val { return a.view().Equal(other) }

// Type implements ref.Val.
func (a *accuList) Type() ref.Type { return types.ListType }

// Value implements ref.Val.
func (a *accuList) Value() any { return a.view().Value() }

func putAppendList(l *smallList) {
	*l = smallList{}
	appendLists.Put(l)
}

// putCall is m.put(k, v) without the argument slice CEL builds for a call of three arguments,
// evaluated as CEL evaluates a strict call: arguments in order, the first error, else the
// unknowns. Puts chained on it (m.put(a, x).put(b, y)…, up to maxHeaderChain) are one putCall,
// each step evaluated as its own call on the previous step's value: on a header map, whose puts
// each add a node, the nodes of the whole chain are then made in one allocation.
type putCall struct {
	recv  interpreter.InterpretableV2
	steps []putStep // in the order they apply
}

// putStep is one put of a putCall: its call's ID (its errors' position), key and value.
type putStep struct {
	id       int64
	key, val interpreter.InterpretableV2
}

// newPutCall returns recv.put(key, val), one more step of recv if recv is a putCall.
func newPutCall(id int64, recv, key, val interpreter.InterpretableV2) *putCall {
	step := putStep{id: id, key: key, val: val}
	if in, ok := recv.(*putCall); ok && len(in.steps) < maxHeaderChain {
		return &putCall{recv: in.recv, steps: append(in.steps[:len(in.steps):len(in.steps)], step)}
	}
	return &putCall{recv: recv, steps: []putStep{step}}
}

func (c *putCall) ID() int64 { return c.steps[len(c.steps)-1].id }

func (c *putCall) Eval(act interpreter.Activation) ref.Val { return evalIn(c, act) }

func (c *putCall) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	v := c.recv.Exec(frame)
	steps := c.steps
	if h, ok := v.(*headerMap); ok && h.depth+len(steps) <= maxHeaderChain {
		v, steps = c.execHeader(h, frame)
	}
	for i := range steps {
		s := &steps[i]
		k, x, failed := s.args(v, frame)
		if failed != nil {
			v = failed // the following steps return an error as it is, keep an unknown
			continue
		}
		v = labelErr(s.id, put(v, k, x))
	}
	return v
}

// execHeader runs the steps on h, a header map with room for all of them before its chain is
// flattened, adding their nodes at once. Should a step's arguments be unknown, it returns
// the unknowns and the steps left, as the calls made one by one would go on.
func (c *putCall) execHeader(h *headerMap, frame *interpreter.ExecutionFrame) (ref.Val, []putStep) {
	var keys, vals [maxHeaderChain]ref.Val
	for i := range c.steps {
		s := &c.steps[i]
		k, x, failed := s.args(h, frame)
		if failed != nil {
			if _, unk := failed.(*types.Unknown); unk {
				return failed, c.steps[i+1:]
			}
			return failed, nil
		}
		// As put checks a header map's key and value.
		if !validKey(k) {
			return labelErr(s.id, putKeyErr(k)), nil
		}
		if _, ok := x.(types.String); !ok {
			var err error
			if x, err = headerValue(x); err != nil {
				return labelErr(s.id, types.WrapErr(err)), nil
			}
		}
		keys[i], vals[i] = k, x
	}
	return h.putEach(keys[:len(c.steps)], vals[:len(c.steps)]), nil
}

// args evaluates the step's key and value after its receiver recv, as CEL evaluates a strict
// call's arguments: failed is the first error, else the unknowns merged, else nil.
func (s *putStep) args(recv ref.Val, frame *interpreter.ExecutionFrame) (key, val, failed ref.Val) {
	err, unk := unknownOrErr(recv, nil)
	if err != nil {
		return nil, nil, err
	}
	key = s.key.Exec(frame)
	if err, unk = unknownOrErr(key, unk); err != nil {
		return nil, nil, err
	}
	val = s.val.Exec(frame)
	if err, unk = unknownOrErr(val, unk); err != nil {
		return nil, nil, err
	}
	if unk != nil {
		return nil, nil, unk
	}
	return key, val, nil
}

// joinLiterals returns a decorator that applies smallLiterals, then turns
// joinStrings([a, b, …], sep), a list literal smallLiterals builds, into joinLiteral: the
// elements are joined where they are evaluated, without the list (IBM's DUO outgoing
// transforms join two such lists to sign a request).
func (lib library) joinLiterals(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
	i, err := smallLiterals(i)
	if err != nil {
		return i, err
	}
	call, ok := i.(interpreter.InterpretableCall)
	if !ok || call.OverloadID() != "joinStrings_list_string" {
		return appendCalls(i), nil
	}
	args := call.Args()
	if len(args) != 2 {
		return i, nil
	}
	lit, ok := args[0].(*smallListLiteral)
	if !ok {
		return i, nil
	}
	return &joinLiteral{id: call.ID(), elems: lit.elems, sep: args[1], lib: lib}, nil
}

// joinLiteral is joinStrings of a list literal, evaluated as CEL evaluates the call: the
// list's elements in order (the first error, else the unknowns), then the separator, then
// the join.
type joinLiteral struct {
	id    int64
	elems []interpreter.InterpretableV2
	sep   interpreter.InterpretableV2
	lib   library
}

func (j *joinLiteral) ID() int64 { return j.id }

func (j *joinLiteral) Eval(act interpreter.Activation) ref.Val { return evalIn(j, act) }

func (j *joinLiteral) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	var vals [maxSmall]ref.Val
	elems := vals[:len(j.elems)]
	if failed := execInto(elems, j.elems, frame); failed != nil {
		return failed
	}
	sep := j.sep.Exec(frame)
	switch sep.(type) {
	case *types.Err, *types.Unknown:
		return sep
	}
	s, ok := sep.(types.String)
	if !ok {
		return labelErr(j.id, types.MaybeNoSuchOverloadErr(sep))
	}
	return labelErr(j.id, j.lib.join(int64(len(elems)), func(i int64) ref.Val { return elems[i] }, s))
}

// labelErr labels an error a function returned with the call's node, as CEL does.
func labelErr(id int64, v ref.Val) ref.Val {
	if err, ok := v.(*types.Err); ok && err.NodeID() == 0 {
		return types.LabelErrNode(id, err)
	}
	return v
}

// flattenCall is l.flatten() (CEL's lists extension) made in one allocation, a smallList,
// when the result has up to maxSmall elements, or in a slice of the right size: CEL's
// grows a slice from the outer list's length and boxes it to make the list, three or
// four allocations for IBM's DUO enrollments answer (a list of each device's factors).
// Anything but a list is left to the call as CEL planned it.
type flattenCall struct {
	call interpreter.InterpretableCall
	list interpreter.InterpretableV2
}

func (f *flattenCall) ID() int64 { return f.call.ID() }

func (f *flattenCall) Eval(act interpreter.Activation) ref.Val { return evalIn(f, act) }

func (f *flattenCall) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	outer, ok := f.list.Exec(frame).(traits.Lister)
	if !ok {
		// An error, an unknown or no list: the call says what CEL says (its argument,
		// evaluated again, has no side effect).
		return f.call.Exec(frame)
	}
	n := sizeOf(outer)
	total := int64(0)
	for i := int64(0); i < n; i++ {
		if l, ok := outer.Get(types.Int(i)).(traits.Lister); ok {
			total += sizeOf(l)
		} else {
			total++
		}
	}
	var small *smallList
	var all []ref.Val
	if total <= maxSmall {
		small = &smallList{}
	} else {
		all = make([]ref.Val, 0, total)
	}
	add := func(v ref.Val) {
		if small != nil {
			small.vals[small.n] = v
			small.n++
			return
		}
		all = append(all, v)
	}
	for i := int64(0); i < n; i++ {
		e := outer.Get(types.Int(i))
		l, ok := e.(traits.Lister)
		if !ok {
			add(e)
			continue
		}
		for j, m := int64(0), sizeOf(l); j < m; j++ {
			add(l.Get(types.Int(j)))
		}
	}
	if small != nil {
		return small
	}
	return types.NewRefValList(types.DefaultTypeAdapter, all)
}
