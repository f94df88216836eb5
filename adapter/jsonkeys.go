package adapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// maxJSONDepth bounds the nesting checkUniqueKeys walks; no request of the contract or
// the device API nests beyond a few levels.
const maxJSONDepth = 32

// errDuplicateKey marks a JSON object that names a key twice.
var errDuplicateKey = errors.New("duplicate key")

// checkUniqueKeys walks one JSON value and refuses an object that names a key twice.
// encoding/json keeps the last of duplicates, so {"username":"nobody","username":"alice"}
// means alice to emfa and possibly nobody to a proxy or WAF that read the first: a request
// is refused rather than read one way here and another there. Keys are compared as
// encoding/json matches them to struct fields, without regard to case. Every request body
// emfa reads goes through it (decode); a later admin API should too.
func checkUniqueKeys(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type object struct {
		keys   map[string]struct{}
		path   string
		expect bool // the next string token is a key
	}
	var stack []*object
	var path []string // per level: the key or "[]" the walk is under
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var top *object
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) >= maxJSONDepth {
					return fmt.Errorf("nested deeper than %d levels", maxJSONDepth)
				}
				if top != nil && !top.expect {
					top.expect = true // this value ends at the matching delimiter
				}
				o := &object{path: strings.Join(path, ".")}
				if t == '{' {
					o.keys, o.expect = map[string]struct{}{}, true
				}
				stack = append(stack, o)
				if t == '[' {
					path = append(path, "[]")
				} else {
					path = append(path, "")
				}
			default:
				stack, path = stack[:len(stack)-1], path[:len(path)-1]
			}
		case string:
			if top != nil && top.keys != nil && top.expect {
				k := foldKey(t)
				if _, dup := top.keys[k]; dup {
					where := t
					if top.path != "" {
						where = top.path + "." + t
					}
					return fmt.Errorf("%w %q", errDuplicateKey, where)
				}
				top.keys[k] = struct{}{}
				top.expect = false
				path[len(path)-1] = t
				continue
			}
			if top != nil && top.keys != nil {
				top.expect = true
			}
		default:
			if top != nil && top.keys != nil {
				top.expect = true
			}
		}
	}
}

// foldKey maps s to one spelling per case-insensitive class (the smallest rune of each
// rune's simple-folding orbit), as encoding/json's field matching folds.
func foldKey(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}
