package adapter

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// scimClause is one `attribute eq "value"` of a filter; a value filter on a multi-valued
// attribute (`emails[type eq "work"].value`, as Entra ID sends) is in selAttr, selV. A
// value given bare, not quoted (null, true, false, a number), is in literal too; null's
// value is "", the attribute unassigned.
type scimClause struct{ attr, value, selAttr, selV, literal string }

var scimClauseRE = regexp.MustCompile(`^\s*([A-Za-z][A-Za-z0-9_.:\-]*)(?:\[\s*([A-Za-z][A-Za-z0-9_]*)\s+(?i:eq)\s+"([^"\\\]]*)"\s*\](\.[A-Za-z][A-Za-z0-9_]*)?)?\s+(?i:eq)\s+(?:"((?:[^"\\]|\\.)*)"|(true|false|null|-?[0-9.]+))\s*$`)

// parseSCIMFilter reads what Entra ID and Okta send: `eq` clauses joined by `and`. Any
// other operator is refused with invalidFilter rather than matched wrongly.
func parseSCIMFilter(f string) ([]scimClause, error) {
	if strings.TrimSpace(f) == "" {
		return nil, nil
	}
	var out []scimClause
	for _, part := range splitAnd(f) {
		m := scimClauseRE.FindStringSubmatch(part)
		if m == nil {
			return nil, scimErr(400, "invalidFilter", "only `attribute eq \"value\"` clauses joined by `and` are supported")
		}
		v := m[6]
		if m[6] == "" {
			// A JSON string (RFC 7644 §3.4.2.2): `\/` and surrogate pairs too, which Go's
			// quoting does not read.
			if err := json.Unmarshal([]byte(`"`+m[5]+`"`), &v); err != nil {
				s, err := strconv.Unquote(`"` + m[5] + `"`)
				if err != nil {
					return nil, scimErr(400, "invalidFilter", "a value is not a valid JSON string")
				}
				v = s
			}
		}
		cl := scimClause{attr: strings.ToLower(m[1] + m[4]), value: v, selAttr: strings.ToLower(m[2]), selV: m[3], literal: m[6]}
		if cl.literal == "null" {
			// Unassigned (RFC 7643 §2.5: null, unassigned and empty are one state): the
			// empty value, as a resource without the attribute has it, not the text.
			cl.value = ""
		}
		out = append(out, cl)
	}
	return out, nil
}

// checkLiteral refuses a clause whose bare value the attribute cannot hold: a boolean
// or number against a string (`userName eq 12345`), a number against active. Read as
// its text it matched a user named "12345"; the filter says another type, which no
// string equals (RFC 7644 §3.4.2.2). boolAttr: the attribute is a boolean.
func checkLiteral(cl scimClause, boolAttr bool) error {
	switch {
	case cl.literal == "" || cl.literal == "null":
		return nil
	case boolAttr && (cl.literal == "true" || cl.literal == "false"):
		return nil
	case boolAttr:
		return scimErr(400, "invalidFilter", scimAttrName(cl.attr)+" is a boolean: compare it with true or false")
	}
	return scimErr(400, "invalidFilter", scimAttrName(cl.attr)+" is a string: quote the value ("+strconv.Quote(cl.literal)+")")
}

// scimAttrName is the attribute lower (as paths and filters are read, in lower case)
// as the schema spells it, for a message naming it.
func scimAttrName(lower string) string {
	var out []string
	for part := range strings.SplitSeq(lower, ".") {
		if n, ok := scimAttrNames[part]; ok {
			part = n
		}
		out = append(out, part)
	}
	return strings.Join(out, ".")
}

var scimAttrNames = map[string]string{
	"username": "userName", "externalid": "externalId", "displayname": "displayName",
	"givenname": "givenName", "familyname": "familyName", "phonenumbers": "phoneNumbers",
}

// unqualified is clauses with each attribute named by schema's URN (RFC 7644 §3.10:
// "urn:ietf:params:scim:schemas:core:2.0:User:userName") named as its short name; one of
// another schema keeps its URN, and is refused as an attribute this server cannot filter on.
func unqualified(clauses []scimClause, schema string) []scimClause {
	prefix := strings.ToLower(schema) + ":"
	for i := range clauses {
		clauses[i].attr = strings.TrimPrefix(clauses[i].attr, prefix)
	}
	return clauses
}

// splitAnd splits on ` and ` (any case) outside quotes. It compares in place: a lower-case
// copy of f need not have f's byte offsets (the Ohm sign's lower case is a byte shorter).
func splitAnd(f string) []string {
	const and = " and "
	var parts []string
	inQ, start := false, 0
	for i := 0; i < len(f); i++ {
		switch {
		case f[i] == '\\' && inQ:
			i++
		case f[i] == '"':
			inQ = !inQ
		case !inQ && len(f)-i >= len(and) && strings.EqualFold(f[i:i+len(and)], and):
			parts = append(parts, f[start:i])
			start = i + len(and)
			i = start - 1
		}
	}
	return append(parts, f[start:])
}

// scimPath is a PATCH path: an attribute, an optional `[sub eq "v"]` selector and an
// optional sub-attribute (emails[type eq "work"].value, members[value eq "id"]).
type scimPath struct {
	attr, sub     string
	selAttr, selV string
	schema        string // the URN the path names its attribute by, if it does
}

// ofSchema reports whether p names an attribute of schema: by its URN, or by none.
func (p scimPath) ofSchema(schema string) bool {
	return p.schema == "" || strings.EqualFold(p.schema, schema)
}

var scimPathRE = regexp.MustCompile(`^(?:(urn:[^ ]*):)?([A-Za-z][A-Za-z0-9_\-]*)(?:\[\s*([A-Za-z][A-Za-z0-9_]*)\s+(?i:eq)\s+"?([^"\]]*)"?\s*\])?(?:\.([A-Za-z][A-Za-z0-9_]*))?$`)

func parseSCIMPath(p string) (scimPath, error) {
	m := scimPathRE.FindStringSubmatch(strings.TrimSpace(p))
	if m == nil {
		return scimPath{}, scimErr(400, "invalidPath", "path "+strconv.Quote(p)+" is not one this server reads")
	}
	return scimPath{schema: m[1], attr: strings.ToLower(m[2]), selAttr: strings.ToLower(m[3]), selV: m[4], sub: strings.ToLower(m[5])}, nil
}

// subAttr is the sub-attribute name of a complex value (an e-mail's "value", an address's
// "country"), its name in any case: attribute names are case-insensitive (RFC 7643 §2.1),
// and one sent as "Value" must not read as none, which would clear the attribute.
func subAttr(obj map[string]any, name string) any {
	if v, ok := obj[name]; ok {
		return v
	}
	for k, v := range obj {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// scimBool reads a boolean Entra may send as a string ("False").
func scimBool(v any) (bool, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case string:
		switch strings.ToLower(b) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}
