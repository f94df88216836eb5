package adapter

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// auth0AsBefore is parseAuth0 as it was before an array's entries were read one at a
// time (24aa344^): the array checked and decoded whole, each entry decoded, refusals
// counted without the listing's cap. What changed on purpose since is read as now: a body
// that is one object is one entry, and keys differing in case are told apart below the
// fields (auth0Fields, the entry's data checked with it); else each input read now and
// refused before failed the target.
func auth0AsBefore(body []byte) (events int, p parsed, err error) {
	var raws []json.RawMessage
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return 0, parsed{}, malformed("empty body")
	case trimmed[0] == '[':
		if err := decodeJSON(trimmed, &raws); err != nil {
			return 0, parsed{}, err
		}
	case trimmed[0] == '{' && json.Valid(trimmed):
		raws = append(raws, trimmed)
	default:
		for line := range bytes.Lines(trimmed) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				raws = append(raws, line)
			}
		}
	}
	for _, raw := range raws {
		var e auth0Entry
		if err := decodeFields(raw, &e, auth0Fields); err != nil {
			p.refuse("", "")
			continue
		}
		if len(e.Data) > 0 {
			var inner auth0Entry
			if err := json.Unmarshal(e.Data, &inner); err != nil {
				p.refuse(e.LogID, "")
				continue
			}
			if inner.LogID == "" {
				inner.LogID = e.LogID
			}
			e = inner
		}
		if e.LogID == "" || e.Type == "" {
			p.refuse(e.LogID, "")
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, e.Date)
		if err != nil {
			p.refuse(e.LogID, "")
			continue
		}
		var call *auth0Call
		if e.Type == "sapi" && len(e.Details) > 0 {
			if err := json.Unmarshal(e.Details, &call); err != nil {
				p.refuse(e.LogID, "")
				continue
			}
		}
		ev, ok := auth0Event(e, call)
		if !ok {
			p.ignored++
			continue
		}
		ev.ID, ev.Time = e.LogID, at
		p.events = append(p.events, ev)
	}
	p, err = p.whole()
	return len(p.events), p, err
}

// FuzzParseAuth0AsBefore: an Auth0 body read before the array's entries were read
// one at a time is read now to the same events, ignored and refused counts; and one
// refused before is refused now unless the array named a key twice or nested deeper than
// emfa reads, which now refuses the entry alone.
func FuzzParseAuth0AsBefore(f *testing.F) {
	ok := `{"log_id":"a1","type":"ss","date":"2026-05-01T09:00:00Z","user_name":"alice@example.com"}`
	f.Add(`[` + ok + `]`)
	f.Add(`[` + ok + `,0,null,{},{"log_id":"a2","data":{"type":"du","date":"2026-05-01T09:00:00Z","user_name":"b"}}]`)
	f.Add(ok + "\n" + `{"log_id":"a3","type":"sapi","date":"2026-05-01T09:00:00Z","details":{"request":{"method":"DELETE","path":"/api/v2/users/x"},"response":{"body":{"email":"c"}}}}`)
	f.Add(` [ ` + ok + ` , {"log_id":"a2","log_id":"a3"} ] `)
	// Read since E74: an object over several lines, keys differing in case in a customer's
	// data.
	f.Add("{\n \"log_id\": \"a5\",\n \"type\": \"ss\",\n \"date\": \"2026-05-01T09:00:00Z\",\n \"user_name\": \"e\"\n}")
	f.Add(`{"log_id":"a6","type":"ss","date":"2026-05-01T09:00:00Z","user_name":"f","details":{"m":{"A":1,"a":2}}}`)
	// Refused before and now, now as one body, where it stops being JSON (E88).
	f.Add("{\n \"log_id\": \"a7\"\n \"type\": \"ss\"\n}")
	// Read past the refusals whose reasons are kept, where one is refused without words.
	f.Add(strings.Repeat("0\n{\n", 11) + ok + "\r\n" + `{"log_id":"a8","data":{"type":"du","date":"2026-05-01T09:00:00Z","user_name":"b"}}` + "\n{\"log_id\":\"a9\"}")
	// Past them, entries too short to name a log_id are refused unread; the shortest that
	// names one is read for it.
	f.Add(strings.Repeat("0\n", 20) + "{}\n{ }\n{\"a\":0}\n{\"log_id\":\"\"}\n{\"log_id\":\"x\"}\n{\"LOG_ID\":\"y\"}\n{\"data\":{}}\n" + ok)
	f.Add("[" + strings.Repeat("0,", 20) + `{},{"log_id":"x"},{"Log_Id":"y"},` + ok + "]")
	// Past them, entries refused from their keys and values without being decoded, with
	// their ids (listed, then counted), and entries like them that are read whole: an
	// escape, a key not ASCII (encoding/json matches "detailſ" to details), an object or
	// an array for a value, trailing bytes, a date, seventeen keys.
	refused := []string{`{"log_id":"x"}`, `{"LOG_ID":"x1","type":"ss"}`, `{"log_id":"x2","type":null,"date":"2026-05-01T09:00:00Z"}`,
		`{"log_id":null,"type":"ss"}`, `{"log_id":"x3","data":null}`, `{"log_id":"x4","data":"s","type":5}`, `{"type":true,"log_id":"x5"}`,
		`{"log_id":"x6","type":"ss","date":""}`, `{"log_id":"x7","a":1,"A":2}`, `{"log_id":"x8","type":"ss","user_name":"u","date":"soon"}`,
		`{"log_id":"x\u0039"}`, `{"log\u005fid":"x10"}`, "{\"log_id\":\"x\xff\"}", `{"detailſ":1,"log_id":"x12"}`, `{"log_id":"x13","details":{"a":1,"a":2}}`,
		`{"log_id":"x14","type":"ss","date":"2026-05-01T09:00:00Z","user_name":"u","x":[1]}`, `{"log_id":"x15"}x}`, `{"log_id":"x16",}`,
		`{"log_id":"x17" "type":"ss"}`, `{"log_id":"x18","type":"du","date":"2026-05-01T09:00:00Z","user_name":"u"}`,
		`{"log_id":"x19","a":0,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0,"h":0,"i":0,"j":0,"k":0,"l":0,"m":0,"n":0,"o":0,"p":0}`,
		`{"log_id":"x20","data":5,"log_id":"x21"}`, ` { "log_id" : "x22" , "n" : -1.5e3 } `, `{"log_İd":"x23"}`}
	f.Add(strings.Repeat("0\n", 20) + strings.Join(refused, "\n") + "\n" + ok)
	f.Add(strings.Repeat("0\n", 2) + strings.Join(refused, "\n") + "\n" + strings.Join(refused, "\n") + "\n" + ok)
	f.Add("[" + strings.Repeat("0,", 20) + strings.Join(slices.DeleteFunc(slices.Clone(refused), func(e string) bool { return !json.Valid([]byte(e)) }), ",") + "," + ok + "]")
	f.Fuzz(func(t *testing.T, body string) {
		p, err := parseAuth0(nil, []byte(body))
		_, old, oldErr := auth0AsBefore([]byte(body))
		if oldErr != nil {
			trimmed := bytes.TrimSpace([]byte(body))
			if err == nil && (len(trimmed) == 0 || trimmed[0] != '[' || checkUniqueKeys(trimmed) == nil) {
				t.Fatalf("refused before (%v), read now", oldErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("read before, refused now: %v", err)
		}
		if !reflect.DeepEqual(p.events, old.events) || p.ignored != old.ignored || p.nRefused != old.nRefused || p.nRefusedIDs != old.nRefusedIDs ||
			!slices.Equal(p.refusedIDs, old.refusedIDs) {
			t.Fatalf("now %d events, %d ignored, %d refused (%d ids %q); before %d, %d, %d (%d %q)",
				len(p.events), p.ignored, p.nRefused, p.nRefusedIDs, p.refusedIDs, len(old.events), old.ignored, old.nRefused, old.nRefusedIDs, old.refusedIDs)
		}
	})
}
