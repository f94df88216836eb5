package transform

import (
	"reflect"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// headerMap is a header map (map(string, list(string))) at run time. CEL dispatches on static
// types and erases type parameters at run time, so a map coming from the header variable is
// wrapped to let put and putAll tell it from other maps: on a header map they store a string as
// a one-element list, as Verify does, and return a header map again.
//
// A put does not copy the map: the result is a node that holds the new entry and points to the
// map it was put on, whose entries with the same key (or a header name differing only in case)
// it hides. A transform chains a few puts on the header variable, and copying the whole map on
// each was most of an outgoing transform's allocations. Lookups walk the chain; iterating,
// converting and comparing such a map build it flat first. A chain longer than maxHeaderChain is
// flattened, so that a lookup stays cheap whatever the transform does.
type headerMap struct {
	// base is the map the chain starts from; only set when parent is nil.
	base traits.Mapper
	// parent is the map this node puts key to val on; nil for a base.
	parent   *headerMap
	key, val ref.Val
	depth    int
	// size is the number of entries of a base; a node's is counted when asked for (Size),
	// which a transform seldom does, rather than on every put.
	size int64
	// one is the one-element list a string value becomes, in the node's own allocation.
	one smallList
}

// maxHeaderChain bounds the puts chained on a header map before it is flattened.
const maxHeaderChain = 16

// newHeaderMap marks m as a header map.
func newHeaderMap(m traits.Mapper) *headerMap {
	if h, ok := m.(*headerMap); ok {
		return h
	}
	return &headerMap{base: m, size: sizeOf(m)}
}

// put returns h with key set to val, val a header value (a string is stored as a one-element
// list), replacing the entries whose keys are key or differ from it only in case.
func (h *headerMap) put(key, val ref.Val) ref.Val {
	if h.depth >= maxHeaderChain {
		f := h.flat()
		h = &headerMap{base: f, size: sizeOf(f)}
	}
	if _, ok := val.(types.String); !ok {
		var err error
		if val, err = headerValue(val); err != nil {
			return types.WrapErr(err)
		}
	}
	n := &headerMap{}
	n.link(h, key, val)
	return n
}

// putEach returns h with each key set to its value in turn, as chained puts do, its nodes made
// in one allocation. The values are header values already (strings, or lists headerValue
// accepted), and h has room for them: h.depth+len(keys) <= maxHeaderChain.
func (h *headerMap) putEach(keys, vals []ref.Val) *headerMap {
	nodes := make([]headerMap, len(keys))
	for i := range nodes {
		nodes[i].link(h, keys[i], vals[i])
		h = &nodes[i]
	}
	return h
}

// link makes n the node putting key to val on h, val a string or a list headerValue accepted.
func (n *headerMap) link(h *headerMap, key, val ref.Val) {
	*n = headerMap{parent: h, key: key, val: val, depth: h.depth + 1}
	if _, ok := val.(types.String); ok {
		n.val = n.one.oneString(val)
	}
}

// each calls fn for every entry of h until fn returns an error.
func (h *headerMap) each(fn func(k, v ref.Val) error) error {
	n := h
	for ; n.parent != nil; n = n.parent {
		if h.hides(n, n.key) {
			continue
		}
		if err := fn(n.key, n.val); err != nil {
			return err
		}
	}
	if n == h {
		return eachEntry(n.base, fn)
	}
	return eachEntry(n.base, func(k, v ref.Val) error {
		if h.hides(n, k) {
			return nil
		}
		return fn(k, v)
	})
}

// hides reports whether a node of h's chain above n replaces n's key k.
func (h *headerMap) hides(n *headerMap, k ref.Val) bool {
	for a := h; a != n; a = a.parent {
		if sameKey(k, a.key, true) {
			return true
		}
	}
	return false
}

// flat returns h as one map: the base itself, or a map built from the chain.
func (h *headerMap) flat() traits.Mapper {
	if h.parent == nil {
		return h.base
	}
	out := make(map[ref.Val]ref.Val, h.sizeBound())
	_ = h.each(func(k, v ref.Val) error {
		out[k] = v
		return nil
	})
	return types.NewRefValMap(types.DefaultTypeAdapter, out)
}

// Find implements traits.Mapper. A string key is looked up along the chain: a node whose key
// differs from it only in case hid any such entry below. Other keys (CEL also finds 1 under
// 1.0) are left to a flat map.
func (h *headerMap) Find(key ref.Val) (ref.Val, bool) {
	if h.parent == nil {
		return h.base.Find(key)
	}
	s, ok := key.(types.String)
	if !ok {
		return h.flat().Find(key)
	}
	n := h
	for ; n.parent != nil; n = n.parent {
		if ks, ok := n.key.(types.String); ok {
			if ks == s {
				return n.val, true
			}
			if sameKey(ks, s, true) {
				return nil, false
			}
		}
	}
	return n.base.Find(key)
}

// Get implements traits.Indexer as CEL's maps do.
func (h *headerMap) Get(key ref.Val) ref.Val {
	v, found := h.Find(key)
	if !found {
		return types.ValOrErr(v, "no such key: %v", key)
	}
	return v
}

// Contains implements traits.Container as CEL's maps do.
func (h *headerMap) Contains(key ref.Val) ref.Val {
	_, found := h.Find(key)
	return types.Bool(found)
}

// Size implements traits.Sizer.
func (h *headerMap) Size() ref.Val {
	if h.parent == nil {
		return h.base.Size()
	}
	var n int64
	_ = h.each(func(ref.Val, ref.Val) error {
		n++
		return nil
	})
	return types.Int(n)
}

// sizeBound is at least the number of entries of h: those of its base and one per put.
func (h *headerMap) sizeBound() int {
	n := h
	for n.parent != nil {
		n = n.parent
	}
	return int(n.size) + h.depth
}

// Iterator implements traits.Iterable.
func (h *headerMap) Iterator() traits.Iterator { return h.flat().Iterator() }

// ConvertToNative implements ref.Val.
func (h *headerMap) ConvertToNative(t reflect.Type) (any, error) { return h.flat().ConvertToNative(t) }

// ConvertToType implements ref.Val.
func (h *headerMap) ConvertToType(t ref.Type) ref.Val { return h.flat().ConvertToType(t) }

// Equal implements ref.Val.
func (h *headerMap) Equal(other ref.Val) ref.Val { return h.flat().Equal(other) }

// Type implements ref.Val.
func (h *headerMap) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (h *headerMap) Value() any { return h.flat().Value() }

// headerValue checks a value stored into a header map, turning a string into a one-element list.
func headerValue(v ref.Val) (ref.Val, error) {
	switch v := v.(type) {
	case types.String:
		return types.NewStringList(types.DefaultTypeAdapter, []string{string(v)}), nil
	case traits.Lister:
		for it := v.Iterator(); it.HasNext() == types.True; {
			if _, ok := it.Next().(types.String); !ok {
				return nil, errHeaderValue
			}
		}
		return v, nil
	}
	return nil, errHeaderValue
}
