package lifecycle_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// auditWriters are the functions that record an administrative action, and the place of
// the action among their arguments.
var auditWriters = map[string]int{
	"AdminEvent": 2, "audit": 2, "event": 2, "record": 2, "refuse": 2, "applyAt": 2, "linkUsable": 2, "opened": 1,
}

// TestAuditActionsListed is the guard of the action list (actions.go): an action audited
// and not listed would be refused by GET /audit's filter, and missing from its OpenAPI
// enum. It reads the module's source: every Action constant is listed once; no action is
// written in place (at a call that records it, assigned to an action, or as a listed
// action's string anywhere); and every resource a store.AuditEvent is built with in
// place is listed.
func TestAuditActionsListed(t *testing.T) {
	admin, all := lifecycle.AdminActions(), lifecycle.AuditActions()
	for _, list := range [][]string{admin, all} {
		for i, a := range list {
			if slices.Index(list, a) != i {
				t.Errorf("%q is listed twice", a)
			}
		}
	}
	if want := lifecycle.AdminResource(lifecycle.ActionSelfServiceSignIn); store.ResourceSelfServiceSignIn != want {
		t.Errorf("store.ResourceSelfServiceSignIn is %q, the action's resource %q", store.ResourceSelfServiceSignIn, want)
	}

	fset := token.NewFileSet()
	declared := map[string]bool{} // the values of actions.go's Action constants
	f, err := parser.ParseFile(fset, "actions.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok {
			for i, name := range vs.Names {
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && strings.HasPrefix(name.Name, "Action") {
					v, _ := strconv.Unquote(lit.Value)
					declared[v] = true
					if !slices.Contains(admin, v) {
						t.Errorf("actions.go: %s (%q) is not in AdminActions", name.Name, v)
					}
				}
			}
		}
		return true
	})
	if len(declared) != len(admin) {
		t.Errorf("AdminActions lists %d actions, actions.go declares %d", len(admin), len(declared))
	}
	// A listed action's string, with or without "admin.", outside actions.go: written in
	// place of its constant (store cannot import lifecycle: its one is checked above).
	inPlace := map[string]bool{}
	for _, a := range admin {
		if strings.Contains(a, ".") {
			inPlace[strconv.Quote(a)] = true
		}
		inPlace[strconv.Quote(lifecycle.AdminResource(a))] = true
	}

	root := filepath.Join("..")
	var files int
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// Test data, and the test helpers outside _test files (the store's conformance
			// suite writes made-up actions to test the store).
			if name := d.Name(); name == "testdata" || name == "storetest" || name == "testdb" || (strings.HasPrefix(name, ".") && path != root) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		files++
		recorders := strings.HasPrefix(rel, "lifecycle/") || strings.HasPrefix(rel, "sync/") ||
			strings.HasPrefix(rel, "cmd/") || strings.HasPrefix(rel, "adapter/")
		where := func(n ast.Node) string { return rel + ":" + strconv.Itoa(fset.Position(n.Pos()).Line) }
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if inPlace[n.Value] && rel != "lifecycle/actions.go" && rel != "store/admin.go" {
					t.Errorf("%s: action %s written in place of its constant (lifecycle/actions.go)", where(n), n.Value)
				}
			case *ast.CallExpr:
				var name string
				switch fn := n.Fun.(type) {
				case *ast.Ident:
					name = fn.Name
				case *ast.SelectorExpr:
					name = fn.Sel.Name
				}
				if i, ok := auditWriters[name]; ok && recorders && i < len(n.Args) && hasLiteral(n.Args[i]) {
					t.Errorf("%s: %s records an action written in place: name it in lifecycle/actions.go and AdminActions", where(n), name)
				}
			case *ast.AssignStmt:
				for i, l := range n.Lhs {
					if id, ok := l.(*ast.Ident); ok && id.Name == "action" && i < len(n.Rhs) && recorders && hasLiteral(n.Rhs[i]) {
						t.Errorf("%s: an action written in place: name it in lifecycle/actions.go and AdminActions", where(n))
					}
				}
			case *ast.ValueSpec:
				for i, id := range n.Names {
					if id.Name == "action" && i < len(n.Values) && recorders && hasLiteral(n.Values[i]) {
						t.Errorf("%s: an action written in place: name it in lifecycle/actions.go and AdminActions", where(n))
					}
				}
			case *ast.CompositeLit:
				if sel, ok := n.Type.(*ast.SelectorExpr); !ok || sel.Sel.Name != "AuditEvent" {
					return true
				}
				for _, e := range n.Elts {
					kv, ok := e.(*ast.KeyValueExpr)
					if k, _ := kv.Key.(*ast.Ident); !ok || k == nil || k.Name != "Resource" {
						continue
					}
					if lit, ok := kv.Value.(*ast.BasicLit); ok {
						if v, _ := strconv.Unquote(lit.Value); !slices.Contains(all, v) {
							t.Errorf("%s: an audit row with resource %s, which AuditActions does not list", where(n), lit.Value)
						}
					} else if hasLiteral(kv.Value) {
						t.Errorf("%s: an audit row's resource made of a literal: name it in AuditActions", where(n))
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("read %d source files: not the module", files)
	}
}

// hasLiteral reports whether e is, or concatenates, a string literal.
func hasLiteral(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.BasicLit:
		return e.Kind == token.STRING
	case *ast.BinaryExpr:
		return hasLiteral(e.X) || hasLiteral(e.Y)
	case *ast.ParenExpr:
		return hasLiteral(e.X)
	}
	return false
}

// TestAuditEventTime: an audit event's time has three digits of milliseconds always, in
// UTC, so that a column of them aligns and sorts as text (RFC 3339's shortest form drops
// trailing zeros: .1Z sorts after .05Z).
func TestAuditEventTime(t *testing.T) {
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC), `"2025-03-04T05:06:07.000Z"`},
		{time.Date(2025, 3, 4, 5, 6, 7, 100*int(time.Millisecond), time.UTC), `"2025-03-04T05:06:07.100Z"`},
		{time.Date(2025, 3, 4, 5, 6, 7, 7*int(time.Millisecond), time.FixedZone("CET", 3600)), `"2025-03-04T04:06:07.007Z"`},
	} {
		b, err := json.Marshal(lifecycle.AuditEvent{Time: tc.at, Action: "validate", Outcome: "SUCCESS"})
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"time":` + tc.want + `,"action":"validate","outcome":"SUCCESS"}`; string(b) != want {
			t.Errorf("%v: %s, want %s", tc.at, b, want)
		}
	}
}
