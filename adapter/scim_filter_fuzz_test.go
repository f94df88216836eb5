package adapter

import (
	"strings"
	"testing"
)

// FuzzSCIMFilter: a directory's filter and PATCH path, whatever their bytes, are parsed or
// refused with a SCIM error, never a panic; what parses holds no clause with an empty
// attribute.
func FuzzSCIMFilter(f *testing.F) {
	for _, s := range []string{
		`userName eq "alice"`,
		`userName eq "a and b" and active eq true`,
		`externalId eq "x\"y" AND displayName eq "Z"`,
		`members[value eq "id"]`,
		`emails[type eq "work"].value`,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName`,
		"userName eq \"x\"\u2126\u2126", // the Ohm sign: its lower case is a byte shorter
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		clauses, err := parseSCIMFilter(s)
		if err == nil {
			for _, c := range clauses {
				if c.attr == "" {
					t.Errorf("%q: a clause without an attribute", s)
				}
			}
		} else if _, ok := err.(*scimError); !ok {
			t.Errorf("%q: %T, not a SCIM error", s, err)
		}
		if _, err := parseSCIMPath(s); err != nil && !strings.Contains(err.Error(), "path") {
			t.Errorf("%q: path error %v", s, err)
		}
	})
}
