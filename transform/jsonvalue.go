package transform

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// DecodeJSONValue is NewValue(DecodeJSON(data)) without the Go maps and slices in between:
// a vendor's answer, decoded on every mediated call, goes straight to the CEL values the
// incoming transform reads. It accepts and rejects what encoding/json does and gives the
// same values: strings unquoted as encoding/json does (invalid UTF-8 and lone surrogates
// become U+FFFD), the last of repeated keys, numbers as DecodeJSON gives them, and the
// same size. FuzzDecodeJSONValue holds it to that.
func DecodeJSONValue(data []byte) (Value, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Value{v: types.NewMap(types.DefaultTypeAdapter, map[string]ref.Val{})}, nil
	}
	// Room for a vendor's usual answer, so that the stacks do not grow a step at a time.
	// text is data copied once: its strings without escapes are slices of it, not an
	// allocation each (a vendor's answer is mostly such keys and values).
	// The members' stack is pooled, the elements' made only once an array comes: a
	// vendor's answer of objects alone allocates neither.
	stack := jsonStacks.Get().(*[]jsonEntry)
	d := jsonDecoder{data: data, text: string(data), entries: (*stack)[:0]}
	defer func() {
		if cap(d.entries) <= maxPooledEntries {
			clear(d.entries[:cap(d.entries)]) // the pool keeps no value of this answer
			*stack = d.entries[:0]
			jsonStacks.Put(stack)
		}
	}()
	d.space()
	v, size, err := d.value(0)
	if errors.Is(err, errNumberRange) {
		// A number beyond float64 fails only if it stays: as encoding/json, the last of
		// repeated keys wins, and a value it replaced is never converted. Rare enough to
		// leave to the reference decoder.
		ref, err := DecodeJSON(data)
		if err != nil {
			return Value{}, err
		}
		return NewValue(ref), nil
	}
	if err != nil {
		return Value{}, fmt.Errorf("transform: decode json: %w", err)
	}
	if d.space(); d.i != len(d.data) {
		return Value{}, errors.New("transform: decode json: data after the top-level value")
	}
	return Value{v: v, size: size}, nil
}

// jsonStacks are decoders' stacks of object members, reused: one allocation a decode,
// every mediated call. One grown past maxPooledEntries (a huge answer) is left to the GC.
var jsonStacks = sync.Pool{New: func() any {
	s := make([]jsonEntry, 0, 16)
	return &s
}}

const maxPooledEntries = 1024

// maxJSONDepth is encoding/json's bound on nested arrays and objects.
const maxJSONDepth = 10000

// jsonDecoder reads one JSON value at a time from data, from i on.
type jsonDecoder struct {
	data    []byte
	text    string // data as a string, to slice unescaped strings from
	i       int
	entries []jsonEntry // a stack of the members of the objects being read
	elems   []ref.Val   // a stack of the elements of the arrays being read
	buf     []byte      // unquoting
}

type jsonEntry struct {
	key  string
	v    ref.Val
	size uint64
}

var (
	errJSONEnd     = errors.New("unexpected end of JSON input")
	errNumberRange = errors.New("number out of range")
)

func (d *jsonDecoder) space() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonDecoder) errAt(what string) error {
	if d.i >= len(d.data) {
		return errJSONEnd
	}
	return fmt.Errorf("invalid character %q %s (offset %d)", d.data[d.i], what, d.i)
}

// value reads the value at i, inside depth arrays and objects.
func (d *jsonDecoder) value(depth int) (ref.Val, uint64, error) {
	if d.i >= len(d.data) {
		return nil, 0, errJSONEnd
	}
	switch c := d.data[d.i]; {
	case c == '{' || c == '[':
		if depth >= maxJSONDepth {
			return nil, 0, errors.New("exceeded max depth")
		}
		d.i++
		d.space()
		if c == '{' {
			return d.object(depth + 1)
		}
		return d.array(depth + 1)
	case c == '"':
		s, err := d.str()
		return types.String(s), uint64(len(s)), err
	case c == 't':
		return types.True, 0, d.literal("true")
	case c == 'f':
		return types.False, 0, d.literal("false")
	case c == 'n':
		return types.NullValue, 0, d.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		v, err := d.number()
		return v, 0, err
	}
	return nil, 0, d.errAt("looking for beginning of value")
}

func (d *jsonDecoder) literal(word string) error {
	for j := 0; j < len(word); j++ {
		if d.i >= len(d.data) || d.data[d.i] != word[j] {
			return d.errAt("in literal " + word)
		}
		d.i++
	}
	return nil
}

// next reads what follows a member of an object or an element of an array: true after a
// comma (and the space after it), false after the closing bracket.
func (d *jsonDecoder) next(closing byte, what string) (bool, error) {
	d.space()
	if d.i < len(d.data) {
		switch d.data[d.i] {
		case ',':
			d.i++
			d.space()
			return true, nil
		case closing:
			d.i++
			return false, nil
		}
	}
	return false, d.errAt(what)
}

// closes consumes b if it comes next: an empty object's or array's closing bracket.
func (d *jsonDecoder) closes(b byte) bool {
	if d.i < len(d.data) && d.data[d.i] == b {
		d.i++
		return true
	}
	return false
}

// object reads the members of the object whose '{' (and the space after it) value read.
func (d *jsonDecoder) object(depth int) (ref.Val, uint64, error) {
	base := len(d.entries)
	defer func() { d.entries = d.entries[:base] }()
	for more := !d.closes('}'); more; {
		if d.i >= len(d.data) || d.data[d.i] != '"' {
			return nil, 0, d.errAt("looking for beginning of object key string")
		}
		k, err := d.str()
		if err != nil {
			return nil, 0, err
		}
		if d.space(); d.i >= len(d.data) || d.data[d.i] != ':' {
			return nil, 0, d.errAt("after object key")
		}
		d.i++
		d.space()
		v, size, err := d.value(depth)
		if err != nil {
			return nil, 0, err
		}
		d.entries = append(d.entries, jsonEntry{key: k, v: v, size: size})
		if more, err = d.next('}', "after object key:value pair"); err != nil {
			return nil, 0, err
		}
	}
	entries := d.entries[base:]
	if len(entries) <= maxSmall {
		// As toCEL converts a small Go map: one allocation, where a Go map and a CEL map
		// over it were three or four (a vendor's answer is mostly such objects).
		sm := &smallMap{}
		var sizes [maxSmall]uint64
		for _, e := range entries {
			i := 0
			for i < sm.n && sm.keys[i] != e.key {
				i++
			}
			// The last of repeated keys wins, and only its value is measured.
			sm.keys[i], sm.vals[i], sizes[i] = e.key, e.v, e.size
			if i == sm.n {
				sm.n++
			}
		}
		size := uint64(sm.n) // measured as toCEL measures
		for i, k := range sm.keys[:sm.n] {
			size = max(size, sizes[i], uint64(len(k)))
		}
		return sm, size, nil
	}
	m := make(map[string]ref.Val, len(entries))
	for _, e := range entries {
		m[e.key] = e.v
	}
	// toCEL measures the map it is given: with a key repeated, only its last value.
	size := uint64(len(m))
	var seen map[string]bool
	if len(m) < len(entries) {
		seen = make(map[string]bool, len(m))
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if seen != nil {
			if seen[e.key] {
				continue
			}
			seen[e.key] = true
		}
		size = max(size, e.size, uint64(len(e.key)))
	}
	return types.NewMap(types.DefaultTypeAdapter, m), size, nil
}

// array reads the elements of the array whose '[' (and the space after it) value read.
func (d *jsonDecoder) array(depth int) (ref.Val, uint64, error) {
	if d.elems == nil {
		d.elems = make([]ref.Val, 0, 8)
	}
	base := len(d.elems)
	defer func() { d.elems = d.elems[:base] }()
	var size uint64
	for more := !d.closes(']'); more; {
		v, s, err := d.value(depth)
		if err != nil {
			return nil, 0, err
		}
		d.elems = append(d.elems, v)
		size = max(size, s)
		if more, err = d.next(']', "after array element"); err != nil {
			return nil, 0, err
		}
	}
	l := make([]ref.Val, len(d.elems)-base)
	copy(l, d.elems[base:])
	return types.NewRefValList(types.DefaultTypeAdapter, l), max(size, uint64(len(l))), nil
}

// number reads a number as the JSON grammar has it, converted as DecodeJSON does.
func (d *jsonDecoder) number() (ref.Val, error) {
	start := d.i
	if d.data[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.data) && d.data[d.i] == '0':
		d.i++
	case d.i < len(d.data) && d.data[d.i] >= '1' && d.data[d.i] <= '9':
		d.digits()
	default:
		return nil, d.errAt("in numeric literal")
	}
	integer := true
	if d.i < len(d.data) && d.data[d.i] == '.' {
		integer = false
		d.i++
		if d.digits() == 0 {
			return nil, d.errAt("after decimal point in numeric literal")
		}
	}
	if d.i < len(d.data) && (d.data[d.i] == 'e' || d.data[d.i] == 'E') {
		integer = false
		d.i++
		if d.i < len(d.data) && (d.data[d.i] == '+' || d.data[d.i] == '-') {
			d.i++
		}
		if d.digits() == 0 {
			return nil, d.errAt("in exponent of numeric literal")
		}
	}
	s := string(d.data[start:d.i])
	if integer {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return types.Int(n), nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, errNumberRange
	}
	return types.Double(f), nil
}

func (d *jsonDecoder) digits() int {
	n := 0
	for d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9' {
		d.i++
		n++
	}
	return n
}

// str reads the string at i and unquotes it as encoding/json does.
func (d *jsonDecoder) str() (string, error) {
	start := d.i + 1
	i := start
	for ; i < len(d.data); i++ {
		c := d.data[i]
		if c == '"' {
			d.i = i + 1
			return d.text[start:i], nil
		}
		if c == '\\' || c < ' ' || c >= utf8.RuneSelf {
			break
		}
	}
	b := append(d.buf[:0], d.data[start:i]...)
	defer func() { d.buf = b[:0] }()
	for i < len(d.data) {
		c := d.data[i]
		switch {
		case c == '"':
			d.i = i + 1
			return string(b), nil
		case c < ' ':
			d.i = i
			return "", d.errAt("in string literal")
		case c == '\\':
			i++
			if i >= len(d.data) {
				d.i = i
				return "", errJSONEnd
			}
			switch e := d.data[i]; {
			case jsonEscapes[e] != 0:
				b = append(b, jsonEscapes[e])
				i++
			case e == 'u':
				r, ok := hex4(d.data[i+1:])
				if !ok {
					d.i = i
					return "", d.errAt("in \\u hexadecimal character escape")
				}
				i += 5
				if utf16.IsSurrogate(r) {
					// A pair is one rune; anything else leaves U+FFFD for this half, and
					// the next escape is read on its own.
					if i+1 < len(d.data) && d.data[i] == '\\' && d.data[i+1] == 'u' {
						if r2, ok := hex4(d.data[i+2:]); ok {
							if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
								b = utf8.AppendRune(b, dec)
								i += 6
								continue
							}
						}
					}
					r = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, r)
			default:
				d.i = i
				return "", d.errAt("in string escape code")
			}
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(d.data[i:])
			if r == utf8.RuneError && size == 1 {
				b = utf8.AppendRune(b, unicode.ReplacementChar)
			} else {
				b = append(b, d.data[i:i+size]...)
			}
			i += size
		}
	}
	d.i = i
	return "", errJSONEnd
}

// jsonEscapes are the characters that JSON's one-letter escapes stand for, by letter.
var jsonEscapes = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// hex4 reads four hexadecimal digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
