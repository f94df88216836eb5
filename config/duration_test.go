package config

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDurationErrorsSayWhatParses: the refusal of a duration without a unit
// suggests only what would parse, and one past the largest duration says so: "1e9 has no
// unit: write 1e+09s" suggested a value refused in turn (as 0x10s and 1_000s), and
// 99999999999h was "must be a duration such as 30s", which it looks like.
func TestDurationErrorsSayWhatParses(t *testing.T) {
	suggested := regexp.MustCompile(`write (\S+) \(or ms, m, h\)`)
	for _, tc := range []struct{ written, env, want string }{
		{written: "5", want: "5 has no unit: write 5s"},
		{written: "1.5", want: "1.5 has no unit: write 1.5s"},
		{written: "1e9", want: "1e9 has no unit"},
		{written: "0x10", want: "0x10 has no unit"},
		{written: "1_000", want: "1_000 has no unit"},
		{env: "1e9", want: "1e9 has no unit"},
		{written: "99999999999h", want: "out of range: at most 2562047h"},
		{env: "-99999999999h", want: "out of range: at most 2562047h"},
	} {
		doc, vars := minimalYAML, map[string]string{}
		if tc.env != "" {
			vars["EMFA_SYNC_SETTLE"] = tc.env
		} else {
			doc += "sync: {settle: " + tc.written + "}\n"
		}
		_, err := Parse([]byte(doc), "yaml", env(vars))
		if err == nil || !strings.Contains(err.Error(), "sync.settle: "+tc.want) {
			t.Errorf("%s%s: got %v, want sync.settle: %s", tc.written, tc.env, err, tc.want)
			continue
		}
		if m := suggested.FindStringSubmatch(err.Error()); m != nil {
			if _, perr := time.ParseDuration(m[1]); perr != nil {
				t.Errorf("%s%s: suggests %s, which does not parse: %v", tc.written, tc.env, m[1], err)
			}
		}
	}
}
