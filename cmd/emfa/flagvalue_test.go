package main

import (
	"strings"
	"testing"
)

// A flag given a value of the wrong kind printed pflag's and strconv's words:
// `invalid argument "maybe" for "--strict" flag: strconv.ParseBool: parsing "maybe":
// invalid syntax`, naming Go's parser and not what the flag takes. The refusal now says
// what is accepted, still a usage error (exit 2).
func TestFlagValueSaysWhatIsAccepted(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"check", "--strict=maybe"}, []string{`--strict: "maybe" is not true or false`, "--strict=false"}},
		{[]string{"serve", "--print-secrets=no pe"}, []string{`--print-secrets: "no pe" is not true or false`, "--print-secrets=false"}},
		{[]string{"audit", "--limit", "ten"}, []string{`--limit: "ten" is not a whole number`}},
		{[]string{"totp", "code", "--secret", "GEZDGNBVGY3TQOJQ", "--time", "99999999999999999999"}, []string{`--time: "99999999999999999999" is out of range`}},
		{[]string{"check", "--config", ""}, []string{"--config: empty (an unset variable?)"}},
	} {
		code, out, errOut := emfa(t, c.args...)
		if code != 2 || out != "" {
			t.Errorf("%v: exit %d, stdout %q; want 2 and nothing", c.args, code, out)
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%v: the refusal does not say %q:\n%s", c.args, w, errOut)
			}
		}
		for _, bad := range []string{"strconv", "invalid syntax", "invalid argument"} {
			if strings.Contains(errOut, bad) {
				t.Errorf("%v: the refusal says %q, Go's words:\n%s", c.args, bad, errOut)
			}
		}
	}
}
