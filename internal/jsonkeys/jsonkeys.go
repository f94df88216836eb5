// Package jsonkeys refuses JSON that names a key twice: encoding/json keeps the last of
// duplicates, so such a document may mean one thing to emfa and another to whatever read
// it before (a proxy, a WAF, the tool that wrote an import file). The adapter checks every
// request body with it, lifecycle every JSON line of an import.
package jsonkeys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxDepth bounds the nesting Check walks; no request of the contract or the device API,
// and no import row, nests beyond a few levels.
const MaxDepth = 32

// equalFold compares two keys; a test counts the comparisons.
var equalFold = bytes.EqualFold

// ErrDuplicate marks a JSON object that names a key twice.
var ErrDuplicate = errors.New("duplicate key")

// ErrNotOneValue and ErrTooDeep are Check's refusals of a body that is not one JSON value
// and of one nested deeper than MaxDepth: their words quote nothing of the body.
var (
	ErrNotOneValue = errors.New("not one JSON value")
	ErrTooDeep     = fmt.Errorf("nested deeper than %d levels", MaxDepth)
)

// DuplicateError is ErrDuplicate with the key named twice, for a caller that must know
// which (an import row whose username is ambiguous names no user).
type DuplicateError struct {
	// Path is the key as the object names it the second time, after the keys above it,
	// joined with dots ("[]" for an array's elements): "username", "attributes.username".
	Path string
}

func (e *DuplicateError) Error() string        { return fmt.Sprintf("%v %q", ErrDuplicate, e.Path) }
func (e *DuplicateError) Is(target error) bool { return target == ErrDuplicate }

// Check walks one JSON value and refuses an object that names a key twice.
// encoding/json keeps the last of duplicates, so {"username":"nobody","username":"alice"}
// means alice to emfa and possibly nobody to a proxy or WAF that read the first: a request
// is refused rather than read one way here and another there. Keys are compared as
// encoding/json matches them to struct fields, without regard to case. A body of white
// space only passes (its decoder refuses it); anything else that is not one JSON value is
// refused.
//
// It runs on every contract call, so it walks the bytes itself once json.Valid has
// vouched for them: encoding/json's Decoder.Token boxed every token and cost 3 % of a
// validation's CPU (issue 16). A key is the bytes of data it is (unless it has an escape
// or bytes that are not UTF-8), and the keys of an object, and the path above them, are
// kept in arrays on the stack while they fit: a contract call's body is walked without
// an allocation (a string a key and two slices grown as they went were 9 an initiate's).
func Check(data []byte) error {
	if !json.Valid(data) {
		if len(bytes.TrimSpace(data)) == 0 {
			return nil
		}
		var raw json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil {
			return err // the syntax error, as encoding/json words it
		}
		return ErrNotOneValue
	}
	w := keyWalk{data: data}
	return w.value(0, everywhere)
}

// Fields are the objects of a document whose keys encoding/json matches to a struct's
// fields, without regard to case; NewFields builds them. CheckFields compares keys that
// way only there.
type Fields struct {
	// object: the value here, an object, is read into fields (its keys compared folded).
	object bool
	// all: so is every object at or below here (Check's rule).
	all bool
	// names are the keys (or "[]", an array's elements) of the values below that hold
	// fields, children their Fields.
	names    [][]byte
	children []*Fields
}

// everywhere is Check's rule: keys compared folded in every object.
var everywhere = &Fields{object: true, all: true}

// NewFields are the objects at paths: keys joined with '.', "[]" for an array's
// elements, "" the document itself ("data", "target.[]", "details.request").
func NewFields(paths ...string) *Fields {
	root := &Fields{}
	for _, p := range paths {
		f := root
		if p != "" {
			for name := range strings.SplitSeq(p, ".") {
				f = f.child([]byte(name), true)
			}
		}
		f.object = true
	}
	return root
}

// child is the Fields under name (an object's key, or "[]"); nil: no object below
// holds fields. add makes it when there is none.
func (f *Fields) child(name []byte, add bool) *Fields {
	if f == nil || f.all {
		return f
	}
	for i, n := range f.names {
		if bytes.EqualFold(n, name) {
			return f.children[i]
		}
	}
	if !add {
		return nil
	}
	c := &Fields{}
	f.names, f.children = append(f.names, name), append(f.children, c)
	return c
}

// CheckFields is Check, but for the keys it compares without regard to case: only
// those of the objects of fields, as encoding/json matches them to a struct's fields;
// the keys of any other object (a customer's data a source relays as it was sent, where
// "Team" and "team" are two keys) are refused only when named twice exactly. It costs
// what Check does: the objects below fields are known by the keys above them, no path is
// built but the one an error names.
func CheckFields(data []byte, fields *Fields) error {
	if !json.Valid(data) {
		return Check(data)
	}
	w := keyWalk{data: data}
	return w.value(0, fields)
}

// CheckValid is Check for data json.Valid accepts, such as a body encoding/json has just
// decoded whole (json.Unmarshal, or a Decoder whose next Token was io.EOF): that decoding
// scanned it as json.Valid would, so the walk need not scan it a third time. Data
// json.Valid refuses is a caller's mistake: CheckValid may then pass what Check refuses
// (trailing data, a missing colon), but it does not panic.
func CheckValid(data []byte) (err error) {
	defer func() {
		if recover() != nil { // the walk ran off data that was not valid after all
			err = Check(data)
		}
	}()
	w := keyWalk{data: data}
	return w.value(0, everywhere)
}

// Value is a key of a document's top-level object that CheckValues is asked for, and the
// value the document gives it.
type Value struct {
	// Name is the key as a struct's field names it: a key is matched to it as CheckFields
	// compares keys in an object of fields, as encoding/json matches keys to fields.
	Name string
	// Raw is the value of the key matched, as the document has it (a string with its
	// quotes and escapes, no white space around it); nil when no key is.
	Raw []byte
	// start and end are where the walk found Raw: data stored through a pointer would
	// send it, and the caller's values, to the heap.
	start, end int
}

// CheckValues is CheckFields for data json.Valid accepts (CheckValid's contract), that
// also hands back values: each one's Raw is set to the value of the top-level key
// matching its Name (unset when data is not an object). It is for a caller that says
// nothing of why it refuses data (a batch's entry past those whose reasons are listed),
// and so that needs not decode data to learn what a few of its keys hold: its refusals
// are ErrDuplicate and ErrTooDeep themselves, naming no key, and the walk allocates
// nothing that CheckFields' walk would not. In an object whose keys are compared as
// fields, a key named twice is refused, so Raw is the one value encoding/json reads into
// the field; elsewhere, the last key's.
func CheckValues(data []byte, fields *Fields, values []Value) (err error) {
	defer func() {
		if recover() != nil { // the walk ran off data that was not valid after all
			err = Check(data)
		}
	}()
	for i := range values {
		values[i].Raw, values[i].end = nil, 0
	}
	w := keyWalk{data: data, unworded: true}
	if w.space(); w.data[w.i] != '{' {
		return w.value(0, fields)
	}
	if err = w.object(1, fields, values); err != nil {
		return err
	}
	for i, v := range values {
		if v.end > 0 {
			values[i].Raw = data[v.start:v.end]
		}
	}
	return nil
}

// keyWalk walks JSON that json.Valid accepted; path holds, per open container (at depth
// d, path[d-1]), the key or "[]" the walk is under, for the error only: an array of
// MaxDepth on the stack, where a slice appended to went to the heap. unworded is whether
// a key named twice is refused as ErrDuplicate alone.
type keyWalk struct {
	data     []byte
	i        int
	path     [MaxDepth][]byte
	unworded bool
}

// inArray is the path's entry for an array's elements.
var inArray = []byte("[]")

func (w *keyWalk) space() {
	for w.i < len(w.data) {
		switch w.data[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// value walks the value at w.i, inside depth open containers; f is where it is among
// the fields (nil: below them all).
func (w *keyWalk) value(depth int, f *Fields) error {
	w.space()
	switch w.data[w.i] {
	case '{', '[':
		if depth >= MaxDepth {
			return ErrTooDeep
		}
		if w.data[w.i] == '[' {
			return w.array(depth+1, f.child(inArray, false))
		}
		return w.object(depth+1, f, nil)
	case '"':
		w.str()
	default: // a number, true, false or null
		for w.i < len(w.data) && !strings.ContainsRune(",]} \t\n\r", rune(w.data[w.i])) {
			w.i++
		}
	}
	return nil
}

func (w *keyWalk) array(depth int, elem *Fields) error {
	w.i++ // [
	w.path[depth-1] = inArray
	for {
		w.space()
		if w.data[w.i] == ']' {
			w.i++
			return nil
		}
		if err := w.value(depth, elem); err != nil {
			return err
		}
		w.space()
		if w.data[w.i] == ',' {
			w.i++
		}
	}
}

// object walks the object at w.i; values are the keys whose values CheckValues hands back,
// found here (passed, not kept in w: the walk's content goes to the heap, and a caller's
// array of values with it).
func (w *keyWalk) object(depth int, f *Fields, values []Value) error {
	w.i++ // {
	w.path[depth-1] = nil
	var first [maxLinearKeys][]byte
	seen := first[:0] // few keys: a linear search beats a map
	var folded map[string]struct{}
	// An object of fields compares its keys as encoding/json matches keys to fields,
	// under simple case folding; any other, exactly.
	fold := f != nil && f.object
	same, mapKey := bytes.Equal, func(k []byte) string { return string(k) }
	if fold {
		same, mapKey = equalFold, FoldKey[[]byte]
	}
	for {
		w.space()
		if w.data[w.i] == '}' {
			w.i++
			return nil
		}
		key := w.key()
		var dup bool
		if folded != nil {
			m := mapKey(key)
			if _, dup = folded[m]; !dup {
				folded[m] = struct{}{}
			}
		} else if dup = slices.ContainsFunc(seen, func(k []byte) bool { return same(k, key) }); !dup {
			if len(seen) == maxLinearKeys {
				folded = make(map[string]struct{}, 2*len(seen))
				for _, k := range seen {
					folded[mapKey(k)] = struct{}{}
				}
				folded[mapKey(key)] = struct{}{}
			} else {
				seen = append(seen, key)
			}
		}
		if dup && w.unworded {
			return ErrDuplicate
		}
		if dup {
			// The keys above it, joined with dots: none, or only empty keys, name no prefix.
			where := string(key)
			if above := string(bytes.Join(w.path[:depth-1], []byte("."))); above != "" {
				where = above + "." + where
			}
			return &DuplicateError{Path: where}
		}
		w.path[depth-1] = key
		w.space()
		w.i++ // :
		v := asked(values, key)
		w.space()
		start := w.i
		if err := w.value(depth, f.child(key, false)); err != nil {
			return err
		}
		if v != nil {
			v.start, v.end = start, w.i
		}
		w.space()
		if w.data[w.i] == ',' {
			w.i++
		}
	}
}

// asked is the Value of values whose Name key matches, nil none.
func asked(values []Value, key []byte) *Value {
	for i := range values {
		if sameKey(key, values[i].Name) {
			return &values[i]
		}
	}
	return nil
}

// sameKey is bytes.EqualFold(key, []byte(name)) without the conversion.
func sameKey(key []byte, name string) bool {
	for len(key) > 0 && len(name) > 0 {
		a, n := utf8.DecodeRune(key)
		b, m := utf8.DecodeRuneInString(name)
		if a != b && foldRune(a) != foldRune(b) {
			return false
		}
		key, name = key[n:], name[m:]
	}
	return len(key) == 0 && len(name) == 0
}

// maxLinearKeys is how many keys of an object are searched one by one; past it they are
// kept by FoldKey in a map. Searching every key before it, a 64 KiB body of 9,000 keys
// (an unauthenticated device registration) took 40 million comparisons, 0.2 s of CPU,
// and a SCIM body of 4 MiB minutes.
const maxLinearKeys = 16

// FoldKey is key with each rune the smallest of its simple case folding orbit: two keys
// strings.EqualFold finds equal (as encoding/json matches keys to fields) have the same
// FoldKey, and two it does not, different ones.
func FoldKey[K ~string | ~[]byte](key K) string {
	b := make([]rune, 0, len(key))
	for _, r := range string(key) { // a byte that is not UTF-8 is U+FFFD, as EqualFold reads it
		b = append(b, foldRune(r))
	}
	return string(b)
}

// foldRune is the smallest rune of r's simple case folding orbit.
func foldRune(r rune) rune {
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	return m
}

// str skips the string at w.i and returns its raw bytes, quotes included.
func (w *keyWalk) str() []byte {
	start := w.i
	w.i++ // "
	for w.data[w.i] != '"' {
		if w.data[w.i] == '\\' {
			w.i++
		}
		w.i++
	}
	w.i++
	return w.data[start:w.i]
}

// key reads an object key, unescaped as encoding/json does: escapes decoded, and each
// byte that is not UTF-8 replaced by U+FFFD (so "\xbf" and "\xfe" are one key to it).
// A key without either is its bytes in data.
func (w *keyWalk) key() []byte {
	raw := w.str()
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return raw[1 : len(raw)-1]
	}
	var s string
	_ = json.Unmarshal(raw, &s) // json.Valid accepted it
	return []byte(s)
}
