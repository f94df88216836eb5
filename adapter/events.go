package adapter

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/internal/jsonkeys"
	"github.com/emfa/emfa/internal/textpos"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/sync"
)

// Directory sync's inbound side: each source is a thin handler that authenticates the
// source, turns its payload into lifecycle events (events_okta.go, events_verify.go,
// events_auth0.go; SCIM in scim.go) and writes them to the durable queue before it
// answers, so an acknowledged event survives a crash. A payload that does not parse is
// refused (400) and queues nothing; one that names a user emfa does not know is queued,
// waits a while for that user's late create (sync.UserWait), then is skipped by the worker
// and logged, never refused into a retry loop. Bodies and secrets
// are never logged.

// Paths of the sync sources.
const (
	SCIMPrefix = "/scim/v2"
	OktaPath   = "/sync/okta"
	VerifyPath = "/sync/verify"
	Auth0Path  = "/sync/auth0"

	syncMaxBody = 4 << 20
	syncTimeout = 10 * time.Second
)

// Sync configures the directory sources; a source without credentials is off.
type Sync struct {
	Queue   *sync.Queue
	Manager *lifecycle.Manager
	// SCIMToken is the bearer token of /scim/v2; empty: SCIM is off.
	SCIMToken string
	Okta      SecretHeader
	// OktaMFAReset is sync.okta.mfaReset: which of Okta's factor deactivations and resets
	// reset a user's emfa factors (OktaResetOthers, the default, OktaResetAll, OktaResetNone).
	OktaMFAReset string
	Verify       SecretHeader
	Auth0        SecretHeader
	// userPage is how many users a SCIM listing that no index selects reads at a time;
	// 0: 1,000. Tests set fewer, to read several pages of a small directory.
	userPage int
}

// SecretHeader is a source's shared secret: the header and the value it sends.
type SecretHeader struct{ Name, Value string }

func (h SecretHeader) on() bool { return h.Name != "" && h.Value != "" }

// Counts of events received since start, by outcome.
type SyncCounts struct {
	Queued, Duplicate, Ignored, Refused atomic.Int64
}

type syncAPI struct {
	s      *Server
	o      Sync
	counts *SyncCounts
	writes writeLocks // SCIM writes of one resource take turns (scim_write.go)
}

// routeSync serves the enabled sources.
func (s *Server) routeSync(e *echo.Echo, o Sync) {
	api := &syncAPI{s: s, o: o, counts: &s.syncCounts}
	if o.Okta.on() {
		e.GET(OktaPath, api.oktaVerify, api.secret("okta", o.Okta))
		e.POST(OktaPath, api.source("okta", parseOktaAs(o.OktaMFAReset)), api.secret("okta", o.Okta))
	}
	if o.Verify.on() {
		e.POST(VerifyPath, api.source("verify", parseVerify), api.secret("verify", o.Verify))
	}
	if o.Auth0.on() {
		e.POST(Auth0Path, api.source("auth0", parseAuth0), api.secret("auth0", o.Auth0))
	}
	if o.SCIMToken != "" {
		api.routeSCIM(e)
	}
}

// SyncCounts are the directory events received since start.
func (s *Server) SyncCounts() *SyncCounts { return &s.syncCounts }

// equalSecret compares in constant time, whatever the lengths.
func equalSecret(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// secret admits a request that carries the source's header secret.
func (api *syncAPI) secret(source string, h SecretHeader) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !equalSecret(c.Request().Header.Get(h.Name), h.Value) {
				api.s.authFailures.Add(1)
				api.s.log.Warn("sync source authentication failed", "source", source, "remote", c.RealIP(),
					"request_id", callRequestID(c))
				return &Error{Status: http.StatusUnauthorized, ID: "unauthorized", Msg: "missing or wrong secret header"}
			}
			api.s.widenConn(c)
			return next(c)
		}
	}
}

// parsed is what a source's payload says: events to queue, and how many entries it
// ignored (types emfa does not act on, failures).
type parsed struct {
	events  []provider.LifecycleEvent
	ignored int
	// refused are the reasons of the first maxListedRefusals events of a batch that could
	// not be read, nRefused how many there were: the rest of the batch is queued (Okta
	// does not send a batch answered 4xx again), unless every event was refused. Only
	// those listed are kept: a body of tiny entries, each refused, kept two million
	// reasons, gigabytes, of which a log line lists twenty.
	refused  []string
	nRefused int
	// refusedIDs are the source's ids of the first refused events that had one (Okta's
	// uuid, Auth0's log_id), nRefusedIDs how many had one, and batch the batch's own
	// (Okta's eventId): what an operator looks for at the source, never the content.
	refusedIDs  []string
	nRefusedIDs int
	batch       string
}

// refuse records a malformed event of a batch, and its id when it has one.
func (p *parsed) refuse(id, why string) {
	p.nRefused++
	if len(p.refused) < maxListedRefusals {
		p.refused = append(p.refused, why)
	}
	if id != "" {
		p.nRefusedIDs++
		if len(p.refusedIDs) < maxListedRefusals {
			p.refusedIDs = append(p.refusedIDs, logID(id))
		}
	}
}

// keeps reports whether the reason of the next event refused is kept: past the first
// maxListedRefusals only the count is, and wording why one was refused cost more than
// reading it (a body of two million refused lines, each placed at its line and column
// and then dropped, took seconds of CPU).
func (p *parsed) keeps() bool { return len(p.refused) < maxListedRefusals }

// refuseAt is refuse with the reason prefix+i+rest (an event's place in its batch, and
// why), worded only when it is one that is kept.
func (p *parsed) refuseAt(id, prefix string, i int, rest string) {
	why := ""
	if len(p.refused) < maxListedRefusals {
		why = prefix + itoa(i) + rest
	}
	p.refuse(id, why)
}

// logID is a source's id as logged: at most 100 bytes.
func logID(id string) string {
	if len(id) > 100 {
		return id[:100] + "…"
	}
	return id
}

// maxEventID is the longest source id an event may have: Okta's uuid and Verify's id are
// 36 bytes, Auth0's log_id about 56.
const maxEventID = 256

// screen refuses, as events that cannot be read, those whose id, user or group the queue
// cannot hold: an id with a control character or longer than maxEventID, a name that
// lifecycle refuses (control characters, a NUL among them; longer than 256 bytes). The
// queue writes a batch in one commit, and PostgreSQL refuses a NUL in text and an index
// entry of kilobytes: one such event would fail the whole batch, answered 503, which Okta
// sends once more and then drops with every event in it. Such an event could never apply
// anyway.
//
// A user's name is held here to what any stored name meets (lifecycle.CheckName), not to
// what a new user's must (CheckNewName): whether an event creates a user is known only
// where it applies, in the order of that user's events. A creation of a user stored
// under a name that rule refuses is that user's update, and after its deletion, queued
// before it, a new user's: CreateUser refuses it there, and the worker skips it, logged
// once with that reason. Refused here, every event of such a user (its suspension, its
// deletion) was lost.
func (p parsed) screen() parsed {
	kept := p.events[:0:0]
	for _, ev := range p.events {
		id, why := ev.ID, ""
		switch {
		case len(ev.ID) > maxEventID || strings.ContainsFunc(ev.ID, unicode.IsControl) || !utf8.ValidString(ev.ID):
			id, why = "", "an id longer than "+itoa(maxEventID)+" bytes or with control characters"
		case ev.Username != "" && lifecycle.CheckName(ev.Username) != nil:
			why = "a user name emfa cannot hold: " + lifecycle.CheckName(ev.Username).Msg
		case ev.Group != "" && lifecycle.CheckGroupName(ev.Group) != nil:
			why = "a group name emfa cannot hold: " + lifecycle.CheckGroupName(ev.Group).Msg
		}
		if why == "" {
			kept = append(kept, ev)
			continue
		}
		if id != "" {
			why = "event " + strconv.Quote(logID(id)) + ": " + why
		}
		p.refuse(id, why)
	}
	p.events = kept
	return p
}

// whole is p, or the refusal of the whole batch when nothing in it could be read (with
// p, whose refused events are counted).
func (p parsed) whole() (parsed, error) {
	if p.nRefused > 0 && len(p.events) == 0 && p.ignored == 0 {
		return p, malformed(listed(p.refused, p.nRefused, "; "))
	}
	return p, nil
}

// maxListedRefusals is how many refused events of a batch a log line or an answer lists:
// a batch of thousands, each listed, made lines of megabytes. The count says them all.
const maxListedRefusals = 20

// listed joins list, the first of total, with sep, and says how many more there were.
func listed(list []string, total int, sep string) string {
	if total <= len(list) {
		return strings.Join(list, sep)
	}
	return strings.Join(list, sep) + sep + "and " + itoa(total-len(list)) + " more"
}

// errMalformed is a payload refused with 400.
type errMalformed struct{ msg string }

func (e errMalformed) Error() string { return e.msg }

func malformed(msg string) error { return errMalformed{msg} }

// SyncObserver counts the events each posting source delivered, by outcome (queued,
// duplicate, ignored, refused): emfa_sync_events_received_total. An Options.Observer
// that is one is told (telemetry.Metrics is). A refused event is lost (Okta sends no
// batch answered 4xx again, Auth0 gives up after its retries): a log line alone told
// an operator, and no alert could fire on it.
type SyncObserver interface {
	SyncReceived(source, outcome string, n int)
}

// received tells the Observer, when it counts them, n events of source with outcome.
func (api *syncAPI) received(source, outcome string, n int) {
	if o, ok := api.s.observer.(SyncObserver); ok && n > 0 {
		o.SyncReceived(source, outcome, n)
	}
}

// source reads, parses and queues one request of a posting source.
func (api *syncAPI) source(name string, parse func(c echo.Context, body []byte) (parsed, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().ContentLength > syncMaxBody {
			return api.tooLarge(c, name)
		}
		body, err := readBody(c)
		if e := (*Error)(nil); errors.As(err, &e) && e.Status == http.StatusRequestEntityTooLarge {
			return api.tooLarge(c, name)
		}
		if err != nil {
			return err
		}
		p, err := parse(c, body)
		if err == nil {
			p, err = p.screen().whole()
		}
		var m errMalformed
		if errors.As(err, &m) {
			// Its events when they are known, else one: a body that could not be read.
			api.received(name, "refused", max(p.nRefused, 1))
			api.s.log.Warn("sync payload refused", "source", name, "reason", m.msg,
				"request_id", callRequestID(c))
			return badRequest(m.msg)
		}
		if err != nil {
			return err
		}
		if p.nRefused > 0 {
			api.counts.Refused.Add(int64(p.nRefused))
			attrs := []any{"source", name, "refused", p.nRefused}
			if p.nRefusedIDs > 0 {
				attrs = append(attrs, "event_ids", listed(p.refusedIDs, p.nRefusedIDs, ","))
			}
			if p.batch != "" {
				attrs = append(attrs, "batch", logID(p.batch))
			}
			attrs = append(attrs, "reasons", listed(p.refused, p.nRefused, "; "), "request_id", callRequestID(c))
			api.s.log.Warn("sync events refused, the rest of the batch queued", attrs...)
		}
		for i := range p.events {
			p.events[i].Source = name
		}
		added := 0
		if len(p.events) > 0 {
			added, err = api.o.Queue.Enqueue(c.Request().Context(), p.events)
			if err != nil {
				return unavailable(err)
			}
		}
		api.counts.Queued.Add(int64(added))
		api.counts.Duplicate.Add(int64(len(p.events) - added))
		api.counts.Ignored.Add(int64(p.ignored))
		api.received(name, "refused", p.nRefused)
		api.received(name, "queued", added)
		api.received(name, "duplicate", len(p.events)-added)
		api.received(name, "ignored", p.ignored)
		api.s.log.Info("sync events received", "source", name, "queued", added, "duplicate", len(p.events)-added,
			"ignored", p.ignored, "request_id", callRequestID(c))
		return c.NoContent(http.StatusNoContent)
	}
}

// syncSourcePath reports whether path is a posting source's (Okta, Verify, Auth0).
func syncSourcePath(path string) bool {
	return path == OktaPath || path == VerifyPath || path == Auth0Path
}

// tooLarge refuses a source's body over syncMaxBody, as a body that could not be read:
// its events are lost as those of any refused body, counted as one (none can be told)
// and logged, where limitBody's 413 before the secret was checked counted nothing and
// left only the access log's line.
func (api *syncAPI) tooLarge(c echo.Context, name string) error {
	msg := "body exceeds " + itoa(syncMaxBody) + " bytes"
	api.received(name, "refused", 1)
	api.s.log.Warn("sync payload refused", "source", name, "reason", msg, "request_id", callRequestID(c))
	return &Error{Status: http.StatusRequestEntityTooLarge, ID: "body_too_large", Msg: msg}
}

// decodeJSON refuses duplicate keys, then decodes.
func decodeJSON(data []byte, v any) error {
	if err := checkUniqueKeys(data); err != nil {
		return malformed(keysFault(data, err))
	}
	// Unmarshal, not a Decoder, whose buffer was most of what a batch of tiny entries cost
	// (a Decoder's UseNumber changed nothing: no value decodeJSON reads is an interface).
	if err := json.Unmarshal(data, v); err != nil {
		return malformed("body is not the JSON expected: " + jsonFault(err))
	}
	return nil
}

// decodeFields is decodeJSON for a source's event that relays customers' data as they
// sent it: keys that differ only in case are refused only in the objects fields names,
// those encoding/json reads into v's fields (where it matches keys in any case, so which
// would it read?); elsewhere they are distinct keys, and a key named twice exactly is
// refused anywhere (encoding/json keeps the last). Auth0, Okta and Verify events name
// their objects of fields.
func decodeFields(data []byte, v any, fields *jsonkeys.Fields) error {
	return decodeFieldsWorded(data, v, fields, true)
}

// decodeFieldsWorded is decodeFields, whose refusal says why only when worded: an event of
// a batch whose reason is not kept (parsed.keeps) is refused as errUnworded, without
// the scans of data and the words that place and name its fault.
func decodeFieldsWorded(data []byte, v any, fields *jsonkeys.Fields, worded bool) error {
	if !worded && !json.Valid(data) {
		return errUnworded
	}
	if err := jsonkeys.CheckFields(data, fields); err != nil {
		if !worded {
			return errUnworded
		}
		return malformed(keysFault(data, err))
	}
	if err := json.Unmarshal(data, v); err != nil {
		if !worded {
			return errUnworded
		}
		return malformed("body is not the JSON expected: " + jsonFault(err))
	}
	return nil
}

// errUnworded is decodeFieldsWorded's refusal when it is not to say why.
var errUnworded = malformed("refused")

// jsonFault is why a payload could not be read, as an answer and a log line say it:
// where, and what kind of value, but none of the payload's values, which encoding/json
// quotes (a number's digits, a string given for a number: megabytes at the body's
// limit, copied into the log that never holds a payload), and none of emfa's Go types.
func jsonFault(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var dup *jsonkeys.DuplicateError
	switch {
	case errors.As(err, &dup):
		return "the key " + strconv.Quote(logID(dup.Path)) + " is named twice"
	case errors.As(err, &syn):
		return "not valid JSON at byte " + strconv.FormatInt(syn.Offset, 10)
	case errors.As(err, &typ):
		kind, _, _ := strings.Cut(typ.Value, " ") // "number 1e999": the kind alone
		if typ.Field == "" {
			return "a JSON " + kind + " where another kind of value was expected"
		}
		return strconv.Quote(logID(typ.Field)) + " is a JSON " + kind + ", not the kind of value expected"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends early"
	case errors.Is(err, jsonkeys.ErrNotOneValue), errors.Is(err, jsonkeys.ErrTooDeep):
		return err.Error() // jsonkeys' own words, which quote nothing
	}
	return "a value is not of the kind expected"
}

// keysFault is why data, a body (or an entry of one), failed the check of its keys: where
// it is not JSON, or which key it names twice.
func keysFault(data []byte, err error) string {
	if at, ok := jsonSyntax(data, err); ok {
		return "body is " + at
	}
	return "body is not valid JSON without duplicate keys: " + jsonFault(err)
}

// jsonSyntax is where data stops being JSON, when err, encoding/json's refusal of the
// whole of data, is a syntax error: its line and column (in characters, from 1; the
// column alone when data is one line), as a sender that indents its JSON finds it, never
// what is there. ok is false for any other error, or an offset that is not in data.
func jsonSyntax(data []byte, err error) (at string, ok bool) {
	return jsonSyntaxTo(data, textLine{}, len(data), err)
}

// textLine is where a line of a body begins: its number (from 0) and its offset.
type textLine struct{ n, start int }

// jsonSyntaxTo is jsonSyntax for a value that ends at data[end] on the line of data that
// begins at from, an entry of JSON lines: one that ends early is placed at its end, not
// the body's. Only that line is read to place it: the lines before it counted again for
// each entry refused cost the body's length each time, minutes of CPU for a body of
// refused lines.
func jsonSyntaxTo(data []byte, from textLine, end int, err error) (at string, ok bool) {
	var syn *json.SyntaxError
	if !errors.As(err, &syn) || syn.Offset < 0 || syn.Offset > int64(end) || end > len(data) || from.start > end {
		return "", false
	}
	// Offset counts the bytes read up to and with the one refused; at the end of the value
	// the place is just after its last character.
	i, early := max(int(syn.Offset)-1, from.start), syn.Error() == "unexpected end of JSON input"
	if early {
		i = max(len(bytes.TrimRight(data[:end], " \t\r\n")), from.start)
	}
	line, column := textpos.Of(data[from.start:i], i-from.start)
	where := "column " + itoa(column)
	if from.n > 0 || bytes.IndexByte(data[from.start:], '\n') >= 0 {
		where = "line " + itoa(from.n+line) + ", " + where
	}
	if early {
		return "not valid JSON: it ends early, at " + where, true
	}
	return "not valid JSON at " + where, true
}

// jsonObjectAhead reports whether raw, an entry of a batch, begins as a JSON object: one
// that does not is refused without decoding it, which, with the error it made, cost more
// than a hundred times its bytes (a body of "0" lines).
func jsonObjectAhead(raw []byte) bool {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	return len(raw) > 0 && raw[0] == '{'
}

// jsonObjectEnds reports whether raw, an entry of a batch that begins as a JSON object,
// ends as one may: a last character, but for JSON's white space, that is not "}" tells
// that it is not JSON without reading it.
func jsonObjectEnds(raw []byte) bool {
	raw = bytes.TrimRight(raw, " \t\r\n")
	return len(raw) > 0 && raw[len(raw)-1] == '}'
}

func strp(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func itoa(i int) string { return strconv.Itoa(i) }
