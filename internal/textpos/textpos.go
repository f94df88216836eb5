// Package textpos says where a byte offset is in a text as a person reading it finds it:
// its line and its column, both from 1, the column in characters (UTF-8), not bytes. The
// places emfa gives in a configuration's files (emfa check) and in a body it refuses
// (the event endpoints) are counted by this one rule.
package textpos

import (
	"bytes"
	"unicode/utf8"
)

// Of is the line and column of offset in text, an offset outside text taken as its
// nearest end. Only text[:offset] is read: a caller that knows where a line begins
// passes the text from there and adds the lines before it, without reading them again.
func Of(text []byte, offset int) (line, column int) {
	offset = min(max(offset, 0), len(text))
	start := bytes.LastIndexByte(text[:offset], '\n') + 1
	return bytes.Count(text[:start], []byte{'\n'}) + 1, utf8.RuneCount(text[start:offset]) + 1
}
