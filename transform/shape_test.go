package transform

import (
	"testing"

	"cel.dev/cel-go/cel"
	"github.com/google/go-cmp/cmp"
)

func TestResultMaps(t *testing.T) {
	env, err := NewEnv(Outgoing)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		src   string
		maps  []ResultMap
		other bool
	}{
		{
			src: `{"path": "/x", "header": {}, 1: 2}`,
			maps: []ResultMap{{At: Position{1, 1}, Entries: []ResultEntry{
				{Key: "path", KeyAt: Position{1, 2}, ValueAt: Position{1, 10}, ValueType: TypeString},
				{Key: "header", KeyAt: Position{1, 16}, ValueAt: Position{1, 26}, ValueType: TypeMap},
			}}},
		},
		{
			src: "body.a == 1 ? {\"x\": body.b} :\n  body.a == 2 ? {body.k: 1} : body",
			maps: []ResultMap{
				{At: Position{1, 15}, Entries: []ResultEntry{{Key: "x", KeyAt: Position{1, 16}, ValueAt: Position{1, 25}, ValueType: TypeUnknown}}}, // a selection is placed at its dot
				{At: Position{2, 17}, Computed: true},
			},
			other: true,
		},
		{src: `{}.put("a", 1)`, other: true},
		{src: `{"b": true, "c": 1}`, maps: []ResultMap{{At: Position{1, 1}, Entries: []ResultEntry{
			{Key: "b", KeyAt: Position{1, 2}, ValueAt: Position{1, 7}, ValueType: TypeBool},
			{Key: "c", KeyAt: Position{1, 13}, ValueAt: Position{1, 18}, ValueType: TypeOther},
		}}}},
	} {
		prg, err := Compile(env, tc.src)
		if err != nil {
			t.Fatalf("Compile(%s): %v", tc.src, err)
		}
		maps, other := prg.ResultMaps()
		if diff := cmp.Diff(tc.maps, maps); diff != "" || other != tc.other {
			t.Errorf("ResultMaps(%s): other %v, want %v; maps (-want +got):\n%s", tc.src, other, tc.other, diff)
		}
	}
}

func TestFields(t *testing.T) {
	env, err := NewEnvWithVariables(map[string]*cel.Type{"steps": cel.MapType(cel.StringType, cel.DynType), "k": cel.StringType})
	if err != nil {
		t.Fatal(err)
	}
	prg, err := Compile(env, `{"body": [steps.a.id, steps["b"], steps[k], steps.a.x, {"steps": 1}.steps, steps.c]}`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := prg.Fields("steps"), []string{"a", "b", "c"}; !cmp.Equal(got, want) {
		t.Errorf("Fields(steps) = %q, want %q", got, want)
	}
	if got := prg.Fields("k"); len(got) != 0 {
		t.Errorf("Fields(k) = %q, want none", got)
	}
}
