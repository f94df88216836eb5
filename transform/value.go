package transform

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"time"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// Value is a variable's value converted to CEL once, so that a caller evaluating several
// transforms over the same data (a call's outgoing and incoming transforms both see Verify's
// payload) converts it once, and an evaluation reads it without converting again. It is also
// what EvalValue returns: a transform's result, read without building Go maps. A Value is
// immutable and safe for concurrent use; the zero Value is CEL null.
type Value struct {
	v ref.Val
	// size is the largest length of a string (in bytes), list or map reachable from v; Eval
	// skips runtime cost tracking when every input is small enough for the static estimate to
	// bound the cost. unknownSize when it cannot tell.
	size uint64
}

// unknownSize marks a value whose size was not measured.
const unknownSize = math.MaxUint64

// NewValue converts a JSON-like Go value (what DecodeJSON returns, or maps, slices, strings,
// numbers, booleans, nil, json.Number, time.Time) to CEL once. A value of another type is handed
// to CEL's own type adapter.
func NewValue(v any) Value {
	val, size := toCEL(v)
	return Value{v: val, size: size}
}

// Now is t for the now variable, converted once: a time.Time in Vars is boxed twice, as an
// any and again as a CEL timestamp, on every evaluation.
func Now(t time.Time) any { return types.Timestamp{Time: t.UTC()} }

// NewHeaderValue converts a header map for the header variable (or a request's header entry):
// put and putAll then store a string as a one-element list.
func NewHeaderValue(h map[string][]string) Value {
	val, size := headerToCEL(h)
	return Value{v: val, size: size}
}

// celValue is v as an activation holds it: null for the zero Value.
func (v Value) celValue() ref.Val {
	if v.v == nil {
		return types.NullValue
	}
	return v.v
}

// toCEL converts a Go value to CEL, measuring the largest string, list or map in it. Maps and
// lists are converted deeply, so that reading a nested field during evaluation costs no
// conversion.
func toCEL(v any) (ref.Val, uint64) {
	switch x := v.(type) {
	case nil:
		return types.NullValue, 0
	case Value:
		return x.celValue(), x.size
	case string:
		return types.String(x), uint64(len(x))
	case bool:
		return types.Bool(x), 0
	case int:
		return types.Int(x), 0
	case int32:
		return types.Int(x), 0
	case int64:
		return types.Int(x), 0
	case uint:
		return types.Uint(x), 0
	case uint32:
		return types.Uint(x), 0
	case uint64:
		return types.Uint(x), 0
	case float32:
		return types.Double(x), 0
	case float64:
		return types.Double(x), 0
	case json.Number:
		n, err := number(x)
		if err != nil {
			return types.WrapErr(err), 0
		}
		return toCEL(n)
	case time.Time:
		return types.Timestamp{Time: x}, 0
	case time.Duration:
		return types.Duration{Duration: x}, 0
	case map[string]any:
		size := uint64(len(x))
		if len(x) <= maxSmall {
			m := &smallMap{}
			for k, e := range x {
				ev, es := toCEL(e)
				m.keys[m.n], m.vals[m.n] = k, ev
				m.n++
				size = max(size, es, uint64(len(k)))
			}
			return m, size
		}
		m := make(map[string]ref.Val, len(x))
		for k, e := range x {
			ev, es := toCEL(e)
			m[k] = ev
			size = max(size, es, uint64(len(k)))
		}
		return types.NewMap(types.DefaultTypeAdapter, m), size
	case []any:
		size := uint64(len(x))
		l := make([]ref.Val, len(x))
		for i, e := range x {
			ev, es := toCEL(e)
			l[i] = ev
			size = max(size, es)
		}
		return types.NewRefValList(types.DefaultTypeAdapter, l), size
	case map[string]string:
		size := uint64(len(x))
		if len(x) <= maxSmall {
			m := &smallMap{}
			for k, e := range x {
				m.keys[m.n], m.vals[m.n] = k, types.String(e)
				m.n++
				size = max(size, uint64(len(k)), uint64(len(e)))
			}
			return m, size
		}
		m := make(map[string]ref.Val, len(x))
		for k, e := range x {
			m[k] = types.String(e)
			size = max(size, uint64(len(k)), uint64(len(e)))
		}
		return types.NewMap(types.DefaultTypeAdapter, m), size
	case []string:
		return types.NewStringList(types.DefaultTypeAdapter, x), stringsSize(x)
	case http.Header:
		return toCEL(map[string][]string(x))
	case map[string][]string:
		size := uint64(len(x))
		m := make(map[string]ref.Val, len(x))
		for k, vs := range x {
			m[k] = types.NewStringList(types.DefaultTypeAdapter, vs)
			size = max(size, uint64(len(k)), stringsSize(vs))
		}
		return types.NewMap(types.DefaultTypeAdapter, m), size
	case ref.Val:
		return x, unknownSize
	}
	return types.DefaultTypeAdapter.NativeToValue(v), unknownSize
}

func stringsSize(ss []string) uint64 {
	size := uint64(len(ss))
	for _, s := range ss {
		size = max(size, uint64(len(s)))
	}
	return size
}

// headerToCEL converts a header value given by the caller (http.Header, map[string][]string, a
// Value, a CEL map, or nil) into a headerMap.
func headerToCEL(v any) (ref.Val, uint64) {
	switch h := v.(type) {
	case nil:
		return newHeaderMap(types.NewMap(types.DefaultTypeAdapter, map[string]ref.Val{})), 0
	case http.Header:
		return headerToCEL(map[string][]string(h))
	case map[string][]string:
		// Keys as CEL values: put copies the map entry by entry, and would box string keys on
		// every copy.
		size := uint64(len(h))
		if len(h) <= maxSmall {
			// A request's few headers: the header map and its base, a record, in one
			// allocation, where a CEL map of them costs four.
			b := new(struct {
				h    headerMap
				rec  record
				keys [maxSmall]ref.Val
			})
			i := 0
			for k, vs := range h {
				b.keys[i] = types.String(k)
				b.rec.vals[i] = types.NewStringList(types.DefaultTypeAdapter, vs)
				size = max(size, uint64(len(k)), stringsSize(vs))
				i++
			}
			b.rec.keys = b.keys[:i]
			b.h = headerMap{base: &b.rec, size: int64(i)}
			return &b.h, size
		}
		m := make(map[ref.Val]ref.Val, len(h))
		for k, vs := range h {
			m[types.String(k)] = types.NewStringList(types.DefaultTypeAdapter, vs)
			size = max(size, uint64(len(k)), stringsSize(vs))
		}
		return newHeaderMap(types.NewRefValMap(types.DefaultTypeAdapter, m)), size
	case Value:
		if m, ok := h.v.(traits.Mapper); ok {
			return newHeaderMap(m), h.size
		}
		return nil, 0
	}
	val, size := toCEL(v)
	if m, ok := val.(traits.Mapper); ok {
		return newHeaderMap(m), size
	}
	return nil, 0
}

// Field returns the entry name of a map Value.
func (v Value) Field(name string) (Value, bool) {
	var e ref.Val
	var found bool
	// The maps emfa builds are searched by the name itself: boxed as a types.String for
	// Find, it was an allocation a field (four on every initiate: the answer's body,
	// status, transactionId and attributes).
	switch m := v.v.(type) {
	case *record:
		e, found = m.findString(name)
	case *smallMap:
		e, found = m.findString(name)
	case traits.Mapper:
		e, found = m.Find(types.String(name))
	default:
		return Value{}, false
	}
	if !found {
		return Value{}, false
	}
	return Value{v: e, size: v.size}, true
}

// Text returns the string a Value holds.
func (v Value) Text() (string, bool) {
	s, ok := v.v.(types.String)
	return string(s), ok
}

// Bool returns the boolean a Value holds.
func (v Value) Bool() (bool, bool) {
	b, ok := v.v.(types.Bool)
	return bool(b), ok
}

// IsNull reports whether v is null.
func (v Value) IsNull() bool {
	_, ok := v.celValue().(types.Null)
	return ok
}

// IsMap reports whether v is a map.
func (v Value) IsMap() bool {
	_, ok := v.v.(traits.Mapper)
	return ok
}

// errNotMap and errNotList are returned by Entries and Elems.
var (
	errNotMap  = errors.New("not a map")
	errNotList = errors.New("not a list")
)

// Entries calls fn for every entry of a map Value, keys rendered as JSON object keys (integers
// and booleans as their text), in no particular order, until fn returns an error.
func (v Value) Entries(fn func(key string, e Value) error) error {
	m, ok := v.v.(traits.Mapper)
	if !ok {
		return errNotMap
	}
	return eachEntry(m, func(k, e ref.Val) error {
		ks, err := mapKey(k)
		if err != nil {
			return err
		}
		return fn(ks, Value{v: e, size: v.size})
	})
}

// Elems calls fn for every element of a list Value in order, until fn returns an error.
func (v Value) Elems(fn func(e Value) error) error {
	l, ok := v.v.(traits.Lister)
	if !ok {
		return errNotList
	}
	return eachElem(l, func(_ int, e ref.Val) error { return fn(Value{v: e, size: v.size}) })
}

// Len returns the number of elements of a list Value, or of entries of a map Value; ok is
// false for any other Value. A caller copying a list out of a Value sizes its slice with it.
func (v Value) Len() (n int, ok bool) {
	s, ok := v.v.(traits.Sizer)
	if !ok {
		return 0, false
	}
	switch v.v.(type) {
	case traits.Lister, traits.Mapper:
		return int(sizeOf(s)), true
	}
	return 0, false // a string or bytes has a size too
}

// Interface converts v to plain Go values as Eval returns them: map[string]any, []any, string,
// int64, uint64, float64, bool and nil.
// An error names no map key (hideKeys): one may come from the input.
func (v Value) Interface() (any, error) {
	x, err := toJSON(v.celValue())
	if err != nil && err != errResultTooLarge {
		return nil, errors.New(hideKeys(err.Error()))
	}
	return x, err
}

// eachEntry calls fn for every entry of m. The maps CEL builds and those NewValue makes are walked
// directly, without an iterator or a lookup per key.
func eachEntry(m traits.Mapper, fn func(k, v ref.Val) error) error {
	switch m := m.(type) {
	case *headerMap:
		return m.each(fn)
	case *record:
		return m.each(fn)
	case *smallMap:
		return m.each(fn)
	}
	switch g := m.Value().(type) {
	case map[ref.Val]ref.Val:
		for k, e := range g {
			if err := fn(k, e); err != nil {
				return err
			}
		}
		return nil
	case map[string]ref.Val:
		for k, e := range g {
			if err := fn(types.String(k), e); err != nil {
				return err
			}
		}
		return nil
	}
	for it := m.Iterator(); it.HasNext() == types.True; {
		k := it.Next()
		if err := fn(k, m.Get(k)); err != nil {
			return err
		}
	}
	return nil
}

// eachElem calls fn for every element of l in order.
func eachElem(l traits.Lister, fn func(i int, e ref.Val) error) error {
	n := sizeOf(l)
	for i := int64(0); i < n; i++ {
		if err := fn(int(i), l.Get(types.Int(i))); err != nil {
			return err
		}
	}
	return nil
}

// String describes v's type for error messages, never its content.
func (v Value) String() string {
	return fmt.Sprintf("transform.Value(%s)", v.celValue().Type().TypeName())
}

// smallMap is a Go map of up to maxSmall entries (a request's body, its attributes, the
// authentication values) converted to CEL in one allocation, where a CEL map of it costs
// three (the Go map, its entries, the CEL map). Lookups by string and size read it directly;
// anything else is done by the CEL map toCEL made before (flat), so it behaves as that map.
type smallMap struct {
	n    int
	keys [maxSmall]string
	vals [maxSmall]ref.Val
}

func (m *smallMap) flat() traits.Mapper {
	out := make(map[string]ref.Val, m.n)
	for i, k := range m.keys[:m.n] {
		out[k] = m.vals[i]
	}
	return types.NewMap(types.DefaultTypeAdapter, out)
}

// each calls fn for every entry of m until fn returns an error.
func (m *smallMap) each(fn func(k, v ref.Val) error) error {
	for i, k := range m.keys[:m.n] {
		if err := fn(types.String(k), m.vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// Find implements traits.Mapper. Keys other than strings are left to the flat map, which
// finds what CEL's map finds.
func (m *smallMap) Find(key ref.Val) (ref.Val, bool) {
	s, ok := key.(types.String)
	if !ok {
		return m.flat().Find(key)
	}
	return m.findString(string(s))
}

// findString is Find of a string key, unboxed.
func (m *smallMap) findString(s string) (ref.Val, bool) {
	for i, k := range m.keys[:m.n] {
		if k == s {
			return m.vals[i], true
		}
	}
	return nil, false
}

// Get implements traits.Indexer as CEL's maps do.
func (m *smallMap) Get(key ref.Val) ref.Val {
	v, found := m.Find(key)
	if !found {
		return types.ValOrErr(v, "no such key: %v", key)
	}
	return v
}

// Contains implements traits.Container as CEL's maps do.
func (m *smallMap) Contains(key ref.Val) ref.Val {
	_, found := m.Find(key)
	return types.Bool(found)
}

// Size implements traits.Sizer.
func (m *smallMap) Size() ref.Val { return types.Int(m.n) }

// IsZeroValue implements traits.Zeroer.
func (m *smallMap) IsZeroValue() bool { return m.n == 0 }

// Iterator implements traits.Iterable.
func (m *smallMap) Iterator() traits.Iterator { return m.flat().Iterator() }

// ConvertToNative implements ref.Val.
func (m *smallMap) ConvertToNative(t reflect.Type) (any, error) { return m.flat().ConvertToNative(t) }

// ConvertToType implements ref.Val.
func (m *smallMap) ConvertToType(t ref.Type) ref.Val { return m.flat().ConvertToType(t) }

// Equal implements ref.Val.
func (m *smallMap) Equal(other ref.Val) ref.Val { return m.flat().Equal(other) }

// Type implements ref.Val.
func (m *smallMap) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (m *smallMap) Value() any { return m.flat().Value() }
