package provider

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"unicode/utf8"
)

// canonicalFast appends to dst the canonical form of body that Fingerprint hashes — what
// json.Marshal makes of the body decoded with UseNumber: no white space, an object's keys
// sorted and the last of duplicates kept, numbers and strings as sent — without decoding
// into maps (37 allocations and most of a fingerprint's time for a contract call). ok is
// false for what it does not take on: a string that Marshal would write otherwise than
// sent (an escape, a control or HTML character, invalid UTF-8, U+2028/9), nesting deeper
// than fastDepth, anything after the value but white space, or a body that is not JSON.
// The caller then takes encoding/json's way, which gives every body its fingerprint.
//
// scratch, with room for body, saves allocating the room to sort an object's members in:
// the canonical form of a member's value is never longer than its text.
func canonicalFast(dst, body, scratch []byte) (_ []byte, ok bool) {
	c := canon{data: body, scratch: scratch}
	c.space()
	if dst, ok = c.value(dst, 0); !ok {
		return nil, false
	}
	c.space()
	return dst, c.i == len(c.data)
}

// fastDepth bounds the nesting canonicalFast takes on; a contract call nests two deep.
const fastDepth = 32

type canon struct {
	data    []byte
	i       int
	scratch []byte // an object's members while they are sorted
}

// member is one key of an object and its canonical value, at dst[from:to].
type member struct {
	key      []byte // as sent, which is as decoded (simple strings only)
	from, to int
}

func (c *canon) space() {
	for c.i < len(c.data) {
		switch c.data[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

func (c *canon) value(dst []byte, depth int) ([]byte, bool) {
	if c.i >= len(c.data) || depth > fastDepth {
		return nil, false
	}
	switch b := c.data[c.i]; {
	case b == '{':
		return c.object(dst, depth+1)
	case b == '[':
		return c.array(dst, depth+1)
	case b == '"':
		s, ok := c.str()
		if !ok {
			return nil, false
		}
		return append(dst, c.data[s-1:c.i]...), true // with its quotes
	case b == '-' || (b >= '0' && b <= '9'):
		start := c.i
		if !c.number() {
			return nil, false
		}
		return append(dst, c.data[start:c.i]...), true
	}
	for _, lit := range [...]string{"true", "false", "null"} {
		if bytes.HasPrefix(c.data[c.i:], []byte(lit)) {
			c.i += len(lit)
			return append(dst, lit...), true
		}
	}
	return nil, false
}

// str reads a string that Marshal writes as sent, returning the index of its first byte
// after the opening quote; c.i is then past the closing quote.
func (c *canon) str() (start int, ok bool) {
	c.i++ // the opening quote
	start = c.i
	ascii := true
	for ; c.i < len(c.data); c.i++ {
		switch b := c.data[c.i]; {
		case b == '"':
			s := c.data[start:c.i]
			c.i++
			if !ascii && (!utf8.Valid(s) || bytes.Contains(s, []byte("\u2028")) || bytes.Contains(s, []byte("\u2029"))) {
				return 0, false
			}
			return start, true
		case b >= utf8.RuneSelf:
			ascii = false
		case b < 0x20 || b == '\\' || b == '<' || b == '>' || b == '&':
			return 0, false
		}
	}
	return 0, false
}

// number reads a number of JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (c *canon) number() bool {
	d := c.data
	if d[c.i] == '-' {
		c.i++
	}
	switch {
	case c.i < len(d) && d[c.i] == '0':
		c.i++
	case c.i < len(d) && d[c.i] >= '1' && d[c.i] <= '9':
		c.digits()
	default:
		return false
	}
	if c.i < len(d) && d[c.i] == '.' {
		c.i++
		if !c.digits() {
			return false
		}
	}
	if c.i < len(d) && (d[c.i] == 'e' || d[c.i] == 'E') {
		c.i++
		if c.i < len(d) && (d[c.i] == '+' || d[c.i] == '-') {
			c.i++
		}
		if !c.digits() {
			return false
		}
	}
	return true
}

func (c *canon) digits() bool {
	start := c.i
	for c.i < len(c.data) && c.data[c.i] >= '0' && c.data[c.i] <= '9' {
		c.i++
	}
	return c.i > start
}

func (c *canon) array(dst []byte, depth int) ([]byte, bool) {
	c.i++
	dst = append(dst, '[')
	c.space()
	if c.i < len(c.data) && c.data[c.i] == ']' {
		c.i++
		return append(dst, ']'), true
	}
	for {
		var ok bool
		c.space()
		if dst, ok = c.value(dst, depth); !ok {
			return nil, false
		}
		c.space()
		if c.i >= len(c.data) {
			return nil, false
		}
		switch c.data[c.i] {
		case ',':
			c.i++
			dst = append(dst, ',')
		case ']':
			c.i++
			return append(dst, ']'), true
		default:
			return nil, false
		}
	}
}

// object writes the members' values after dst as they come, then moves them into key
// order, each behind its key, through c.scratch.
func (c *canon) object(dst []byte, depth int) ([]byte, bool) {
	c.i++
	c.space()
	if c.i < len(c.data) && c.data[c.i] == '}' {
		c.i++
		return append(dst, "{}"...), true
	}
	var small [8]member
	members := small[:0]
	start := len(dst)
	for {
		c.space()
		if c.i >= len(c.data) || c.data[c.i] != '"' {
			return nil, false
		}
		s, ok := c.str()
		if !ok {
			return nil, false
		}
		key := c.data[s : c.i-1]
		c.space()
		if c.i >= len(c.data) || c.data[c.i] != ':' {
			return nil, false
		}
		c.i++
		c.space()
		from := len(dst)
		if dst, ok = c.value(dst, depth); !ok {
			return nil, false
		}
		members = append(members, member{key: key, from: from - start, to: len(dst) - start})
		c.space()
		if c.i >= len(c.data) {
			return nil, false
		}
		if c.data[c.i] == ',' {
			c.i++
			continue
		}
		if c.data[c.i] != '}' {
			return nil, false
		}
		c.i++
		break
	}
	// Sorted by key, duplicates in the order sent: the last of each is the one kept.
	slices.SortStableFunc(members, func(a, b member) int { return bytes.Compare(a.key, b.key) })
	c.scratch = append(c.scratch[:0], dst[start:]...)
	dst = append(dst[:start], '{')
	for n, m := range members {
		if n+1 < len(members) && bytes.Equal(m.key, members[n+1].key) {
			continue
		}
		if dst[len(dst)-1] != '{' {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, m.key...)
		dst = append(dst, '"', ':')
		dst = append(dst, c.scratch[m.from:m.to]...)
	}
	return append(dst, '}'), true
}

// fingerprintFast is Fingerprint for a body canonicalFast takes on: the HMAC of
// resource, a zero byte and the canonical form, in one buffer that holds the inner
// hash's key block first (RFC 2104 written out, so that no hash.Hash is allocated).
func (k FingerprintKey) fingerprintFast(resource string, body []byte) (string, bool) {
	if len(k) > sha256.BlockSize {
		return "", false // crypto/hmac hashes such a key first; the slow way does
	}
	n := sha256.BlockSize + len(resource) + 1 + len(body)
	all := make([]byte, n+len(body)) // the canonical form's room, then the sorting's
	buf := all[:sha256.BlockSize:n]
	for i := range buf {
		buf[i] = 0x36 // ipad
	}
	for i, b := range k {
		buf[i] ^= b
	}
	buf = append(append(buf, resource...), 0)
	buf, ok := canonicalFast(buf, body, all[n:n])
	if !ok {
		return "", false
	}
	var outer [sha256.BlockSize + sha256.Size]byte
	for i := range sha256.BlockSize {
		outer[i] = 0x5c // opad
	}
	for i, b := range k {
		outer[i] ^= b
	}
	inner := sha256.Sum256(buf)
	copy(outer[sha256.BlockSize:], inner[:])
	sum := sha256.Sum256(outer[:])
	out := append(buf[:0], resource...)
	out = append(out, ':')
	out = hex.AppendEncode(out, sum[:])
	return string(out), true
}
