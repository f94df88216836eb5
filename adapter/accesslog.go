package adapter

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// NewLogHandler is slog's JSON handler writing to w with opts, as slog.NewJSONHandler
// is, but one whose access-log lines the adapter writes itself: byte for byte the line
// slog would write for the same record, without slog's attribute machinery and its
// json.Marshal of the duration (~17k instructions and several allocations a request,
// a tenth of a mediated enrollments call's own CPU). Lines from the two paths never
// interleave: both write whole lines to w under one lock. With a ReplaceAttr or
// AddSource in opts, or once the handler is derived by WithAttrs or WithGroup, the
// access log goes through slog as any other line.
func NewLogHandler(w io.Writer, opts *slog.HandlerOptions) slog.Handler {
	lw := &lockedWriter{w: w}
	h := &jsonLog{Handler: slog.NewJSONHandler(lw, opts), w: lw}
	h.direct = opts == nil || (opts.ReplaceAttr == nil && !opts.AddSource)
	return h
}

// jsonLog is NewLogHandler's handler: slog's, and the writer it writes through.
type jsonLog struct {
	slog.Handler // *slog.JSONHandler over w
	w            *lockedWriter
	// direct: the options leave a line as slog writes it by default, so the access log
	// may write its own.
	direct bool
}

func (h *jsonLog) Enabled(ctx context.Context, l slog.Level) bool { return h.Handler.Enabled(ctx, l) }

func (h *jsonLog) Handle(ctx context.Context, r slog.Record) error { return h.Handler.Handle(ctx, r) }

// WithAttrs and WithGroup hand back slog's own handler, writing through the same lock:
// a line with preformatted attributes or a group is slog's to write.
func (h *jsonLog) WithAttrs(attrs []slog.Attr) slog.Handler { return h.Handler.WithAttrs(attrs) }

func (h *jsonLog) WithGroup(name string) slog.Handler { return h.Handler.WithGroup(name) }

// lockedWriter makes each Write whole with respect to the others: slog's handler holds
// its own mutex, which the access log's direct lines cannot take.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// accessRecord is what one access-log line says, in the order slog writes its attributes.
type accessRecord struct {
	method, path string
	status       int
	durationMS   float64
	bytes        int64
	remote       string
	requestID    string
	provider     string
	hasProvider  bool
	webhookID    string
	hasWebhookID bool
	actor        string // written when not empty
	retry        bool   // written when true
}

// attrs is the line as slog attributes, for a handler other than NewLogHandler's.
func (a *accessRecord) attrs() []slog.Attr {
	attrs := make([]slog.Attr, 0, 11)
	attrs = append(attrs,
		slog.String("method", a.method), slog.String("path", a.path), slog.Int("status", a.status),
		slog.Float64("duration_ms", a.durationMS), slog.Int64("bytes", a.bytes), slog.String("remote", a.remote),
		slog.String("request_id", a.requestID))
	if a.hasProvider {
		attrs = append(attrs, slog.String("provider", a.provider))
	}
	if a.hasWebhookID {
		attrs = append(attrs, slog.String("webhook_id", a.webhookID))
	}
	if a.actor != "" {
		attrs = append(attrs, slog.String("actor", a.actor)) // the admin token's name, a refused one's too
	}
	if a.retry {
		attrs = append(attrs, slog.Bool("retry", true))
	}
	return attrs
}

// writeAccess writes a's line at level and time t to h's writer, as slog's JSON handler
// would for the record of message "request" with a.attrs(), and reports whether it did:
// not when h's options or derivation change slog's line, or a value is one slog would
// write an error for (a year outside 0–9999, a duration that is not a number).
func (h *jsonLog) writeAccess(t time.Time, level slog.Level, a *accessRecord) bool {
	if !h.direct {
		return false
	}
	bp := lineBufs.Get().(*[]byte)
	buf, ok := appendAccessLine((*bp)[:0], t, level, a)
	if ok {
		_, _ = h.w.Write(buf)
	}
	if cap(buf) <= maxPooledLine {
		*bp = buf
		lineBufs.Put(bp)
	}
	return ok
}

// maxPooledLine: a longer line's buffer is left to the collector, not kept in the pool.
const maxPooledLine = 4 << 10

var lineBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendAccessLine appends a's line to buf as slog's JSON handler writes it (default
// options, no preformatted attributes or groups): time, level and message first, then
// the attributes, each string escaped as slog escapes it.
func appendAccessLine(buf []byte, t time.Time, level slog.Level, a *accessRecord) ([]byte, bool) {
	if y := t.Year(); y < 0 || y >= 10000 {
		return buf, false // slog writes an error into the time
	}
	if math.IsInf(a.durationMS, 0) || math.IsNaN(a.durationMS) {
		return buf, false // json.Marshal refuses it; slog writes the error
	}
	buf = append(buf, `{"time":"`...)
	buf = t.Round(0).AppendFormat(buf, time.RFC3339Nano)
	buf = append(buf, `","level":"`...)
	buf = appendJSONEscaped(buf, level.String())
	buf = append(buf, `","msg":"request","method":"`...)
	buf = appendJSONEscaped(buf, a.method)
	buf = append(buf, `","path":"`...)
	buf = appendJSONEscaped(buf, a.path)
	buf = append(buf, `","status":`...)
	buf = strconv.AppendInt(buf, int64(a.status), 10)
	buf = append(buf, `,"duration_ms":`...)
	buf = appendJSONFloat(buf, a.durationMS)
	buf = append(buf, `,"bytes":`...)
	buf = strconv.AppendInt(buf, a.bytes, 10)
	buf = append(buf, `,"remote":"`...)
	buf = appendJSONEscaped(buf, a.remote)
	buf = append(buf, `","request_id":"`...)
	buf = appendJSONEscaped(buf, a.requestID)
	buf = append(buf, '"')
	if a.hasProvider {
		buf = append(buf, `,"provider":"`...)
		buf = appendJSONEscaped(buf, a.provider)
		buf = append(buf, '"')
	}
	if a.hasWebhookID {
		buf = append(buf, `,"webhook_id":"`...)
		buf = appendJSONEscaped(buf, a.webhookID)
		buf = append(buf, '"')
	}
	if a.actor != "" {
		buf = append(buf, `,"actor":"`...)
		buf = appendJSONEscaped(buf, a.actor)
		buf = append(buf, '"')
	}
	if a.retry {
		buf = append(buf, `,"retry":true`...)
	}
	return append(buf, "}\n"...), true
}

// appendJSONFloat appends f as encoding/json writes a float64, which slog's JSON handler
// calls for one: like %g, but with ES6's exponent cutoffs and no padded exponent.
func appendJSONFloat(buf []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	buf = strconv.AppendFloat(buf, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9
		if n := len(buf); n >= 4 && buf[n-4] == 'e' && buf[n-3] == '-' && buf[n-2] == '0' {
			buf[n-2] = buf[n-1]
			buf = buf[:n-1]
		}
	}
	return buf
}

// jsonPlain marks the bytes slog's JSON handler writes as they are: printable ASCII and
// DEL, other than the quote and the backslash (its safeSet): one look-up a byte.
var jsonPlain = func() (t [256]bool) {
	for b := ' '; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// appendJSONEscaped appends s as slog's JSON handler escapes a string, without its
// quotes: ", \ and control characters escaped (\n, \r, \t by name, others as \u00XX),
// each byte that is not UTF-8 as \ufffd, U+2028 and U+2029 as \u2028 and \u2029; <, >
// and & as they are.
func appendJSONEscaped(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	i := 0
	for i < len(s) && jsonPlain[s[i]] {
		i++
	}
	if i == len(s) {
		return append(buf, s...) // nothing to escape: most of a line's strings
	}
	start := 0
	for i < len(s) {
		b := s[i]
		if jsonPlain[b] {
			i++
			continue
		}
		if b < utf8.RuneSelf {
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\')
			switch b {
			case '\\', '"':
				buf = append(buf, b)
			case '\n':
				buf = append(buf, 'n')
			case '\r':
				buf = append(buf, 'r')
			case '\t':
				buf = append(buf, 't')
			default:
				buf = append(buf, 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\u202`...)
			buf = append(buf, hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(buf, s[start:]...)
}
