package delivery

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Placeholders a Template may use.
const (
	VarCode    = "code"
	VarUser    = "user"
	VarMinutes = "minutes"
)

// Template is a message with placeholders, "Your code is {{code}}". It is deliberately not
// text/template: an operator writes it, and it can do nothing but substitute the three
// values, so a typo is found when the configuration loads rather than when a user waits for
// a code. A Template is immutable and safe for concurrent use.
type Template struct {
	parts []part
	size  int // length of the literal text, to size the output once
}

// part is literal text, or a placeholder when name is set.
type part struct {
	text string
	name string
	// unit is the word " minutes" right after a {{minutes}}, taken from the literal that
	// follows: it agrees with the number ("1 minute"), which the default templates'
	// "It expires in {{minutes}} minutes." did not, at a lifetime of a minute or less.
	unit bool
}

// minutesWord is the unit a {{minutes}} placeholder may be followed by; its singular is
// without the final s.
const minutesWord = " minutes"

// ParseTemplate parses s. A placeholder is {{name}}, spaces inside the braces allowed, with
// name one of code, user and minutes; any other name, and an unclosed "{{", are errors. Text
// outside placeholders, single braces included, is kept as it is.
func ParseTemplate(s string) (*Template, error) {
	t := &Template{}
	rest := s
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			t.literal(rest)
			return t, nil
		}
		t.literal(rest[:i])
		end := strings.Index(rest[i+2:], "}}")
		if end < 0 {
			return nil, fmt.Errorf("template: unclosed {{ at offset %d", len(s)-len(rest)+i)
		}
		name := strings.TrimSpace(rest[i+2 : i+2+end])
		switch name {
		case VarCode, VarUser, VarMinutes:
		default:
			return nil, fmt.Errorf("template: unknown placeholder {{%s}} at offset %d (want code, user or minutes)",
				name, len(s)-len(rest)+i)
		}
		p := part{name: name}
		rest = rest[i+2+end+2:]
		if name == VarMinutes && strings.HasPrefix(rest, minutesWord) && !startsWithLetter(rest[len(minutesWord):]) {
			p.unit = true
			rest = rest[len(minutesWord):]
			t.size += len(minutesWord)
		}
		t.parts = append(t.parts, p)
	}
}

func (t *Template) literal(s string) {
	if s != "" {
		t.parts = append(t.parts, part{text: s})
		t.size += len(s)
	}
}

// Render substitutes vars (keyed by VarCode, VarUser, VarMinutes) into the template; a
// placeholder missing from vars renders as nothing. The word " minutes" right after
// {{minutes}} is " minute" when it renders "1".
func (t *Template) Render(vars map[string]string) string {
	var b strings.Builder
	b.Grow(t.size + 16)
	for _, p := range t.parts {
		if p.name != "" {
			v := vars[p.name]
			b.WriteString(v)
			if p.unit {
				if v == "1" {
					b.WriteString(minutesWord[:len(minutesWord)-1])
				} else {
					b.WriteString(minutesWord)
				}
			}
		} else {
			b.WriteString(p.text)
		}
	}
	return b.String()
}

// startsWithLetter reports whether s begins with a letter or digit: the word before it
// goes on ("minutesX" is not the unit).
func startsWithLetter(s string) bool {
	r, size := utf8.DecodeRuneInString(s)
	return size > 0 && (unicode.IsLetter(r) || unicode.IsDigit(r))
}
