package transcript

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzParse reads transcripts: whatever the YAML, Parse answers a transcript or an error
// (no panic), and a transcript it accepts survives Marshal and Parse again.
func FuzzParse(f *testing.F) {
	paths, _ := filepath.Glob("../testdata/transcripts/*.yaml")
	for _, p := range paths {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("name: x\nconfig: '{}'\nsteps: [{advance: 30s}]\n"))
	f.Add([]byte("name: x\nconfigFile: c.yaml\nsteps: [{call: {resource: validate, raw: '{'}, expect: {status: 400, body: '<absent>'}}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		tr, err := Parse(data)
		if err != nil {
			return
		}
		out, err := Marshal(tr)
		if err != nil {
			t.Fatalf("an accepted transcript does not marshal: %v", err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("a marshalled transcript does not parse: %v\n%s", err, out)
		}
	})
}

// FuzzExpand runs the ${...} expansion and the <...> matchers of transcript steps on
// arbitrary text: an error or a value, never a panic.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"${tx}", "${totp(GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ, 8)}", "${hotp(GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ, 1)}",
		"${sent(+15550100)}", "<re:^[a-z]+$>", "<capture:tx>", "<any>", "<absent>", "${totp(A, 99999999999)}", "<re:(>"} {
		f.Add(s, "abc")
	}
	f.Fuzz(func(t *testing.T, expr, got string) {
		sc := &scope{vars: map[string]string{"tx": "abc"}, env: clockEnv{now: time.Unix(59, 0)}}
		sc.expand(expr)
		sc.match("body", map[string]any{"v": expr}, map[string]any{"v": got})
	})
}
