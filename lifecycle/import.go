package lifecycle

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/emfa/emfa/internal/jsonkeys"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// ImportRow is one user of a directory export.
type ImportRow struct {
	Line     int    `json:"-"`
	Username string `json:"username"`
	Email    string `json:"email"`
	Phone    string `json:"phone"`
	// Country is the user's (UserInput.Country): the row's national phone number is
	// read as one of its.
	Country     string   `json:"country"`
	DisplayName string   `json:"displayName"`
	Groups      []string `json:"groups"`
	// State is active or disabled (any case); empty: a new user is active and an
	// existing one keeps its state.
	State string `json:"state"`
	// Factors are the types to pre-provision from the row's phone (smsotp, voicecall) or
	// e-mail (emailotp), active on first use.
	Factors []string `json:"factors"`
	// Absent names the profile fields (of profileColumns) the file does not give: no such
	// column in the CSV header, no such key on the JSON line. An existing user keeps them
	// as they are; a field given empty is cleared.
	Absent []string `json:"-"`
}

// profileColumns are the profile fields a row sets, or leaves alone when it lacks them.
var profileColumns = []string{"email", "phone", "country", "displayName", "groups"}

// Import formats.
const (
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
)

// csvColumns are the columns a CSV import may have; username is required. groups and
// factors hold several values separated by ';'.
var csvColumns = []string{"username", "email", "phone", "country", "displayName", "groups", "factors", "state"}

// ErrTooManyRows: a file has more rows than ParseImportMax was told to read.
var ErrTooManyRows = errors.New("too many rows")

// ParseImport reads a CSV file (a header line naming its columns) or JSON lines. A row
// that cannot be read is returned as a refusal and the others still are; an unreadable
// file is an error. A refusal names the row's user when it could be read for certain;
// one without a name may be any user's row, and a full import then deletes nobody.
func ParseImport(r io.Reader, format string) ([]ImportRow, []RowResult, error) {
	return ParseImportMax(r, format, 0)
}

// ParseImportMax is ParseImport reading at most max rows (none when max is 0), refused
// ones included, blank lines not: with one more it stops, and the error is
// ErrTooManyRows. Each row read is held until the import's report is written, some
// hundreds of bytes each however short the line ("a\n", the same user again, is two
// bytes): a bound on the body alone lets one request hold gigabytes.
func ParseImportMax(r io.Reader, format string, max int) ([]ImportRow, []RowResult, error) {
	// A UTF-8 byte order mark, as Windows tools save "UTF-8" (PowerShell's Export-Csv,
	// Excel's CSV UTF-8, Notepad), is not the file's: before a quoted CSV header it made
	// the quote a bare one, and it made a first JSON line no JSON.
	br := bufio.NewReaderSize(r, 64<<10)
	if b, _ := br.Peek(3); string(b) == "\ufeff" {
		_, _ = br.Discard(3)
	}
	// A UTF-16 file (Windows PowerShell's > and Out-File write it) or a tab-separated
	// one was refused as an unknown column "\xff\xfeu\x00s\x00…" or "username\temail",
	// or every JSON line refused: the refusal now says what the file is and how to save it.
	head, _ := br.Peek(64 << 10)
	if err := unreadableText(head, format); err != nil {
		return nil, nil, err
	}
	r = br
	switch format {
	case FormatCSV:
		return parseCSV(r, max)
	case FormatJSONL:
		return parseJSONL(r, max)
	}
	return nil, nil, invalid("invalid_format", "format", "must be csv or jsonl, not %q", format)
}

// unreadableText refuses, from its first bytes, a file emfa cannot read as its format:
// UTF-16 text (a byte order mark, or a NUL byte, which no UTF-8 CSV or JSON text holds),
// or, as CSV, a header line separated by tabs and not by commas.
func unreadableText(head []byte, format string) error {
	save := "UTF-8"
	if format == FormatCSV {
		save = `comma-separated CSV in UTF-8 (Excel's "CSV UTF-8")`
	}
	first := head[:min(len(head), 512)]
	if bytes.HasPrefix(first, []byte{0xff, 0xfe}) || bytes.HasPrefix(first, []byte{0xfe, 0xff}) || bytes.IndexByte(first, 0) >= 0 {
		return invalid("invalid_file", "file", "the file is UTF-16 text (as Windows PowerShell's > and Out-File save it), not UTF-8: "+
			"save it as %s, e.g. with Export-Csv or Out-File -Encoding utf8", save)
	}
	if format != FormatCSV {
		return nil
	}
	line, _, _ := bytes.Cut(head, []byte("\n"))
	if bytes.IndexByte(line, '\t') >= 0 && bytes.IndexByte(line, ',') < 0 {
		return invalid("invalid_file", "header", "the header line's fields are separated by tabs (as Excel's \"Text (Tab delimited)\" saves them), "+
			"emfa's by commas: save it as %s", save)
	}
	return nil
}

// tooMany reports whether rows and refusals, read so far, are more than max (0: no bound).
func tooMany(rows []ImportRow, bad []RowResult, max int) error {
	if max > 0 && len(rows)+len(bad) > max {
		return fmt.Errorf("%w: the file has more than %d", ErrTooManyRows, max)
	}
	return nil
}

func parseCSV(r io.Reader, max int) ([]ImportRow, []RowResult, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err == io.EOF {
		// encoding/csv skips blank lines: a file of them is empty too.
		return nil, nil, invalid("invalid_file", "file", "the file is empty: no CSV header line naming its columns (%s), which a CSV import starts with",
			strings.Join(csvColumns, ","))
	}
	if err != nil {
		return nil, nil, invalid("invalid_file", "file", "no CSV header line: %v", err)
	}
	col := map[string]int{}
	var unnamed []int // columns the header leaves empty, as Excel writes trailing ones
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if h == "" {
			unnamed = append(unnamed, i)
			continue
		}
		j := slices.IndexFunc(csvColumns, func(c string) bool { return strings.EqualFold(c, h) })
		if j < 0 && strings.Contains(h, "\r") {
			// encoding/csv ends a line at "\n" alone: a file of "\r" line ends is one line.
			return nil, nil, invalid("invalid_file", "header", "the file's lines end in a carriage return alone (as Excel for Mac's \"CSV (Macintosh)\" saves them), "+
				"which reads as one line; save it as CSV with CRLF or LF line ends (\"CSV UTF-8\")")
		}
		if j < 0 && len(header) == 1 && strings.Contains(h, ";") {
			// Excel writes "CSV" with semicolons where a comma is the decimal separator.
			return nil, nil, invalid("invalid_file", "header", "the header %q is one column: the file's fields are separated by semicolons, "+
				"emfa's by commas (a semicolon separates the groups and factors inside a field); save it as comma-separated CSV", h)
		}
		if j < 0 {
			return nil, nil, invalid("invalid_file", "header", "unknown column %q (want %s)", h, strings.Join(csvColumns, ", "))
		}
		if _, dup := col[csvColumns[j]]; dup {
			return nil, nil, invalid("invalid_file", "header", "column %q twice", h)
		}
		col[csvColumns[j]] = i
	}
	if _, ok := col["username"]; !ok {
		return nil, nil, invalid("invalid_file", "header", "no username column")
	}
	var absent []string
	for _, c := range profileColumns {
		if _, ok := col[c]; !ok {
			absent = append(absent, c)
		}
	}
	var rows []ImportRow
	var bad []RowResult
	// A row whose fields cannot be told apart is refused without a name, whatever its
	// username column holds (that is only a hint in the message): with a comma too many
	// or too few before it, or a quote left open, that column holds another field, or the
	// rows after it.
	for {
		if err := tooMany(rows, bad, max); err != nil {
			return nil, nil, err
		}
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, bad, nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			msg := pe.Err.Error()
			if pe.Line > pe.StartLine {
				msg += fmt.Sprintf(": the row starting on line %d runs to line %d, as when a quote is left open", pe.StartLine, pe.Line)
			}
			bad = append(bad, refused(pe.StartLine, "", invalid("invalid_row", "", "%s%s", msg, usernameHint(rec, col))))
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		line, _ := cr.FieldPos(0)
		if !slices.ContainsFunc(rec, func(f string) bool { return strings.TrimSpace(f) != "" }) {
			continue // a row of empty cells, as spreadsheets write below the last: a blank line
		}
		if len(rec) != len(header) {
			bad = append(bad, refused(line, "", invalid("invalid_row", "", "%d fields, the header has %d%s", len(rec), len(header), usernameHint(rec, col))))
			continue
		}
		if breaks := linesIn(rec); breaks > 0 {
			// A quoted field over several lines: no field may hold a line break, and the
			// lines it took in may be other users' rows.
			bad = append(bad, refused(line, "", invalid("invalid_row", "", "the row runs over lines %d to %d: a quoted field holds a line break, "+
				"as when a quote is left open%s", line, line+breaks, usernameHint(rec, col))))
			continue
		}
		get := func(name string) string {
			if i, ok := col[name]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if !utf8.ValidString(get("username")) {
			// Refused by name, its bytes would name no user, and a full import would
			// delete the user the row means.
			bad = append(bad, refused(line, "", notUTF8("username")))
			continue
		}
		if i := slices.IndexFunc(unnamed, func(i int) bool { return strings.TrimSpace(rec[i]) != "" }); i >= 0 {
			// Its value is not quoted: it may be anyone's address or number, and a refusal
			// reaches the log and the audit trail.
			bad = append(bad, refused(line, get("username"), invalid("invalid_row", "", "column %d holds a value, but the header names no column there",
				unnamed[i]+1)))
			continue
		}
		rows = append(rows, ImportRow{Line: line, Username: get("username"), Email: get("email"), Phone: get("phone"),
			Country: get("country"), DisplayName: get("displayName"), Groups: splitList(get("groups")), Factors: splitList(get("factors")), State: get("state"),
			Absent: absent})
	}
}

// usernameHint says what a row refused without a name holds in its username column, for
// the reader to find the row: not which user it is.
func usernameHint(rec []string, col map[string]int) string {
	i := col["username"]
	if i >= len(rec) || strings.TrimSpace(rec[i]) == "" || strings.ContainsAny(rec[i], "\r\n") {
		return ""
	}
	return fmt.Sprintf(" (its username column holds %q)", strings.TrimSpace(rec[i]))
}

// linesIn counts the line breaks inside a record's fields (encoding/csv gives "\r\n" in a
// quoted field as "\n").
func linesIn(rec []string) int {
	n := 0
	for _, f := range rec {
		n += strings.Count(f, "\n") + strings.Count(f, "\r")
	}
	return n
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ";") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// maxImportLine bounds a JSON-lines row; no user's row comes near it.
const maxImportLine = 1 << 20

func parseJSONL(r io.Reader, max int) ([]ImportRow, []RowResult, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var rows []ImportRow
	var bad []RowResult
	for line := 1; ; line++ {
		if err := tooMany(rows, bad, max); err != nil {
			return nil, nil, err
		}
		text, tooLong, err := readLine(br, maxImportLine)
		if err == io.EOF {
			return rows, bad, nil
		}
		if err != nil {
			return rows, bad, err
		}
		if tooLong {
			// A refused row, like any other: the rest of the file goes on.
			bad = append(bad, refused(line, "", invalid("invalid_row", "", "line longer than %d bytes", maxImportLine)))
			continue
		}
		text = bytes.TrimSpace(text)
		if len(text) == 0 {
			continue
		}
		row, name, rerr := jsonRow(text)
		if rerr != nil {
			bad = append(bad, refused(line, name, rerr))
			continue
		}
		row.Line = line
		rows = append(rows, row)
	}
}

// usernameKeys counts the keys of the JSON object text that name username, in any letter
// case, as encoding/json matches a field. text is an object Check has walked.
func usernameKeys(text []byte) int {
	d := json.NewDecoder(bytes.NewReader(text))
	if _, err := d.Token(); err != nil { // {
		return 0
	}
	n := 0
	for d.More() {
		k, err := d.Token()
		if err != nil {
			return n
		}
		if s, _ := k.(string); strings.EqualFold(s, "username") {
			n++
		}
		var skip json.RawMessage
		if d.Decode(&skip) != nil {
			return n
		}
	}
	return n
}

// jsonRow reads one JSON line as encoding/json would read it into an ImportRow (keys in
// any letter case, null for empty), but refuses a key named twice, and words each
// refusal for the file's author. A refusal comes with the row's username when that could
// be read, so that a full import keeps that user.
func jsonRow(text []byte) (ImportRow, string, *Error) {
	var row ImportRow
	var dup *jsonkeys.DuplicateError
	err := jsonkeys.Check(text)
	switch {
	case errors.As(err, &dup) && strings.EqualFold(dup.Path, "username"):
		return row, "", invalid("duplicate_key", "", "%v: a JSON line names each key once, in any letter case, so the row's user is unclear", err)
	case err != nil && dup == nil:
		return row, "", invalid("invalid_row", "", "not one JSON object: %v", err)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(text, &obj) != nil || obj == nil {
		// Check vouched for the syntax: it is another JSON value.
		return row, "", invalid("invalid_row", "", `not one JSON object: a line is one user, {"username":…}`)
	}
	given := map[string]json.RawMessage{} // by column name
	var unknown []string
	for k, v := range obj {
		i := slices.IndexFunc(csvColumns, func(c string) bool { return strings.EqualFold(c, k) })
		if i < 0 {
			unknown = append(unknown, k)
			continue
		}
		given[csvColumns[i]] = v
	}
	// encoding/json reads bytes that are not UTF-8 as U+FFFD: "jos\xe9" would be read as
	// another user, created, and the one the row means deleted by a full import.
	if v, ok := given["username"]; ok && !utf8.Valid(v) {
		return row, "", notUTF8("username")
	}
	if v, ok := given["username"]; ok && json.Unmarshal(v, &row.Username) != nil {
		return row, "", invalid("invalid_field", "username", "must be a string")
	}
	name := row.Username
	switch {
	case dup != nil && usernameKeys(text) > 1:
		// Check reports the first key named twice: username may be named twice after it,
		// and obj kept one of them, so the row names no user for certain.
		return row, "", invalid("duplicate_key", "", "%v, and username too: a JSON line names each key once, in any letter case, so the row's user is unclear", err)
	case dup != nil:
		return row, name, invalid("duplicate_key", "", "%v: a JSON line names each key once, in any letter case", err)
	case len(unknown) > 0:
		slices.Sort(unknown)
		return row, name, invalid("unknown_field", unknown[0], "not one of %s", strings.Join(csvColumns, ", "))
	}
	for _, f := range []struct {
		name string
		dst  any
	}{
		{"email", &row.Email}, {"phone", &row.Phone}, {"country", &row.Country}, {"displayName", &row.DisplayName}, {"groups", &row.Groups},
		{"factors", &row.Factors}, {"state", &row.State},
	} {
		v, ok := given[f.name]
		if !ok {
			if slices.Contains(profileColumns, f.name) {
				row.Absent = append(row.Absent, f.name)
			}
			continue
		}
		if !utf8.Valid(v) {
			return row, name, notUTF8(f.name)
		}
		if json.Unmarshal(v, f.dst) != nil { // only a value of another type, after Check
			what := "a string"
			if _, list := f.dst.(*[]string); list {
				what = "a list of strings"
			}
			return row, name, invalid("invalid_field", f.name, "must be %s", what)
		}
	}
	return row, "", nil
}

// notUTF8 refuses a field whose bytes are not UTF-8, as in a file saved in Latin-1 or
// Windows-1252 (as spreadsheets save "CSV"): what it says cannot be read for certain.
func notUTF8(field string) *Error {
	return invalid("invalid_field", field, "is not UTF-8 text: the file must be saved as UTF-8")
}

// readLine reads one line of br, without its end; one longer than max is read to its end
// and reported tooLong, without its bytes. io.EOF once there are no more lines.
func readLine(br *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	for {
		frag, more, err := br.ReadLine()
		if err != nil {
			if err == io.EOF && (len(line) > 0 || tooLong) {
				return line, tooLong, nil
			}
			return nil, false, err
		}
		switch {
		case tooLong:
		case len(line)+len(frag) > max:
			line, tooLong = nil, true
		default:
			line = append(line, frag...)
		}
		if !more {
			return line, tooLong, nil
		}
	}
}

// ImportOptions tune an import.
type ImportOptions struct {
	// DryRun reports what the import would do and changes nothing.
	DryRun bool
	// Full: the file is the whole directory, so users absent from it are deleted — if
	// there are at most MaxDeletes of them; otherwise none is, and the report says why.
	Full       bool
	MaxDeletes int
}

// DefaultMaxDeletes is the deletion guard's default, inWebo's IWDS's order of magnitude.
const DefaultMaxDeletes = 10

// Row actions.
const (
	ActionCreated   = "created"
	ActionUpdated   = "updated"
	ActionUnchanged = "unchanged"
	ActionDeleted   = "deleted"
	ActionRefused   = "refused"
)

// RowResult is what an import did with one row (or, for a deletion, one user).
type RowResult struct {
	Line     int      `json:"line,omitempty"`
	Username string   `json:"username,omitempty"`
	Action   string   `json:"action"`
	Changes  []string `json:"changes,omitempty"`
	Error    *Error   `json:"error,omitempty"`
	// Invited is the masked address an activation link went to (imports with invite).
	Invited string `json:"invited,omitempty"`
	// InviteError says why a created user's link was not sent.
	InviteError *Error `json:"inviteError,omitempty"`
}

func refused(line int, user string, err *Error) RowResult {
	return RowResult{Line: line, Username: user, Action: ActionRefused, Error: err}
}

// ImportReport is an import's outcome.
type ImportReport struct {
	DryRun    bool        `json:"dryRun"`
	Created   int         `json:"created"`
	Updated   int         `json:"updated"`
	Unchanged int         `json:"unchanged"`
	Deleted   int         `json:"deleted"`
	Refused   int         `json:"refused"`
	Rows      []RowResult `json:"rows"`
	// DeletionRefused says why a full import deleted nobody.
	DeletionRefused string `json:"deletionRefused,omitempty"`
}

// MarshalJSON of an Error shows its code, field and message.
func (e *Error) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Code    string `json:"code"`
		Field   string `json:"field,omitempty"`
		Message string `json:"message"`
	}{e.Code, e.Field, e.Msg})
}

// importBatch is how many users share a commit.
const importBatch = 500

// Import applies a directory export: each row creates its user, updates it where the row
// differs, or changes nothing; a refused row changes nothing and stops nothing. Factors
// are only ever added (pre-provisioned) or their pending destination updated, never
// removed. Rows refused earlier (unreadable) are reported with the rest; a full import
// deletes none of the users they name, and nobody at all when one names no user. A store
// fault while the changes are applied returns the report with the error: what was applied
// by then, and the rows not applied (not_applied).
func (m *Manager) Import(ctx context.Context, actor Actor, rows []ImportRow, unreadable []RowResult, o ImportOptions) (ImportReport, error) {
	rep := ImportReport{DryRun: o.DryRun, Rows: append(make([]RowResult, 0, len(unreadable)), unreadable...)}
	existing, err := m.directory(ctx)
	if err != nil {
		return ImportReport{}, err
	}
	// seen is every user a row names, by inFileKey: " alice", refused for its spaces,
	// names alice, as it does for a full import's deletions, and a later "alice" row
	// names her twice.
	seen := map[string]bool{}
	// inFile is every user a row names, applied or refused, by inFileKey: a full import
	// deletes none of them.
	inFile := map[string]bool{}
	// unreadableAt is the first line of each user named by a row that could not be read:
	// a row after it names the user twice, as a row after a readable one does.
	unreadableAt := map[string]int{}
	for _, r := range unreadable {
		if k := inFileKey(r.Username); k != "" {
			inFile[k] = true
			if unreadableAt[k] == 0 {
				unreadableAt[k] = r.Line
			}
		}
	}
	var changes []store.UserChange
	var results []int // index in rep.Rows of each change
	for _, row := range rows {
		res := RowResult{Line: row.Line, Username: row.Username}
		key := inFileKey(row.Username)
		if seen[key] && key != "" {
			rep.Rows = append(rep.Rows, refused(row.Line, row.Username, invalid("duplicate_row", "username",
				"%q appears earlier in the file (user names match regardless of letter case)", row.Username)))
			continue
		}
		if at := unreadableAt[key]; at > 0 && at < row.Line && key != "" {
			rep.Rows = append(rep.Rows, refused(row.Line, row.Username, invalid("duplicate_row", "username",
				"%q appears earlier in the file, on line %d, which was refused (user names match regardless of letter case)", row.Username, at)))
			continue
		}
		seen[key] = true
		inFile[key] = true
		c, changed, evs, rerr := m.rowChange(ctx, actor, row, existing[store.FoldName(row.Username)])
		if rerr != nil {
			rep.Rows = append(rep.Rows, refused(row.Line, row.Username, rerr))
			continue
		}
		if c != nil && !o.DryRun {
			// The vendors are told in the row's own commit, as for the admin API's change
			// (propagate): a row refused when applied queues nothing.
			if err := m.propagate(ctx, actor, c, evs...); err != nil {
				return ImportReport{}, err
			}
		}
		res.Changes = changed
		switch {
		case c == nil:
			res.Action = ActionUnchanged
		case c.Create != nil:
			res.Action = ActionCreated
		default:
			res.Action = ActionUpdated
		}
		rep.Rows = append(rep.Rows, res)
		if c != nil {
			changes = append(changes, *c)
			results = append(results, len(rep.Rows)-1)
		}
	}
	if o.Full {
		if changes, results, err = m.deletions(ctx, actor, &rep, existing, inFile, o, changes, results); err != nil {
			return ImportReport{}, err
		}
	}
	// fault stops an import: the rows applied so far stay applied and are reported as
	// such (an import with invite still invites the users it created), the others are
	// reported not applied; an import changes nothing twice, so the same file again is
	// the remedy.
	var fault error
	unapplied := 0
	notApplied := func(i int) {
		unapplied++
		r := &rep.Rows[results[i]]
		r.Action, r.Changes = ActionRefused, nil
		r.Error = &Error{Kind: Refused, Code: "not_applied", Msg: "not applied: the import stopped on a store fault; the same file again applies it"}
	}
	if !o.DryRun {
		for start := 0; start < len(changes) && fault == nil; start += importBatch {
			end := min(start+importBatch, len(changes))
			for i, err := range m.store.ApplyUserChanges(ctx, changes[start:end]) {
				if err == nil {
					continue
				}
				if changes[start+i].Delete && errors.Is(err, store.ErrNotFound) {
					// A full import's deletion of a user deleted meanwhile (by SCIM, the
					// admin API): what the file asks holds, and this import deleted no one,
					// recorded nothing. Refused not_found, it failed a job whose directory
					// agreed with its file.
					rep.Rows[results[start+i]].Action = ActionUnchanged
					continue
				}
				le, ok := errorOf(err, "user").(*Error)
				if !ok {
					// A fault, not the row's doing: the batch's other changes stand or fall
					// on their own (store.Directory).
					fault = cmp.Or(fault, err)
					notApplied(start + i)
					continue
				}
				r := &rep.Rows[results[start+i]]
				r.Action, r.Error, r.Changes = ActionRefused, meanwhile(le, changes[start+i].Name), nil
			}
			if fault != nil {
				for i := end; i < len(changes); i++ {
					notApplied(i)
				}
			}
		}
	}
	for _, r := range rep.Rows {
		switch r.Action {
		case ActionCreated:
			rep.Created++
		case ActionUpdated:
			rep.Updated++
		case ActionUnchanged:
			rep.Unchanged++
		case ActionDeleted:
			rep.Deleted++
		case ActionRefused:
			rep.Refused++
		}
	}
	outcome := "SUCCESS"
	if fault != nil {
		outcome = "FAILED"
	}
	m.audit(ctx, actor, ActionImport, "", "", outcome, fmt.Sprintf("dryRun=%v full=%v: %d created, %d updated, %d unchanged, %d deleted, %d refused",
		o.DryRun, o.Full, rep.Created, rep.Updated, rep.Unchanged, rep.Deleted, rep.Refused))
	if fault != nil {
		return rep, fmt.Errorf("import: stopped after %d of %d changes (the same file again applies the rest): %w",
			len(changes)-unapplied, len(changes), fault)
	}
	return rep, nil
}

// meanwhile is le, the store's refusal of an import's change of user name, worded for the
// file's author when another change came between the import's read of the directory and
// its write: the user changed (its profile, state or factors), deleted or created
// meanwhile. It said "read it again and retry", "user not found" or "user exists
// already": an import has nothing to read again, and the same file again applies the row.
func meanwhile(le *Error, name string) *Error {
	what := ""
	switch {
	case le.Code == CodeChanged:
		what = "changed"
	case le.Kind == NotFound:
		what = "deleted"
	case le.Code == "exists":
		what = "created"
	default:
		return le
	}
	return &Error{Kind: le.Kind, Code: le.Code, Field: le.Field, Msg: fmt.Sprintf("user %q was %s while the import ran, by another change: "+
		"this row was not applied; the same file again applies it", name, what)}
}

// inFileKey is the user a row names, for a full import's deletions: as store.FoldName,
// and without spaces around it, which the row is refused for.
func inFileKey(name string) string { return store.FoldName(strings.TrimSpace(name)) }

// deletions adds the deletion of every user absent from a full import (with its
// propagation to the vendors, unless a dry run), unless a refused row names no user (it
// may be any user's) or there are more than the guard allows.
func (m *Manager) deletions(ctx context.Context, actor Actor, rep *ImportReport, existing map[string]*current, inFile map[string]bool, o ImportOptions,
	changes []store.UserChange, results []int) ([]store.UserChange, []int, error) {
	var nameless []int
	for _, r := range rep.Rows {
		if r.Action == ActionRefused && strings.TrimSpace(r.Username) == "" {
			nameless = append(nameless, r.Line)
		}
	}
	if len(nameless) > 0 {
		rep.DeletionRefused = fmt.Sprintf("%s: nobody was deleted, as a full import deletes nobody while a row may be any user's (correct the file and import again)",
			namelessRows(nameless))
		return changes, results, nil
	}
	var absent []store.UserRecord
	for _, key := range sortedKeys(existing) {
		if !inFile[key] {
			absent = append(absent, existing[key].rec)
		}
	}
	if len(rep.Rows) == 0 && len(absent) > 0 {
		// A file of no rows, a header alone or an empty JSON Lines file, is a failed export
		// far more often than an emptied directory: never the whole directory's deletion.
		rep.DeletionRefused = fmt.Sprintf("the file has no user rows, so a full import of it would delete all %d users: nobody was deleted (check the file; to delete users, use emfa users delete or DELETE /admin/v1/users/{user})",
			len(absent))
		return changes, results, nil
	}
	if len(absent) > o.MaxDeletes {
		rep.DeletionRefused = fmt.Sprintf("%d users are absent from this full import, more than --max-deletes %d allows: nobody was deleted (check the file, or raise the limit)",
			len(absent), o.MaxDeletes)
		return changes, results, nil
	}
	for _, r := range absent {
		name := r.Name
		rep.Rows = append(rep.Rows, RowResult{Username: name, Action: ActionDeleted})
		// As read, as a row's update is: a user changed since (by a directory, the admin
		// API), or deleted and created again, is refused rather than deleted unseen.
		c := store.UserChange{Name: name, Delete: true, Now: m.now(), IfRevision: &r.Profile.Revision, IfUser: r.ID,
			Audit: []store.AuditEvent{m.event(ctx, actor, ActionImportDelete, name, "", "absent from a full import")}}
		if !o.DryRun {
			if err := m.propagate(ctx, actor, &c, provider.LifecycleEvent{Type: provider.EventUserDelete, Username: name}); err != nil {
				return nil, nil, err
			}
		}
		changes = append(changes, c)
		results = append(results, len(rep.Rows)-1)
	}
	return changes, results, nil
}

// namelessRows says which rows were refused without a user name, at most three by line.
func namelessRows(lines []int) string {
	const shown = 3
	var at []string
	for _, l := range lines[:min(len(lines), shown)] {
		if l > 0 {
			at = append(at, fmt.Sprint(l))
		}
	}
	if len(lines) > shown && len(at) > 0 {
		at = append(at, "…")
	}
	switch {
	case len(lines) == 1 && len(at) == 1:
		return "line " + at[0] + " was refused without a user name that could be read"
	case len(lines) == 1:
		return "a row was refused without a user name that could be read"
	case len(at) > 0:
		return fmt.Sprintf("%d rows (lines %s) were refused without a user name that could be read", len(lines), strings.Join(at, ", "))
	}
	return fmt.Sprintf("%d rows were refused without a user name that could be read", len(lines))
}

// current is a user as the store has it.
type current struct {
	rec     store.UserRecord
	factors []store.Factor
}

// directory loads every user with its factors, page by page, by folded name
// (store.FoldName): an import compares each row with it, and a full import needs every
// name.
func (m *Manager) directory(ctx context.Context) (map[string]*current, error) {
	out := map[string]*current{}
	q := store.UserQuery{Limit: 1000}
	for {
		recs, err := m.store.ListUserRecords(ctx, q)
		if err != nil {
			return nil, err
		}
		ids := make([]string, len(recs))
		for i, r := range recs {
			ids[i] = r.ID
		}
		fs, err := m.store.ListFactorsOf(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			out[store.FoldName(r.Name)] = &current{rec: r, factors: fs[r.ID]}
		}
		if len(recs) < q.Limit {
			return out, nil
		}
		q.After = recs[len(recs)-1].Name
	}
}

// rowChange is the change that makes the store agree with row (nil when it does), a
// description of each difference, and what a directory's events would say of it, for
// the vendors (propagate): the user's creation, or the changes of its profile, state and
// groups (a factor pre-provisioned is emfa's own, and says nothing).
func (m *Manager) rowChange(ctx context.Context, actor Actor, row ImportRow, cur *current) (*store.UserChange, []string, []provider.LifecycleEvent, *Error) {
	check := CheckNewName // a new user's name
	if cur != nil {
		check = CheckName // one stored before CheckNewName's rule keeps working
	}
	if err := check(row.Username); err != nil {
		err.Field = "username"
		return nil, nil, nil, err
	}
	var base store.Profile
	if cur != nil {
		base = cur.rec.Profile
	}
	in := UserInput{Email: &row.Email, Phone: &row.Phone, Country: &row.Country, DisplayName: &row.DisplayName, Groups: &row.Groups}
	for _, c := range row.Absent { // left as they are
		switch c {
		case "email":
			in.Email = nil
		case "phone":
			in.Phone = nil
		case "country":
			in.Country = nil
		case "displayName":
			in.DisplayName = nil
		case "groups":
			in.Groups = nil
		}
	}
	p, err := profile(base, in, m.defaultCountry())
	if err != nil {
		return nil, nil, nil, err
	}
	var disabled *bool
	if row.State != "" {
		state := strings.ToLower(row.State)
		if disabled, err = parseState(&state); err != nil {
			return nil, nil, nil, err
		}
	}
	now := m.now()
	c := &store.UserChange{Name: row.Username, Now: now}
	var changed []string
	hidden := map[int]string{} // changed's entries as the audit record words them
	var u store.User
	var factors []store.Factor
	if cur == nil {
		u = store.User{ID: builtin.NewID(), Name: row.Username, CreatedAt: now, Disabled: disabled != nil && *disabled}
		c.Create, c.Profile = &u, &p
		created := "user"
		if u.Disabled {
			created = "user, disabled"
		}
		changed = append(changed, created)
	} else {
		u, factors = cur.rec.User, cur.factors
		c.Name = u.Name // as created: the row may give it in another case
		// As read: a change made since (the admin API's, a directory's) refuses the row
		// rather than being undone by a profile it did not see; so does the user deleted
		// and created again since, whose revision restarted.
		c.IfRevision, c.IfUser = &cur.rec.Profile.Revision, u.ID
		for _, d := range []struct{ name, was, is string }{
			{"email", base.Email, p.Email}, {"phone", base.Phone, p.Phone}, {"country", base.Country, p.Country},
			{"displayName", base.DisplayName, p.DisplayName},
			{"groups", strings.Join(base.Groups, ";"), strings.Join(p.Groups, ";")},
		} {
			if d.was != d.is {
				changed = append(changed, fmt.Sprintf("%s: %q → %q", d.name, d.was, d.is))
				if mask := destinationMask[d.name]; mask != nil {
					// The audit trail keeps it masked; the report is the importer's own.
					hidden[len(changed)-1] = fmt.Sprintf("%s: %q → %q", d.name, mask(d.was), mask(d.is))
				}
			}
		}
		if len(changed) > 0 {
			c.Profile = &p
		}
		if disabled != nil && *disabled != u.Disabled {
			c.Disabled = disabled
			changed = append(changed, fmt.Sprintf("state: %s → %s", StateName(u.Disabled), StateName(*disabled)))
		}
	}
	for _, typ := range slices.Compact(slices.Sorted(slices.Values(row.Factors))) {
		f, what, err := m.rowFactor(u, factors, typ, p)
		if err != nil {
			return nil, nil, nil, err
		}
		switch {
		case f == nil:
		case what == "created":
			// Held again where it is written: the user may have enrolled meanwhile.
			e, _ := m.engine(typ) // found by rowFactor
			most, alike := e.CreateBound(typ)
			c.CreateFactors, c.FactorsAlike = append(c.CreateFactors, *f), append(c.FactorsAlike, alike)
			c.FactorsWithin = most
			factors = append(slices.Clone(factors), *f)
			note := "factor " + typ + " pre-provisioned"
			if m.unexposed(typ) != "" {
				note += " (no builtin provider exposes " + typ + ": Verify is not offered it until one does)"
			}
			changed = append(changed, note)
		default:
			// Only while it is still pending: a first sign-in may activate it before
			// this commit, and an active factor is never re-pointed.
			// And while the user has no other factor for the new destination: one may
			// have been enrolled since the factors were read.
			alike := store.Alike{Type: true, Param: builtin.Destination(typ)}
			c.UpdateFactors = append(c.UpdateFactors, store.FactorUpdate{ID: f.ID, Label: f.Label, Params: f.Params, IfPending: true, Alike: alike})
			changed = append(changed, "factor "+typ+" "+what)
		}
	}
	if len(changed) == 0 {
		return nil, nil, nil, nil
	}
	action := ActionImportUpdate
	if cur == nil {
		action = ActionImportCreate
	}
	recorded := slices.Clone(changed)
	for i, v := range hidden {
		recorded[i] = v
	}
	c.Audit = []store.AuditEvent{m.event(ctx, actor, action, c.Name, "", strings.Join(recorded, "; "))}
	var evs []provider.LifecycleEvent
	if cur == nil {
		evs = createEvents(u, p)
	} else {
		is := base
		if c.Profile != nil {
			is = *c.Profile
		}
		evs = updateEvents(c.Name, base, u.Disabled, is, c.Disabled)
	}
	return c, changed, evs, nil
}

// destinationMask masks a profile's code destinations, by field, as a factor's are shown
// ("" stays "").
var destinationMask = map[string]func(string) string{
	"email": delivery.MaskEmail,
	"phone": func(v string) string {
		if v == "" {
			return ""
		}
		return delivery.MaskPhone(v)
	},
}

// rowFactor is the factor of typ a row asks for: nil when the user has it for this
// destination; a new pre-provisioned one; or a pre-provisioned one not used yet, with its
// destination updated. An active factor is never re-pointed: its owner proved the old
// destination, so a new one is added beside it.
func (m *Manager) rowFactor(u store.User, factors []store.Factor, typ string, p store.Profile) (*store.Factor, string, *Error) {
	param := builtin.Destination(typ)
	dest := map[string]string{"phone": p.Phone, "email": p.Email}[param]
	switch {
	case param == "" || !slices.Contains(builtin.PreProvisionTypes(), typ):
		return nil, "", invalid("invalid_factor", "factors", "only %s are pre-provisioned, not %q", strings.Join(builtin.PreProvisionTypes(), ", "), typ)
	case dest == "":
		return nil, "", invalid("missing_field", param, "factor %s needs the row's %s", typ, param)
	}
	refused := func(err error) *Error {
		le, ok := enrollError(err, dest).(*Error)
		if !ok {
			le = invalid("invalid_factor", "factors", "%v", err)
		}
		le.Field = param
		return le
	}
	// Checked and compared as an enrollment's: a re-pointed factor stores it too.
	dest, err := builtin.NormalizeDestination(typ, dest)
	if err != nil {
		return nil, "", refused(err)
	}
	for _, f := range factors {
		if f.Type == typ && builtin.SameDestination(typ, f.Params[param], dest) {
			return nil, "", nil
		}
	}
	for _, f := range factors {
		if f.Type == typ && builtin.ActivationOf(&f) == ActivationOnFirstUse {
			f.Params = map[string]string{param: dest, "activation": ActivationOnFirstUse}
			return &f, fmt.Sprintf("%s updated", param), nil
		}
	}
	e, err := m.engine(typ)
	if err != nil {
		var le *Error
		errors.As(err, &le)
		return nil, "", le
	}
	f, err := e.PreProvision(u, factors, typ, dest)
	if err != nil {
		return nil, "", refused(err)
	}
	return &f, "created", nil
}
