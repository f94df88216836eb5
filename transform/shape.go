package transform

import (
	"fmt"
	"slices"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
)

// Position is a place in a transform's source: line and column, both from 1.
type Position struct{ Line, Column int }

// String is "line:column", the way emfa's messages start.
func (p Position) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Column) }

// StaticType is what the type checker knows at load of a value's type: a value read from the
// input (dyn) is TypeUnknown, known only when the transform runs.
type StaticType uint8

const (
	TypeUnknown StaticType = iota
	TypeString
	TypeMap
	TypeBool
	TypeOther
)

// A ResultMap is a map literal a transform's result may be: the whole expression, or one of
// the branches conditionals choose between, however nested. Its Entries are those whose key
// is a string literal, in source order; Computed says some other key is computed
// ({k: v}, k not a literal), so that the map may hold any key.
type ResultMap struct {
	At       Position
	Entries  []ResultEntry
	Computed bool
}

// A ResultEntry is a literal-keyed entry of a ResultMap: its key, where the key and the
// value start, and the value's static type.
type ResultEntry struct {
	Key       string
	KeyAt     Position
	ValueAt   Position
	ValueType StaticType
}

// Has reports whether m has an entry with the literal key.
func (m ResultMap) Has(key string) bool {
	return slices.ContainsFunc(m.Entries, func(e ResultEntry) bool { return e.Key == key })
}

// ResultMaps is the shape of the transform's result as its source shows it, for a caller's
// checks at load (an outgoing transform's unknown keys, an incoming one without body): the
// map literals the result may be, in source order (a conditional's true branch first), and
// whether some branch is something else (a variable, a call, {}.put(k, v)), known only when
// the transform runs.
func (p *Program) ResultMaps() (maps []ResultMap, other bool) {
	info := p.ast.SourceInfo()
	at := func(id int64) Position {
		loc := info.GetStartLocation(id)
		return Position{loc.Line(), loc.Column() + 1}
	}
	var visit func(e ast.Expr)
	visit = func(e ast.Expr) {
		switch {
		case e.Kind() == ast.MapKind:
			m := ResultMap{At: at(e.ID())}
			for _, entry := range e.AsMap().Entries() {
				k, v := entry.AsMapEntry().Key(), entry.AsMapEntry().Value()
				if k.Kind() != ast.LiteralKind {
					m.Computed = true
					continue
				}
				key, ok := k.AsLiteral().(types.String)
				if !ok { // an int or bool key: never one a caller names
					continue
				}
				m.Entries = append(m.Entries, ResultEntry{Key: string(key), KeyAt: at(k.ID()), ValueAt: at(v.ID()), ValueType: staticType(p.ast.GetType(v.ID()))})
			}
			maps = append(maps, m)
		case e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.Conditional:
			args := e.AsCall().Args()
			visit(args[1])
			visit(args[2])
		default:
			other = true
		}
	}
	visit(p.ast.Expr())
	return maps, other
}

// staticType is t as a StaticType: dyn, any, an error or a type parameter are TypeUnknown.
func staticType(t *types.Type) StaticType {
	if t == nil {
		return TypeUnknown
	}
	switch t.Kind() {
	case types.StringKind:
		return TypeString
	case types.MapKind:
		return TypeMap
	case types.BoolKind:
		return TypeBool
	case types.DynKind, types.AnyKind, types.ErrorKind, types.TypeParamKind:
		return TypeUnknown
	}
	return TypeOther
}

// Fields are the field names the transform reads of the variable name, as name.field or
// name["field"] (a literal), in the order they first appear; a field computed at run time
// (name[k]) is not among them.
func (p *Program) Fields(name string) []string {
	var fields []string
	isVar := func(e ast.Expr) bool { return e.Kind() == ast.IdentKind && e.AsIdent() == name }
	ast.PostOrderVisit(p.ast.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		var field string
		switch e.Kind() {
		case ast.SelectKind:
			if sel := e.AsSelect(); isVar(sel.Operand()) {
				field = sel.FieldName()
			}
		case ast.CallKind:
			c := e.AsCall()
			if c.FunctionName() == operators.Index && len(c.Args()) == 2 && isVar(c.Args()[0]) && c.Args()[1].Kind() == ast.LiteralKind {
				field, _ = c.Args()[1].AsLiteral().Value().(string)
			}
		}
		if field != "" && !slices.Contains(fields, field) {
			fields = append(fields, field)
		}
	}))
	return fields
}
