package transform

import (
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// headerMap is a header map (map(string, list(string))) at run time. CEL dispatches on static
// types and erases type parameters at run time, so a map coming from the header variable is
// wrapped to let put and putAll tell it from other maps: on a header map they store a string as
// a one-element list, as Verify does, and return a header map again.
type headerMap struct{ traits.Mapper }

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
