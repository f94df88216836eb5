package main

import (
	"bytes"
	"cmp"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/textpos"
	"github.com/emfa/emfa/provider/remote"
)

// webhookFile is a remote provider's webhookFile (IBM's webhook JSON) as its problems
// are placed in it: a problem found loading or checking the webhook was said only as
// "w.yaml: providers[0] (duo).remote from duo.json.resources.x.transform.outgoing", and
// the operator searched a file of hundreds of lines for it; it is now said at the file's
// line and column, as a YAML problem is said at its line.
type webhookFile struct {
	path  string
	data  []byte
	where string // the provider's webhookFile in the configuration, said after each problem
	// keys are the byte offset of each key, by its path as written (resources.X.transform)
	// and, in folded, in lower case: JSON matches a struct's fields in any case, a map's
	// keys (the resources' names) as written. A key written twice is at its last place,
	// the one whose value JSON keeps.
	keys, folded map[string]int
	// overridden are the keys the configuration's remote section sets beside webhookFile
	// (lower case, as JSON matches them): their values are the configuration's, not the
	// file's, and a problem under one is not placed in the file (where the key may be too,
	// with a value that is fine).
	overridden map[string]bool
}

// readWebhookFile reads the webhook JSON at path for placing providers[i]'s problems;
// nil when it cannot be read (its problem then says so) or is too large to be a webhook.
func readWebhookFile(cfg *config.Config, i int, path string) *webhookFile {
	data, err := os.ReadFile(path)
	if err != nil || len(data) > 16<<20 {
		return nil
	}
	where := fmt.Sprintf("providers[%d] (%s).remote.webhookFile in %s", i, cfg.Providers[i].CredentialPrefix, cfg.Source)
	if l := cfg.Line(fmt.Sprintf("providers[%d].remote.webhookFile", i)); l > 0 {
		where += ":" + strconv.Itoa(l)
	}
	f := &webhookFile{path: path, data: data, where: where, keys: map[string]int{}, folded: map[string]int{}, overridden: map[string]bool{}}
	for k := range cfg.Providers[i].Remote {
		if k != "webhookFile" && k != "values" {
			f.overridden[strings.ToLower(k)] = true
		}
	}
	f.walk() // a file that is not JSON places the keys before its syntax error (placed apart)
	return f
}

// walk records the offset of every key of the file's JSON, by its path, up to the end or
// to where it stops being JSON.
func (f *webhookFile) walk() {
	dec := json.NewDecoder(bytes.NewReader(f.data))
	dec.UseNumber()
	var value func(path, lower string) error
	value = func(path, lower string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				from := int(dec.InputOffset())
				key, err := dec.Token()
				if err != nil {
					return err
				}
				name, _ := key.(string)
				// The key starts at its quote, after the comma and the spaces before it.
				at := from + bytes.IndexByte(f.data[from:], '"')
				child, lowerChild := name, strings.ToLower(name)
				if path != "" {
					child, lowerChild = path+"."+child, lower+"."+lowerChild
				}
				f.keys[child], f.folded[lowerChild] = at, at
				if err := value(child, lowerChild); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		case json.Delim('['):
			for n := 0; dec.More(); n++ {
				from := int(dec.InputOffset())
				child, lowerChild := fmt.Sprintf("%s[%d]", path, n), fmt.Sprintf("%s[%d]", lower, n)
				rest := bytes.TrimLeft(f.data[from:], " \t\r\n,")
				f.keys[child], f.folded[lowerChild] = len(f.data)-len(rest), len(f.data)-len(rest)
				if err := value(child, lowerChild); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			return err
		}
		return nil
	}
	_ = value("", "")
}

// at is "FILE:LINE:COLUMN" of offset (the column in characters, from 1).
func (f *webhookFile) at(offset int) string {
	line, column := textpos.Of(f.data, offset)
	return fmt.Sprintf("%s:%d:%d", f.path, line, column)
}

// keyAt is where path's key is (or that of its nearest ancestor in the file), and whether
// one is: a problem of a key the configuration's remote section set, not the file, has
// none.
func (f *webhookFile) keyAt(path string) (string, bool) {
	off, ok := f.keyOffset(path)
	if !ok {
		return "", false
	}
	return f.at(off), true
}

// keyOffset is keyAt's byte offset in the file.
func (f *webhookFile) keyOffset(path string) (int, bool) {
	p := path
	top := p
	if j := strings.IndexAny(p, ".["); j >= 0 {
		top = p[:j]
	}
	if f.overridden[strings.ToLower(top)] {
		return 0, false // the configuration's
	}
	for p != "" {
		if off, ok := f.keys[p]; ok {
			return off, true
		}
		if off, ok := f.folded[strings.ToLower(p)]; ok {
			return off, true
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0, false
}

// problem is msg (about path, "" for the file) said at where in the file.
func (f *webhookFile) problem(at, path, msg string) error {
	if path != "" {
		msg = path + ": " + msg
	}
	return fmt.Errorf("%s: %s (%s)", at, msg, f.where)
}

// loadProblem places a problem of reading the file as a webhook (LoadWebhook's): JSON that
// does not parse, at the character where it stops; a value of the wrong kind, at its key.
// ok is false for one it cannot place.
func (f *webhookFile) loadProblem(err error) (error, bool) {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		// Placed in the file as written (its placeholders not filled), which is what the
		// operator opens; a file whose filled values alone break it is not placed.
		// (Unmarshal's offset is the bad character's, plus one; the Decoder's is not always.)
		var own *json.SyntaxError
		if !errors.As(json.Unmarshal(f.data, new(any)), &own) || own.Error() != se.Error() {
			return nil, false
		}
		return f.problem(f.at(int(own.Offset)-1), "", "not JSON: "+own.Error()), true
	case errors.As(err, &te) && te.Field != "":
		field := te.Field
		if path, ok := f.valueKey(te); ok {
			field = path
		}
		at, ok := f.keyAt(field)
		if !ok {
			return nil, false
		}
		written := map[string]string{"array": "a list", "object": "an object", "string": "a string", "bool": "true or false"}[te.Value]
		return f.problem(at, field, fmt.Sprintf("must be %s, not %s", jsonKindOf(te.Type), cmp.Or(written, "a "+te.Value))), true
	}
	if path, ok := f.readerKey(err); ok {
		at, _ := f.keyAt(path)
		own := json.Unmarshal(f.data, new(remote.Webhook))
		return f.problem(at, path, "must be "+jsonKindOf(typeAt(path))+": "+own.Error()), true
	}
	return nil, false
}

// readerKey is the key, the first in the file as written, whose value its type's own
// reader refuses (a Duration's "time: invalid duration"): JSON names no key for such an
// error, and it was said without a line. Only values of a type with a reader of its own
// are read again, each alone; ok is false when none is refused as err says, or the
// file as written is not refused the same way.
func (f *webhookFile) readerKey(err error) (string, bool) {
	own := json.Unmarshal(f.data, new(remote.Webhook))
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	if own == nil || errors.As(own, &te) || errors.As(own, &se) || !strings.HasSuffix(err.Error(), own.Error()) {
		return "", false
	}
	paths := slices.SortedFunc(maps.Keys(f.keys), func(a, b string) int { return cmp.Compare(f.keys[a], f.keys[b]) })
	for _, path := range paths {
		t := typeAt(path)
		if t == nil || !(reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) ||
			reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]())) {
			continue
		}
		value := f.data[f.keys[path]:]
		if !strings.HasSuffix(path, "]") { // past the key and its colon
			dec := json.NewDecoder(bytes.NewReader(value))
			if dec.Decode(new(string)) != nil {
				continue
			}
			value = bytes.TrimLeft(value[dec.InputOffset():], " \t\r\n")
			value, _ = bytes.CutPrefix(value, []byte(":"))
		}
		var raw json.RawMessage
		if json.NewDecoder(bytes.NewReader(value)).Decode(&raw) != nil {
			continue
		}
		if e := json.Unmarshal(raw, reflect.New(t).Interface()); e != nil && e.Error() == own.Error() {
			return path, true
		}
	}
	return "", false
}

// typeAt is the Go type of the webhook's value at path (a key's, as the file writes it),
// nil when there is none: JSON matches a struct's fields by name in any case.
func typeAt(path string) reflect.Type {
	t := reflect.TypeFor[remote.Webhook]()
	for part := range strings.SplitSeq(strings.ReplaceAll(path, "[", ".["), ".") {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case t.Kind() == reflect.Map:
			t = t.Elem()
		case strings.HasPrefix(part, "[") && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
			t = t.Elem()
		case t.Kind() == reflect.Struct:
			var found reflect.Type
			for _, sf := range reflect.VisibleFields(t) {
				name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
				if name == "" {
					name = sf.Name
				}
				if sf.IsExported() && !sf.Anonymous && name != "-" && strings.EqualFold(name, part) {
					found = sf.Type
					break
				}
			}
			if found == nil {
				return nil
			}
			t = found
		default:
			return nil
		}
	}
	return t
}

// valueKey is the path, as the file writes it, of the key whose value JSON refused (te):
// te.Field leaves out the keys of a map on the way (a resource's name, "resources.
// transform.outgoing"), which placed the value at "resources". It is the last key before
// where JSON refused the value in the file as written (placeholders not filled, as the
// operator opens it) whose path is te.Field with such keys, or a list's index after it;
// the keys te.Field names are spelled as it spells them. ok is false when the file as
// written is not refused the same way.
func (f *webhookFile) valueKey(te *json.UnmarshalTypeError) (string, bool) {
	var own *json.UnmarshalTypeError
	if !errors.As(json.Unmarshal(f.data, new(remote.Webhook)), &own) || own.Field != te.Field || own.Value != te.Value {
		return "", false
	}
	want := strings.Split(te.Field, ".")
	best, bestAt := "", -1
	for path, off := range f.keys {
		if off >= int(own.Offset) || off <= bestAt {
			continue
		}
		if spelled, ok := fieldPath(path, want); ok {
			best, bestAt = spelled, off
		}
	}
	return best, bestAt >= 0
}

// fieldPath reports whether path, a key's as the file writes it, is want (a Go field path
// split at its dots) with map keys between its names, or a list's indexes after it; it
// returns path with want's spelling of the names it shares.
func fieldPath(path string, want []string) (string, bool) {
	var out []string
	n := 0
	for part := range strings.SplitSeq(path, ".") {
		name, index, _ := strings.Cut(part, "[")
		if index != "" {
			index = "[" + index
		}
		switch {
		case n < len(want) && strings.EqualFold(name, want[n]):
			name = want[n]
			n++
		case n == len(want):
			return "", false // a key below the value JSON refused
		}
		if index != "" && n < len(want) {
			return "", false // an element of a list before the value
		}
		out = append(out, name+index)
	}
	return strings.Join(out, "."), n == len(want)
}

// jsonKindOf is what a JSON value of Go type t is, as an operator writes it.
func jsonKindOf(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	// A type that reads itself from text is written as a string, whatever Go holds it in
	// (a Duration is an int64: it was said to be "a number, not a number").
	if t == reflect.TypeFor[remote.Duration]() {
		return "a duration such as 5s or 1m30s"
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return "a string"
	}
	switch t.Kind() {
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8,
		reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a " + t.Kind().String()
}
