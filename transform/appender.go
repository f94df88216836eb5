package transform

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"slices"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"
)

// appender is a node of the untracked program whose value, when it is a string, can be written
// into a buffer where a call reads it, rather than made a string of its own: IBM's DUO outgoing
// transforms sign with hmacSha1(joinStrings([...], "\n"), key) and send
// joinStrings([ikey, signature], ":").base64Encode(), two strings and their CEL values each
// the next call only reads.
type appender interface {
	interpreter.InterpretableV2
	// appendTo evaluates the node as Exec does. When the value is a string it appends it to
	// b and other is nil; else b is returned as it came and other is the value.
	appendTo(b []byte, frame *interpreter.ExecutionFrame) (out []byte, other ref.Val)
}

// appendValue appends the value of e to b when it is a string, else returns it as other.
func appendValue(b []byte, e interpreter.InterpretableV2, frame *interpreter.ExecutionFrame) ([]byte, ref.Val) {
	if a, ok := e.(appender); ok {
		return a.appendTo(b, frame)
	}
	v := e.Exec(frame)
	if s, ok := v.(types.String); ok {
		return append(b, s...), nil
	}
	return b, v
}

// execString is Exec of an appender: its value written into a pooled buffer, then made a string.
func execString(a appender, frame *interpreter.ExecutionFrame) ref.Val {
	bp := hmacBuffers.Get().(*[]byte)
	b, other := a.appendTo((*bp)[:0], frame)
	var v ref.Val = other
	if other == nil {
		v = types.String(b)
	}
	releaseBuffer(bp, b)
	return v
}

// releaseBuffer puts b, grown from *bp, back in hmacBuffers unless it grew large.
func releaseBuffer(bp *[]byte, b []byte) {
	if cap(b) <= 4<<10 {
		*bp = b[:0]
		hmacBuffers.Put(bp)
	}
}

// appendTo implements appender. With a constant separator the elements are appended as they are
// evaluated; the join's own errors, which come after every element and the separator have been
// evaluated, are then decided from what was appended, as join decides them.
func (j *joinLiteral) appendTo(b []byte, frame *interpreter.ExecutionFrame) ([]byte, ref.Val) {
	c, ok := j.sep.(interpreter.InterpretableConst)
	var sep types.String
	if ok {
		sep, ok = c.Value().(types.String)
	}
	if !ok {
		v := j.Exec(frame)
		if s, ok := v.(types.String); ok {
			return append(b, s...), nil
		}
		return b, v
	}
	start := len(b)
	var unk *types.Unknown
	bad, badVal := -1, ref.Val(nil)
	for i, e := range j.elems {
		if i > 0 {
			b = append(b, sep...)
		}
		var other ref.Val
		if b, other = appendValue(b, e, frame); other == nil {
			continue
		}
		var err ref.Val
		if err, unk = unknownOrErr(other, unk); err != nil {
			return b[:start], err
		}
		if _, isUnk := other.(*types.Unknown); !isUnk && bad < 0 {
			bad, badVal = i, other
		}
	}
	if unk != nil {
		return b[:start], unk
	}
	// What join counts: the separators and the string elements.
	if total := int64(len(b) - start); total > j.lib.maxString {
		return b[:start], labelErr(j.id, tooLong("joinStrings", total, j.lib.maxString))
	}
	if bad >= 0 {
		return b[:start], labelErr(j.id, types.NewErr("joinStrings: element %d is %s, not string", bad, badVal.Type().TypeName()))
	}
	return b, nil
}

// hmacCall is hmacSha1 or hmacSha256 of an appender's string: the message is written straight
// into the buffer it is hashed from. It is evaluated as CEL evaluates the call: the message,
// then the key, the first error, unknowns merged, and the function's own errors.
type hmacCall struct {
	id              int64
	msg, key        interpreter.InterpretableV2
	sum             func(dst, data []byte) []byte
	blockSize, size int
	fn              func(ref.Val, ref.Val) ref.Val // the function, for values that are not strings
}

// newHMACCall returns the hmacCall of the call of overload over args, if it is one.
func newHMACCall(id int64, overload string, args []interpreter.InterpretableV2) (interpreter.InterpretableV2, bool) {
	if len(args) != 2 {
		return nil, false
	}
	if _, ok := args[0].(appender); !ok {
		return nil, false
	}
	c := &hmacCall{id: id, msg: args[0], key: args[1]}
	switch overload {
	case "hmacSha1_string_string":
		c.sum, c.blockSize, c.size = sha1Sum, sha1.BlockSize, sha1.Size
	case "hmacSha256_string_string":
		c.sum, c.blockSize, c.size = sha256Sum, sha256.BlockSize, sha256.Size
	default:
		return nil, false
	}
	c.fn = hmacHex(c.sum, c.blockSize, c.size)
	return c, true
}

func (c *hmacCall) ID() int64 { return c.id }

func (c *hmacCall) Eval(act interpreter.Activation) ref.Val { return evalIn(c, act) }

func (c *hmacCall) Exec(frame *interpreter.ExecutionFrame) ref.Val { return execString(c, frame) }

func (c *hmacCall) appendTo(b []byte, frame *interpreter.ExecutionFrame) ([]byte, ref.Val) {
	bp := hmacBuffers.Get().(*[]byte)
	buf := slices.Grow((*bp)[:0], c.blockSize)[:c.blockSize] // the pad goes here, once the key is known
	buf, msg := appendValue(buf, c.msg, frame)
	if msg != nil {
		releaseBuffer(bp, buf)
		return b, binaryCall(c.id, msg, c.key, frame, c.fn)
	}
	key := c.key.Exec(frame)
	k, ok := key.(types.String)
	if !ok {
		releaseBuffer(bp, buf)
		switch key.(type) {
		case *types.Err, *types.Unknown:
			return b, key
		}
		return b, labelErr(c.id, types.MaybeNoSuchOverloadErr(key))
	}
	buf = hmacInto(c.sum, c.blockSize, c.size, string(k), buf)
	b = append(b, buf[len(buf)-2*c.size:]...)
	releaseBuffer(bp, buf)
	return b, nil
}

// binaryCall ends a strict call of two arguments, as CEL's does, whose first argument lhs is an
// error, an unknown or a value fn rejects: the second argument is evaluated, the first error or
// the unknowns are the result, else what fn makes of the two.
func binaryCall(id int64, lhs ref.Val, rhs interpreter.InterpretableV2, frame *interpreter.ExecutionFrame,
	fn func(ref.Val, ref.Val) ref.Val) ref.Val {
	switch l := lhs.(type) {
	case *types.Err:
		return l
	case *types.Unknown:
		if r, ok := rhs.Exec(frame).(*types.Unknown); ok {
			return types.MergeUnknowns(l, r)
		}
		return l
	}
	r := rhs.Exec(frame)
	switch r.(type) {
	case *types.Err, *types.Unknown:
		return r
	}
	return labelErr(id, fn(lhs, r))
}

// base64Call is base64Encode of an appender's string, encoded from the buffer it is written to.
type base64Call struct {
	id  int64
	arg appender
}

func (c *base64Call) ID() int64 { return c.id }

func (c *base64Call) Eval(act interpreter.Activation) ref.Val { return evalIn(c, act) }

func (c *base64Call) Exec(frame *interpreter.ExecutionFrame) ref.Val { return execString(c, frame) }

func (c *base64Call) appendTo(b []byte, frame *interpreter.ExecutionFrame) ([]byte, ref.Val) {
	bp := hmacBuffers.Get().(*[]byte)
	buf, other := c.arg.appendTo((*bp)[:0], frame)
	if other == nil {
		b = base64.StdEncoding.AppendEncode(b, buf)
	}
	releaseBuffer(bp, buf)
	switch other.(type) {
	case nil, *types.Err, *types.Unknown:
		return b, other
	}
	return b, labelErr(c.id, types.MaybeNoSuchOverloadErr(other))
}

// prefixed is a constant string + an appender's string (IBM's DUO outgoing transforms send
// "Basic " + the base64 of the signed key), the appender's text written after the prefix. An
// appender's value is a string, an error or unknowns, so CEL's + has nothing else to reject:
// an error or unknowns are the result, a string is appended.
type prefixed struct {
	id     int64
	prefix types.String
	rhs    appender
}

func (c *prefixed) ID() int64 { return c.id }

func (c *prefixed) Eval(act interpreter.Activation) ref.Val { return evalIn(c, act) }

func (c *prefixed) Exec(frame *interpreter.ExecutionFrame) ref.Val { return execString(c, frame) }

func (c *prefixed) appendTo(b []byte, frame *interpreter.ExecutionFrame) ([]byte, ref.Val) {
	start := len(b)
	b, other := c.rhs.appendTo(append(b, c.prefix...), frame)
	if other != nil {
		return b[:start], other
	}
	return b, nil
}

// appendCalls turns hmacSha1, hmacSha256 and base64Encode of an appender, and a constant
// string + an appender, into the calls above.
func appendCalls(i interpreter.InterpretableV2) interpreter.InterpretableV2 {
	call, ok := i.(interpreter.InterpretableCall)
	if !ok {
		return i
	}
	args := call.Args()
	switch call.OverloadID() {
	case "add_string":
		if len(args) != 2 {
			break
		}
		lhs, ok := args[0].(interpreter.InterpretableConst)
		if !ok {
			break
		}
		prefix, ok := lhs.Value().(types.String)
		if !ok {
			break
		}
		if rhs, ok := args[1].(appender); ok {
			return &prefixed{id: call.ID(), prefix: prefix, rhs: rhs}
		}
	case "hmacSha1_string_string", "hmacSha256_string_string":
		if c, ok := newHMACCall(call.ID(), call.OverloadID(), args); ok {
			return c
		}
	case "string_base64Encode":
		if len(args) == 1 {
			if a, ok := args[0].(appender); ok {
				return &base64Call{id: call.ID(), arg: a}
			}
		}
	}
	return i
}
