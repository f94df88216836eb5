package transform

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/decls"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/overloads"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
	"github.com/google/uuid"
)

// verifyAdded are the functions IBM Verify adds to standard CEL (flatten comes from cel-go's
// lists extension, whose list.flatten() has exactly Verify's meaning).
var verifyAdded = []string{
	"base64Encode", "flatten", "formatTime", "hmacSha1", "joinStrings",
	"jsonToFormURLEncoded", "put", "putAll", "toLower", "toUpper",
}

// emfaOnly are the functions emfa adds beyond Verify's dialect; EmfaOnlyFunctions documents them.
var emfaOnly = []string{"hmacSha256", "maskEmail", "maskPhone", "pathSegment", "uuid"}

// library is the Verify dialect's function library plus emfa's additions.
type library struct {
	// maxString is the longest string joinStrings and jsonToFormURLEncoded build: one whose
	// scan alone costs the cost limit. cel-go charges a call once it has returned, and a
	// list may hold one long input string many times at one unit each, so without it
	// these allocated many times what the limit allows before it could stop them.
	maxString int64
}

// LibraryName implements cel.SingletonLibrary.
func (library) LibraryName() string { return "emfa.transform" }

// CompileOptions implements cel.Library.
func (lib library) CompileOptions() []cel.EnvOption {
	k := cel.TypeParamType("K")
	v := cel.TypeParamType("V")
	w := cel.TypeParamType("W")
	str := cel.StringType
	// Every binding checks its arguments' types itself, so CEL's runtime guard, which walks
	// into map and list arguments on every call, is turned off.
	noGuard := decls.DisableTypeGuards(true)
	return []cel.EnvOption{
		// put and putAll take dyn values: a header map, statically map(string, list(string)),
		// accepts a string value (stored as a one-element list), and cel-go rejects a second,
		// header-specific overload because its signature overlaps the generic one.
		cel.Function("put", noGuard,
			cel.MemberOverload("map_put_key_value",
				[]*cel.Type{cel.MapType(k, v), k, cel.DynType}, cel.MapType(k, cel.DynType),
				cel.FunctionBinding(mapPut))),
		cel.Function("putAll", noGuard,
			cel.MemberOverload("map_putAll_map",
				[]*cel.Type{cel.MapType(k, v), cel.MapType(k, w)}, cel.MapType(k, cel.DynType),
				cel.BinaryBinding(mapPutAll))),
		cel.Function("formatTime", noGuard,
			cel.Overload("formatTime_timestamp_string",
				[]*cel.Type{cel.TimestampType, str}, str,
				cel.BinaryBinding(formatTime))),
		cel.Function("joinStrings", noGuard,
			cel.Overload("joinStrings_list_string",
				[]*cel.Type{cel.ListType(str), str}, str,
				cel.BinaryBinding(lib.joinStrings))),
		cel.Function("hmacSha1", noGuard,
			cel.Overload("hmacSha1_string_string",
				[]*cel.Type{str, str}, str,
				cel.BinaryBinding(hmacHex(sha1Sum, sha1.BlockSize, sha1.Size)))),
		cel.Function("base64Encode", noGuard,
			cel.MemberOverload("string_base64Encode",
				[]*cel.Type{str}, str,
				cel.UnaryBinding(stringFunc(base64Encode)))),
		cel.Function("toUpper", noGuard,
			cel.MemberOverload("string_toUpper",
				[]*cel.Type{str}, str,
				cel.UnaryBinding(stringFunc(strings.ToUpper)))),
		cel.Function("toLower", noGuard,
			cel.MemberOverload("string_toLower",
				[]*cel.Type{str}, str,
				cel.UnaryBinding(stringFunc(strings.ToLower)))),
		cel.Function("jsonToFormURLEncoded", noGuard,
			cel.Overload("jsonToFormURLEncoded_map_bool",
				[]*cel.Type{cel.MapType(str, cel.DynType), cel.BoolType}, str,
				cel.BinaryBinding(lib.jsonToFormURLEncoded))),

		// emfa only.
		cel.Function("uuid", noGuard,
			cel.Overload("uuid", nil, str,
				cel.FunctionBinding(func(...ref.Val) ref.Val {
					return types.String(uuid.NewString())
				}))),
		cel.Function("hmacSha256", noGuard,
			cel.Overload("hmacSha256_string_string",
				[]*cel.Type{str, str}, str,
				cel.BinaryBinding(hmacHex(sha256Sum, sha256.BlockSize, sha256.Size)))),
		cel.Function("maskPhone", noGuard,
			cel.Overload("maskPhone_string",
				[]*cel.Type{str}, str,
				cel.UnaryBinding(stringFunc(maskPhone)))),
		cel.Function("maskEmail", noGuard,
			cel.Overload("maskEmail_string",
				[]*cel.Type{str}, str,
				cel.UnaryBinding(stringFunc(maskEmail)))),
		cel.Function("pathSegment", noGuard,
			cel.Overload("pathSegment_string",
				[]*cel.Type{str}, str,
				cel.UnaryBinding(pathSegment))),

		cel.CostModel(costModels()...),
	}
}

// ProgramOptions implements cel.Library.
func (library) ProgramOptions() []cel.ProgramOption { return nil }

// costModels price the library's functions for the static estimate and the runtime tracker, so
// that copying a map or encoding a long string costs what it does rather than one unit.
func costModels() []cost.OverloadModel {
	call := cost.Const(cost.CallCost)
	scan := func(q cost.QuantityExpr) cost.QuantityExpr { return cost.Sum(call, cost.StringScan(q)) }
	return []cost.OverloadModel{
		cost.MemberOverload("map_put_key_value",
			cost.EvalCost(cost.Sum(call, cost.Length(cost.Target()))),
			cost.ResultSize(cost.Sum(cost.Length(cost.Target()), cost.Const(1)))),
		cost.MemberOverload("map_putAll_map",
			cost.EvalCost(cost.Sum(call, cost.Length(cost.Target()), cost.Length(cost.Arg(0)))),
			// Both maps' entries, with their keys and values: a function handed the
			// result (the form encoding of a putAll chain, as DUO's Admin API signs) is
			// bounded by what bounds them. On a header map a string value becomes a
			// one-element list, of length 1, no more than the header's own values (a
			// header variable's are estimated at the input size hint, at least 1); what
			// that list holds is unknown, as cel-go merges a value stating no elements
			// with one that does.
			cost.ResultSize(cost.Map(cost.Sum(cost.Length(cost.Target()), cost.Length(cost.Arg(0))),
				cost.Max(ofEntries(cost.TargetKey(), cost.Target()), ofEntries(cost.ArgKey(0), cost.Arg(0))),
				cost.Max(ofEntries(cost.TargetElem(), cost.Target()), ofEntries(cost.ArgElem(0), cost.Arg(0)))))),
		cost.Overload("formatTime_timestamp_string",
			cost.EvalCost(scan(cost.Length(cost.Arg(1)))),
			// No layout element prints more than three times its own length ("Jan" may
			// print "September").
			cost.ResultSize(cost.AtMost(cost.Scale(cost.Length(cost.Arg(1)), 3)))),
		cost.Overload("joinStrings_list_string",
			cost.EvalCost(scan(cost.Sum(cost.ElemTotal(cost.Arg(0)),
				cost.Mul(cost.Length(cost.Arg(0)), cost.Length(cost.Arg(1)))))),
			cost.ResultSize(cost.AtMost(cost.Sum(cost.ElemTotal(cost.Arg(0)),
				cost.Mul(cost.Length(cost.Arg(0)), cost.Length(cost.Arg(1))))))),
		// hmacSha1 and hmacSha256: see hmacCost.
		cost.Overload("hmacSha1_string_string",
			cost.EvalCost(cost.Sum(call, cost.Scale(cost.Sum(cost.Length(cost.Arg(0)), cost.Length(cost.Arg(1))), hmacCost))),
			cost.ResultSize(cost.Const(2*sha1.Size))),
		cost.Overload("hmacSha256_string_string",
			cost.EvalCost(cost.Sum(call, cost.Scale(cost.Sum(cost.Length(cost.Arg(0)), cost.Length(cost.Arg(1))), hmacCost))),
			cost.ResultSize(cost.Const(2*sha256.Size))),
		// base64Encode: see base64EncodeCost.
		cost.MemberOverload("string_base64Encode",
			cost.EvalCost(cost.Sum(call, cost.Scale(cost.Length(cost.Target()), base64EncodeCost))),
			// Up to four UTF-8 bytes per code point, four characters per three bytes.
			cost.ResultSize(cost.AtMost(cost.Sum(cost.Scale(cost.Length(cost.Target()), 16.0/3), cost.Const(3))))),
		// A case change: see caseCost.
		cost.MemberOverload("string_toUpper",
			cost.EvalCost(cost.Sum(call, cost.Scale(cost.Length(cost.Target()), caseCost))),
			cost.ResultSize(cost.Target())),
		cost.MemberOverload("string_toLower",
			cost.EvalCost(cost.Sum(call, cost.Scale(cost.Length(cost.Target()), caseCost))),
			cost.ResultSize(cost.Target())),
		cost.Overload("jsonToFormURLEncoded_map_bool",
			// A scan of the map and formResultCost a character of the result, the text
			// written. A list value's strings are not in the map's element total (its
			// length is), nor is its key, written once per element: the estimate bounds a
			// form of scalars, and the untracked program leaves any other to the tracked
			// one (untrackedForms).
			cost.EvalCost(cost.Sum(scan(cost.Sum(cost.KeyTotal(cost.Arg(0)), cost.ElemTotal(cost.Arg(0)), cost.Length(cost.Arg(0)))),
				cost.Scale(cost.Result(), formResultCost))),
			// Percent-encoding triples a byte, and a code point is up to four bytes.
			cost.ResultSize(cost.AtMost(cost.Scale(cost.Sum(cost.KeyTotal(cost.Arg(0)), cost.ElemTotal(cost.Arg(0)), cost.Scale(cost.Length(cost.Arg(0)), 24)), 12)))),
		// The strings extension's format has no model of its own: cel-go charged one unit
		// for a text of any length ("%s".format([body.items]) in a comprehension made
		// gigabytes within the cost limit). It is charged its format and its result, 0.1
		// a character; its result's size, which its arguments' contents decide, has no
		// static bound.
		cost.MemberOverload("string_format", cost.ManualCost(
			func(cost.Estimator, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
				size := cost.UnknownSizeEstimate()
				return &cost.CallEstimate{CostEstimate: cost.UnknownCostEstimate(), ResultSize: &size}
			},
			func(args []ref.Val, result ref.Val) *uint64 {
				var n uint64
				for _, v := range append(args[:1:1], result) {
					if s, ok := v.(types.String); ok {
						n += uint64(len(s))
					}
				}
				c := 1 + (n+9)/10
				return &c
			})),
		// size of a string counts its code points, a scan of it, which cel-go charged one
		// unit whatever its length (size of forty input strings as often as a
		// comprehension over the input repeats it ran for a second, untracked, within
		// the estimate). size of bytes, a list or a map reads a length, and keeps its unit.
		cost.Overload(overloads.SizeString, cost.EvalCost(scan(cost.Length(cost.Arg(0))))),
		cost.MemberOverload(overloads.SizeStringInst, cost.EvalCost(scan(cost.Length(cost.Target())))),
		// The encoders extension, pinned at version 0 (encodersVersion), declares these
		// without the models its version 1 brings, a scan of the argument: one unit each
		// whatever the length decoded or encoded (ten decodes of input strings as often
		// as a comprehension over the input repeats them ran for seconds, untracked,
		// within the estimate). See base64DecodeCost and base64EncodeBytesCost.
		cost.Overload("base64_decode_string",
			cost.EvalCost(cost.Sum(call, cost.Scale(cost.Length(cost.Arg(0)), base64DecodeCost))),
			// At most three bytes for four characters.
			cost.ResultSize(cost.AtMost(cost.AtLeastOneQuantity(cost.Scale(cost.Length(cost.Arg(0)), 0.75))))),
		cost.Overload("base64_encode_bytes",
			cost.EvalCost(cost.Sum(call, cost.Scale(cost.Length(cost.Arg(0)), base64EncodeBytesCost))),
			// Four characters for every three bytes, or part of three.
			cost.ResultSize(cost.Ranged(cost.Scale(cost.Length(cost.Arg(0)), 4.0/3),
				cost.Sum(cost.Scale(cost.Length(cost.Arg(0)), 4.0/3), cost.Const(3))))),
		// strings.quote: see quoteCost.
		cost.Overload("strings_quote",
			cost.EvalCost(cost.Sum(call, cost.Scale(cost.Length(cost.Arg(0)), quoteCost))),
			// The quotes, and each code point itself or escaped (two characters).
			cost.ResultSize(cost.Ranged(cost.Sum(cost.Arg(0), cost.Const(2)),
				cost.Sum(cost.Scale(cost.Arg(0), 2), cost.Const(2))))),
		// split: see splitPartCost.
		splitModel("string_split_string"), splitModel("string_split_string_int"),
		// charAt: see charAtCost.
		cost.MemberOverload("string_char_at_int",
			cost.EvalCost(cost.Sum(cost.Const(cost.CallCost+1), cost.Scale(cost.Length(cost.Target()), charAtCost))),
			// The extension's: a code point, at most four UTF-8 bytes.
			cost.ResultSize(cost.AtMost(cost.Min(cost.Target(), cost.Const(4))))),
		// lowerAscii, upperAscii and reverse: see runesCost.
		runesModel("string_lower_ascii"), runesModel("string_upper_ascii"), runesModel("string_reverse"),
		// contains: see containsCost.
		cost.MemberOverload(overloads.ContainsString,
			cost.EvalCost(cost.Max(cost.Scale(cost.Length(cost.Target()), containsCost),
				cost.Mul(cost.Scale(cost.Length(cost.Target()), cost.StringTraversalCostFactor),
					cost.Scale(cost.Length(cost.Arg(0)), cost.StringTraversalCostFactor))))),
		// indexOf and lastIndexOf: see searchRunes.
		searchModel("string_index_of_string", 1), searchModel("string_index_of_string_int", 1),
		searchModel("string_last_index_of_string", 2), searchModel("string_last_index_of_string_int", 1),
		// in on a list: a unit an element, as cel-go's model has it, and the call and the
		// text of the value sought, which the charge of one chosen at run time adds
		// (dynamicCalls: a unit and a tenth of a unit a character, beside a unit an
		// element); estimated by the list's size alone, a comprehension over a list of
		// short strings asking each in it was charged over its estimate, a unit or two an
		// element.
		cost.Overload(overloads.InList, cost.EvalCost(cost.Sum(scan(cost.Length(cost.Arg(0))), cost.Length(cost.Arg(1))))),
		// A match: see matchFactor.
		cost.Overload(overloads.Matches,
			cost.EvalCost(cost.Sum(call, matchCost(cost.Arg(0), cost.Arg(1))))),
		cost.MemberOverload(overloads.MatchesString,
			cost.EvalCost(cost.Sum(call, matchCost(cost.Target(), cost.Arg(0))))),
		// A timestamp's accessors given a time zone by name: see zoneLoadCost.
		zoneModel(overloads.TimestampToYearWithTz), zoneModel(overloads.TimestampToMonthWithTz),
		zoneModel(overloads.TimestampToDayOfYearWithTz), zoneModel(overloads.TimestampToDayOfMonthZeroBasedWithTz),
		zoneModel(overloads.TimestampToDayOfMonthOneBasedWithTz), zoneModel(overloads.TimestampToDayOfWeekWithTz),
		zoneModel(overloads.TimestampToHoursWithTz), zoneModel(overloads.TimestampToMinutesWithTz),
		zoneModel(overloads.TimestampToSecondsWithTz), zoneModel(overloads.TimestampToMillisecondsWithTz),
		cost.Overload("uuid",
			cost.EvalCost(call),
			cost.ResultSize(cost.Const(36))),
		// maskPhone: see maskPhoneCost.
		cost.Overload("maskPhone_string",
			cost.EvalCost(cost.Sum(call, cost.Scale(cost.Length(cost.Arg(0)), maskPhoneCost))),
			cost.ResultSize(cost.Arg(0))),
		// maskEmail: see maskEmailCost.
		cost.Overload("maskEmail_string",
			cost.EvalCost(cost.Sum(call, cost.Scale(cost.Length(cost.Arg(0)), maskEmailCost))),
			cost.ResultSize(cost.AtMost(cost.Sum(cost.Arg(0), cost.Const(3))))),
		// pathSegment: see pathSegmentCost.
		cost.Overload("pathSegment_string",
			cost.EvalCost(cost.Sum(call, cost.Scale(cost.Length(cost.Arg(0)), pathSegmentCost))),
			cost.ResultSize(cost.Arg(0))),
	}
}

// The charges below are of calls that do more for each code point than a scan (a string's
// size, a comparison: 0.1 unit a code point, some 7 ns a unit, as BenchmarkChargedCost
// measures it). Charged a scan's tenth, or a unit, a 64 KiB string cost four to a hundred
// times that a unit, and a comprehension repeating one over the input ran as many times
// the time the cost limit allows.

// quoteCost is strings.quote's charge per code point: it decodes the text twice, writing it
// rune by rune into a builder each time, some 35 ns a code point of ASCII and 60 of Greek or
// an escape.
const quoteCost = 6

// splitPartCost is split's charge per part, beside its scan of the text: each part is a string
// of its own in a list of them, some 35 ns, one a code point when the separator is empty.
const splitPartCost = 4

// splitModel prices the strings extension's split overload id: a scan of the receiver, as
// the extension's own model has it, and splitPartCost a part.
func splitModel(id string) cost.OverloadModel {
	return cost.MemberOverload(id,
		cost.EvalCost(cost.AllocList(cost.StringScan(cost.Sum(cost.Length(cost.Target()), cost.Const(1))),
			cost.Scale(cost.Length(cost.Result()), splitPartCost))),
		// The extension's: at most a part per code point and one more, none longer than
		// the receiver, and under the aggregate sizing strategy their content and a unit
		// each.
		cost.ResultSize(cost.Min(
			cost.List(cost.AtMost(cost.Sum(cost.Target(), cost.Const(1))), cost.AtMost(cost.Target())),
			cost.Sum(cost.Scale(cost.Target(), 2), cost.Const(2)))))
}

// caseCost is toUpper's and toLower's charge per code point: one that is not ASCII is mapped
// through Unicode's tables, some 30 ns.
const caseCost = 3

// runesCost is the charge per code point of the strings extension's lowerAscii, upperAscii and
// reverse, which make the text a slice of runes and build a string from it again: some 25 ns
// a code point, the result's included, of ASCII and Greek alike.
const runesCost = 3

// charAtCost is the charge per code point of the strings extension's charAt, which makes the
// whole text a slice of runes to take one of them: some 7 ns a code point.
const charAtCost = 1

// containsCost is contains' charge per code point of its text at least, beside CEL's, a
// hundredth of a unit per code point and character of the needle: the search looks for the
// needle's first byte and checks the needle at each, and one common in the text (each Greek
// letter's first byte is one of two, each emoji's the same) is checked at each code point,
// some 2 to 4 ns a code point of ASCII, 5 to 12 of Greek and 7 to 16 of emoji, the most
// bytes a code point has, which the charge is made for.
const containsCost = 1

// searchModel prices the strings extension's call id that finds a needle in its receiver
// after making the receiver a slice of runes runeSlices times (lastIndexOf without an
// offset does so twice): charAtCost a code point for each, as charAt's, beside the
// extension's tenth of a unit per code point and character of the needle, the comparisons of
// its search (some 8 to 20 ns a code point for indexOf, 25 to 40 for lastIndexOf).
func searchModel(id string, runeSlices float64) cost.OverloadModel {
	return cost.MemberOverload(id,
		cost.EvalCost(cost.Sum(cost.Const(cost.CallCost),
			cost.Scale(cost.Length(cost.Target()), runeSlices*charAtCost),
			cost.StringScan(cost.Mul(cost.Length(cost.Target()), cost.Length(cost.Arg(0)))))))
}

// runesModel prices the strings extension's call id that makes its receiver a slice of runes
// and builds a string of as many from it.
func runesModel(id string) cost.OverloadModel {
	return cost.MemberOverload(id,
		cost.EvalCost(cost.Sum(cost.Const(cost.CallCost), cost.Scale(cost.Length(cost.Target()), runesCost))),
		cost.ResultSize(cost.Target()))
}

// matchFactor is a match's charge per code point of its text (and one for its end) and
// character of its pattern: the regular expression runs its instructions over each code
// point, some 3 ns per character of an ordinary pattern and code point of text ([0-9]+x over
// 64 KiB takes 1.3 ms), which CEL charges a fortieth of a unit. The pattern of a transform is
// constant, the operator's; the text is the input's.
const matchFactor = 0.4

// matchCost is the charge of running the pattern p over the text s.
func matchCost(s, p cost.QuantityExpr) cost.QuantityExpr {
	return cost.Mul(cost.Scale(cost.Sum(cost.Length(s), cost.Const(1)), cost.StringTraversalCostFactor),
		cost.Scale(cost.Length(p), matchFactor/cost.StringTraversalCostFactor))
}

// base64DecodeCost is base64.decode's charge per character, some 1.3 ns: twice a scan's tenth.
const base64DecodeCost = 0.2

// base64EncodeBytesCost is base64.encode's charge per byte: it allocates its encoding zeroed,
// encodes into it and copies it into a string, some 2.8 ns a byte.
const base64EncodeBytesCost = 0.4

// formResultCost is jsonToFormURLEncoded's charge per character of its result: it writes each
// byte of a value that is not unreserved as three, some 7 to 9 ns a code point of emoji (four
// bytes) for each twelve characters written, and ASCII text as it is, some 3 ns a character.
const formResultCost = 0.3

// hmacCost is hmacSha1's and hmacSha256's charge per code point of their message and key: they
// hash their bytes, some 2 ns a byte, 8 to 9 ns a code point of emoji, the most bytes a code
// point has, 16 to 18 ns a unit. A unit a code point would be a comparison's 8, but IBM's DUO
// transforms sign the form of their request, estimated at twelve characters a code point of
// its values (each byte percent-encoded), and initiate's estimate would pass the cost limit at
// the input size hint: its form's bytes are ASCII, a character's hash 2 ns.
const hmacCost = 0.5

// base64EncodeCost is base64Encode's charge per code point: it copies the text into a buffer,
// encodes it after it and copies the encoding out, some 7 ns a character of ASCII.
const base64EncodeCost = 1

// maskPhoneCost is maskPhone's charge per code point, which it decodes twice and writes again:
// some 15 ns.
const maskPhoneCost = 2

// maskEmailCost is maskEmail's charge per code point: it looks for the last @ byte by byte from
// the end of the address and copies the domain after it, some 7 ns a code point of emoji,
// the most bytes a code point has, which the charge is made for.
const maskEmailCost = 1

// pathSegmentCost is pathSegment's charge per code point: it looks for a slash or a backslash
// byte by byte and percent-decodes the text, twice when it holds an escape, which walks it
// byte by byte two or three times and copies it, some 4 ns a character of an encoded ASCII
// text and 15 to 25 a code point of emoji, the most bytes a code point has.
const pathSegmentCost = 2

// computedMatch is the overload id a match of a pattern computed from the input is tracked
// under (boundCalls), that dynamicCalls charges it computedMatchCost.
const computedMatch = "matches_computed_pattern"

// computedMatchCost is the charge of matching the pattern p, computed from the input, over s:
// matchFactor per code point of s (and one for its end) and instruction of p, as patternInsts
// counts them from above, or character of p when it has more; and chars, the charge by its
// characters alone. A counted repeat is its operand that many times over: a{1000}, seven
// characters, runs a thousand instructions over each code point.
func computedMatchCost(s, p types.String) (charge, chars uint64) {
	n := float64(utf8.RuneCountInString(string(s)) + 1)
	size := utf8.RuneCountInString(string(p))
	units := size
	if len(p) <= maxPatternBytes {
		if re, err := syntax.Parse(string(p), syntax.Perl); err == nil {
			units = max(units, patternInsts(re, 0))
		}
	}
	price := func(u int) uint64 {
		if c := math.Ceil(n * float64(u) * matchFactor); c < 1<<62 {
			return cost.CallCost + uint64(c)
		}
		return math.MaxUint64
	}
	return price(units), price(size)
}

// zoneLoadCost is the charge of loading a time zone by name, which a timestamp's accessor given
// one (now.getHours("America/New_York")) does on every call, from the system's zone database:
// some 50 µs, about a thousand of the units of which the cost limit's million are meant to
// be some 50 ms. cel-go charged it one unit, so that loading zones as often as a
// comprehension over the input repeats the call ran twenty times what its estimate
// accounts for, and for seconds within the limit.
const zoneLoadCost = 1000

// zoneModel prices the timestamp accessor overload id whose last argument is a time zone: a
// zone's load and the call when it is a name, the call alone when it is an offset ("+05:00",
// which holds a colon, as no zone name does), and statically the load, the argument's text
// being known only then.
func zoneModel(id string) cost.OverloadModel {
	return cost.MemberOverload(id, cost.ManualCost(
		func(cost.Estimator, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
			return &cost.CallEstimate{CostEstimate: cost.CostEstimate{Min: cost.CallCost, Max: cost.CallCost + zoneLoadCost}}
		},
		func(args []ref.Val, _ ref.Val) *uint64 {
			c := cost.CallCost
			if tz, ok := args[len(args)-1].(types.String); ok && !strings.Contains(string(tz), ":") {
				c += zoneLoadCost
			}
			return &c
		}))
}

// ofEntries is part (a map's key or value size) when the map may hold entries, and 0 when it
// is empty: CEL states no key or value size for {}, which reads as unknown.
func ofEntries(part, m cost.QuantityExpr) cost.QuantityExpr {
	return cost.Mul(part, cost.Min(cost.Length(m), cost.Const(1)))
}

// base64Encode is standard base64 with padding, encoded through a pooled buffer rather than
// copying s into a slice of its own.
func base64Encode(s string) string {
	bp := hmacBuffers.Get().(*[]byte)
	b := append((*bp)[:0], s...)
	b = base64.StdEncoding.AppendEncode(b, b)
	out := string(b[len(s):])
	if cap(b) <= 4<<10 {
		*bp = b
		hmacBuffers.Put(bp)
	}
	return out
}

// stringFunc lifts a string function to a CEL unary binding.
func stringFunc(fn func(string) string) func(ref.Val) ref.Val {
	return func(v ref.Val) ref.Val {
		s, ok := v.(types.String)
		if !ok {
			return types.MaybeNoSuchOverloadErr(v)
		}
		out := fn(string(s))
		if out == string(s) {
			return v // unchanged (a header name already in lower case): no new value
		}
		return types.String(out)
	}
}

// mapPut implements m.put(k, v): a copy of m with k set to v. The receiver is never modified. On a
// header map a string value is stored as a one-element list and the result is again a header
// map, so that chained puts keep the header shape.
func mapPut(args ...ref.Val) ref.Val {
	if len(args) != 3 {
		return types.NoSuchOverloadErr()
	}
	return put(args[0], args[1], args[2])
}

// put is m.put(key, val), called by mapPut and by putCall.
func put(recv, key, val ref.Val) ref.Val {
	m, ok := recv.(traits.Mapper)
	if !ok {
		return types.MaybeNoSuchOverloadErr(recv)
	}
	if !validKey(key) {
		return putKeyErr(key)
	}
	if h, ok := m.(*headerMap); ok {
		return h.put(key, val)
	}
	out := make(map[ref.Val]ref.Val, int(sizeOf(m))+1)
	copyEntries(out, m, func(k ref.Val) bool { return !sameKey(k, key, false) })
	out[key] = val
	return types.NewRefValMap(types.DefaultTypeAdapter, out)
}

// putKeyErr is put's error for a key no map may have.
func putKeyErr(key ref.Val) ref.Val {
	return types.NewErr("put: unsupported key type %s", key.Type().TypeName())
}

// mapPutAll implements m.putAll(m2): a copy of m with every entry of m2 set. On a header map the
// values of m2 are stored as header values, as put does.
func mapPutAll(recv, arg ref.Val) ref.Val {
	m, ok := recv.(traits.Mapper)
	if !ok {
		return types.MaybeNoSuchOverloadErr(recv)
	}
	m2, ok := arg.(traits.Mapper)
	if !ok {
		return types.MaybeNoSuchOverloadErr(arg)
	}
	_, isHeader := m.(*headerMap)
	out := make(map[ref.Val]ref.Val, int(sizeOf(m)+sizeOf(m2)))
	var folded map[string]bool
	if isHeader && sizeOf(m2) > maxWalkedKeys {
		folded = foldedKeys(m2)
	}
	keep := func(k ref.Val) bool { return !replaced(k, m2, isHeader, folded) }
	copyEntries(out, m, keep)
	for it := m2.Iterator(); it.HasNext() == types.True; {
		k := it.Next()
		if !validKey(k) {
			return types.NewErr("putAll: unsupported key type %s", k.Type().TypeName())
		}
		v := m2.Get(k)
		if types.IsError(v) {
			return v
		}
		if isHeader {
			var err error
			if v, err = headerValue(v); err != nil {
				return types.WrapErr(err)
			}
		}
		out[k] = v
	}
	res := types.NewRefValMap(types.DefaultTypeAdapter, out)
	if isHeader {
		return newHeaderMap(res)
	}
	return res
}

// copyEntries copies the entries of m whose keys keep accepts into dst.
func copyEntries(dst map[ref.Val]ref.Val, m traits.Mapper, keep func(ref.Val) bool) {
	_ = eachEntry(m, func(k, v ref.Val) error {
		if keep(k) {
			dst[k] = v
		}
		return nil
	})
}

// validKey reports whether k may be a map key: CEL allows strings, integers and booleans.
func validKey(k ref.Val) bool {
	switch k.(type) {
	case types.String, types.Int, types.Uint, types.Bool:
		return true
	}
	return false
}

// sameKey reports whether an existing key k is replaced by a put of key: when the two are equal
// under CEL's heterogeneous equality (1 and 1u are one key), and on a header map also when they
// are header names that differ only in case, so that header.put("accept", …) replaces "Accept".
func sameKey(k, key ref.Val, header bool) bool {
	if k.Equal(key) == types.True {
		return true
	}
	if !header {
		return false
	}
	ks, ok1 := k.(types.String)
	keys, ok2 := key.(types.String)
	return ok1 && ok2 && strings.EqualFold(string(ks), string(keys))
}

// maxWalkedKeys is the most keys a header map's putAll walks for each name the map has; past
// it, it looks each name up by its folding (foldedKeys).
const maxWalkedKeys = 8

// replaced reports whether the existing key k is replaced by m2 in a putAll: when m2 has it,
// and on a header map also when it has a header name that differs from k only in case, found
// in folded (foldedKeys of m2) when given, else by walking m2's keys. Walking them for every
// name made a putAll of two maps of 4,000 keys take seconds, at a charge of their sizes.
func replaced(k ref.Val, m2 traits.Mapper, header bool, folded map[string]bool) bool {
	if m2.Contains(k) == types.True {
		return true
	}
	if !header {
		return false
	}
	if folded != nil {
		ks, ok := k.(types.String)
		return ok && folded[caseFold(string(ks))]
	}
	for it := m2.Iterator(); it.HasNext() == types.True; {
		if sameKey(k, it.Next(), true) {
			return true
		}
	}
	return false
}

// foldedKeys is the set of the case foldings (caseFold) of m's string keys.
func foldedKeys(m traits.Mapper) map[string]bool {
	folded := make(map[string]bool, int(sizeOf(m)))
	_ = eachEntry(m, func(k, _ ref.Val) error {
		if ks, ok := k.(types.String); ok {
			folded[caseFold(string(ks))] = true
		}
		return nil
	})
	return folded
}

// caseFold is s with each code point replaced by the least of those it equals under Unicode's
// simple case folding, so that two strings have one caseFold exactly when strings.EqualFold
// finds them equal (sameKey): "ſeſſion" and "SESSION" both fold to "SESSION". An invalid byte
// folds to U+FFFD, as EqualFold reads it.
func caseFold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToUpper(s) // an ASCII letter's least equal is its upper case
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

func sizeOf(m traits.Sizer) int64 {
	if n, ok := m.Size().(types.Int); ok {
		return int64(n)
	}
	return 0
}

// formatTime implements formatTime(t, layout) with a Go reference-time layout. The timestamp is
// formatted in its own location: now is always UTC (Eval sees to that), and timestamps CEL
// creates are UTC unless written with an offset, so output never depends on the host's zone.
func formatTime(t, layout ref.Val) ref.Val {
	ts, ok := t.(types.Timestamp)
	if !ok {
		return types.MaybeNoSuchOverloadErr(t)
	}
	l, ok := layout.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(layout)
	}
	return types.String(ts.Time.Format(string(l)))
}

// joinStrings implements joinStrings(list, sep).
func (lib library) joinStrings(list, sep ref.Val) ref.Val {
	l, ok := list.(traits.Lister)
	if !ok {
		return types.MaybeNoSuchOverloadErr(list)
	}
	s, ok := sep.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(sep)
	}
	return lib.join(sizeOf(l), func(i int64) ref.Val { return l.Get(types.Int(i)) }, s)
}

// join is joinStrings of the n elements get returns.
func (lib library) join(n int64, get func(i int64) ref.Val, s types.String) ref.Val {
	total := max(n-1, 0) * int64(len(s))
	for i := int64(0); i < n; i++ {
		if es, ok := get(i).(types.String); ok {
			total += int64(len(es))
		}
	}
	if total > lib.maxString {
		return tooLong("joinStrings", total, lib.maxString)
	}
	var b strings.Builder
	b.Grow(int(total))
	for i := int64(0); i < n; i++ {
		e := get(i)
		es, ok := e.(types.String)
		if !ok {
			if types.IsError(e) {
				return e
			}
			return types.NewErr("joinStrings: element %d is %s, not string", i, e.Type().TypeName())
		}
		if i > 0 {
			b.WriteString(string(s))
		}
		b.WriteString(string(es))
	}
	return types.String(b.String())
}

// hmacHex returns a binding computing the HMAC (RFC 2104) of (message, key) as lower-case hex.
// It hashes with the one-shot sum into a pooled buffer: crypto/hmac allocates two hash states
// and their pads on every call, a third of what a DUO signature costs.
func hmacHex(sum func(dst, data []byte) []byte, blockSize, size int) func(ref.Val, ref.Val) ref.Val {
	return func(msg, key ref.Val) ref.Val {
		m, ok := msg.(types.String)
		if !ok {
			return types.MaybeNoSuchOverloadErr(msg)
		}
		k, ok := key.(types.String)
		if !ok {
			return types.MaybeNoSuchOverloadErr(key)
		}
		return types.String(hmacHexString(sum, blockSize, size, string(k), string(m)))
	}
}

// hmacBuffers holds scratch space for hmacHexString and base64Encode between calls.
var hmacBuffers = sync.Pool{New: func() any { return new([]byte) }}

func hmacHexString(sum func(dst, data []byte) []byte, blockSize, size int, key, msg string) string {
	bp := hmacBuffers.Get().(*[]byte)
	b := slices.Grow((*bp)[:0], blockSize)[:blockSize]
	b = append(b, msg...)
	b = hmacInto(sum, blockSize, size, key, b)
	out := string(b[len(b)-2*size:])
	releaseBuffer(bp, b)
	return out
}

// hmacInto computes the HMAC with key of the message b holds after blockSize bytes left for the
// inner pad, and returns b with the HMAC in lower-case hex at its end.
func hmacInto(sum func(dst, data []byte) []byte, blockSize, size int, key string, b []byte) []byte {
	if len(key) > blockSize {
		key = string(sum(nil, []byte(key)))
	}
	pad := func(b []byte, x byte) []byte {
		for i := 0; i < blockSize; i++ {
			c := byte(0)
			if i < len(key) {
				c = key[i]
			}
			b = append(b, c^x)
		}
		return b
	}
	// inner = H((K ^ ipad) || msg), then H((K ^ opad) || inner), all in b.
	pad(b[:0], 0x36)
	start := len(b)
	b = sum(b, b[:start])
	outer := len(b)
	b = pad(b, 0x5c)
	b = append(b, b[start:start+size]...)
	b = sum(b, b[outer:])
	return hex.AppendEncode(b, b[len(b)-size:])
}

func sha1Sum(dst, data []byte) []byte {
	s := sha1.Sum(data)
	return append(dst, s[:]...)
}

func sha256Sum(dst, data []byte) []byte {
	s := sha256.Sum256(data)
	return append(dst, s[:]...)
}

// jsonToFormURLEncoded implements jsonToFormURLEncoded(map, sorted): k=v pairs joined by '&',
// keys and values percent-encoded per RFC 3986 (only A-Za-z0-9-._~ kept, space is %20). Strings
// are used as they are, numbers and booleans as their JSON text, null as the empty string, and a
// list repeats its key once per element (in list order). A map value is an error.
//
// CEL maps carry no order, so with sorted false the dialect leaves the order open; emfa then
// also emits the keys in byte order, so that its output is reproducible.
func (lib library) jsonToFormURLEncoded(mv, sortedv ref.Val) ref.Val {
	m, ok := mv.(traits.Mapper)
	if !ok {
		return types.MaybeNoSuchOverloadErr(mv)
	}
	if _, ok := sortedv.(types.Bool); !ok {
		return types.MaybeNoSuchOverloadErr(sortedv)
	}
	type pair struct{ k, v string }
	// A form of a few scalar fields, as a signed request's, is built on the stack.
	var small [8]pair
	pairs := small[:0]
	if n := sizeOf(m); n > int64(len(small)) {
		pairs = make([]pair, 0, n)
	}
	var bad ref.Val
	add := func(kv, v ref.Val) bool {
		k, ok := kv.(types.String)
		if !ok {
			bad = types.NewErr("jsonToFormURLEncoded: key of type %s, want string", kv.Type().TypeName())
			return false
		}
		if l, ok := v.(traits.Lister); ok {
			for i := int64(0); i < sizeOf(l); i++ {
				s, err := formScalar(l.Get(types.Int(i)))
				if err != nil {
					bad = types.NewErr("jsonToFormURLEncoded: key %q: %v", string(k), err)
					return false
				}
				pairs = append(pairs, pair{string(k), s})
			}
			return true
		}
		s, err := formScalar(v)
		if err != nil {
			bad = types.NewErr("jsonToFormURLEncoded: key %q: %v", string(k), err)
			return false
		}
		pairs = append(pairs, pair{string(k), s})
		return true
	}
	if err := eachEntry(m, func(k, v ref.Val) error {
		if !add(k, v) {
			return errStop
		}
		return nil
	}); err != nil {
		return bad
	}
	// A stable sort keeps a list's elements in their order under a key.
	slices.SortStableFunc(pairs, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	n := 0
	for _, p := range pairs {
		n += percentEncodedLen(p.k) + percentEncodedLen(p.v) + 2
		if int64(n) > lib.maxString {
			return tooLong("jsonToFormURLEncoded", int64(n), lib.maxString)
		}
	}
	var b strings.Builder
	b.Grow(n)
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		writePercentEncoded(&b, p.k)
		b.WriteByte('=')
		writePercentEncoded(&b, p.v)
	}
	return types.String(b.String())
}

// tooLong is the refusal of a function whose result would be longer than max bytes.
func tooLong(fn string, n, max int64) ref.Val {
	return types.NewErr("%s: a result of more than %d bytes (at least %d), whose scan alone exceeds the cost limit", fn, max, n)
}

// formScalar renders a form value: a string as is, anything else JSON-scalar as its JSON text.
func formScalar(v ref.Val) (string, error) {
	switch v := v.(type) {
	case types.String:
		return string(v), nil
	case types.Bool:
		return strconv.FormatBool(bool(v)), nil
	case types.Int:
		return strconv.FormatInt(int64(v), 10), nil
	case types.Uint:
		return strconv.FormatUint(uint64(v), 10), nil
	case types.Double:
		// encoding/json's text, as toJSON's result gets: 1000000 where %g writes 1e+06.
		b, err := json.Marshal(float64(v))
		if err != nil {
			return "", errors.New("double is not a finite number")
		}
		return string(b), nil
	case types.Null:
		return "", nil
	case *types.Err:
		return "", v
	}
	return "", fmt.Errorf("value of type %s cannot be form-encoded", v.Type().TypeName())
}

// percentEncode escapes every byte of s except RFC 3986's unreserved characters, with upper-case
// hex digits: the canonical form DUO's request signature uses.
func percentEncode(s string) string {
	if percentEncodedLen(s) == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(percentEncodedLen(s))
	writePercentEncoded(&b, s)
	return b.String()
}

// percentEncodedLen is the length of s percent-encoded.
func percentEncodedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n += 2
		}
	}
	return n
}

// writePercentEncoded writes s percent-encoded to b.
func writePercentEncoded(b *strings.Builder, s string) {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// maskPhone hides a phone number for display: a leading '+', the first digit and the last four
// digits stay, every other digit becomes '*', and separators (spaces, dashes, parentheses) stay
// where they are. A number of fewer than eight digits is masked entirely, since keeping five of
// its digits would show most of it.
//
//	"+15551230123"    → "+1******0123"
//	"+1 555-123-0123" → "+1 ***-***-0123"
//	"1234567"         → "*******"
func maskPhone(s string) string {
	digits := 0
	for _, r := range s {
		if '0' <= r && r <= '9' {
			digits++
		}
	}
	var b strings.Builder
	b.Grow(len(s))
	seen := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			b.WriteRune(r)
			continue
		}
		seen++
		if digits >= 8 && (seen == 1 || seen > digits-4) {
			b.WriteRune(r)
		} else {
			b.WriteByte('*')
		}
	}
	return b.String()
}

// maskEmail hides the local part of an e-mail address for display: its first character stays and
// the rest becomes "***" whatever its length; the domain stays.
//
//	"alice@example.com" → "a***@example.com"
//	"@example.com"      → "***@example.com"
//	"bob"               → "b***"
func maskEmail(s string) string {
	if s == "" {
		return ""
	}
	local, domain, hasAt := strings.Cut(s, "@")
	// A local part may itself contain a quoted '@'; the domain follows the last one.
	if i := strings.LastIndexByte(s, '@'); hasAt && i >= 0 {
		local, domain = s[:i], s[i+1:]
	}
	masked := "***"
	if r, size := utf8.DecodeRuneInString(local); size > 0 && r != utf8.RuneError {
		masked = string(r) + masked
	}
	if !hasAt {
		return masked
	}
	return masked + "@" + domain
}

// errStop ends a walk over a map early.
var errStop = errors.New("stop")

// errHeaderValue is returned when a header map is given a value that is neither a string nor a
// list of strings.
var errHeaderValue = errors.New("header value must be a string or a list of strings")

// notPathSegment is pathSegment's refusal, a new error each time (the evaluation labels
// it with its position); it does not quote the value, which may be anything a transform
// was given.
func notPathSegment() ref.Val {
	return types.NewErr("pathSegment: the value is not one path segment (empty, . or .., or holding / or \\, percent-encoded too)")
}

// pathSegment is v when it is one path segment, which an outgoing transform can put in
// a path: path + "/" + pathSegment(body.username). Anything else is an error, for the
// call to answer FAILED: a value that would add or remove segments, even once a proxy
// decodes it. emfa escapes what else a segment cannot hold (?, #, %, spaces) when it
// sends the path.
func pathSegment(v ref.Val) ref.Val {
	s, ok := v.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(v)
	}
	seg := string(s)
	for range 4 { // a value encoded more often than that is refused
		if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "/\\") {
			return notPathSegment()
		}
		decoded, err := url.PathUnescape(seg)
		if err != nil || decoded == seg {
			return s
		}
		seg = decoded
	}
	return notPathSegment()
}

// Bounds of a pattern matches compiles on a call: one computed from the input. Compiling
// costs what the pattern expands to, about a microsecond an instruction, which the cost
// limit does not charge (it charges running the instructions, computedMatchCost):
// [a-z]{1,1000} a hundred times over, 1,300 bytes, is 200,000 instructions. These bounds
// keep a compilation to a few milliseconds, far above what a pattern to check a code or an
// address expands to.
const (
	maxPatternBytes = 16 << 10
	maxPatternInsts = 10_000
)

// untrackedForms is the decorator of a transform's untracked program that leaves a form with a
// list value to the tracked one. jsonToFormURLEncoded's estimate counts a list value by its
// length, not its elements' text nor its key, written again for each: it bounds a form of
// scalars, as every request IBM's DUO transforms sign, and a field of an input, of type dyn,
// may be a list as long as the input size hint of strings as long. Counting such lists in the
// estimate would put DUO's outgoing transforms out of the untracked path. Such a form instead
// marks the evaluation (evalState.retrack), which EvalValue then evaluates again with cost
// tracking, and is meanwhile an error, having cost no more than the estimate counts.
func (lib library) untrackedForms(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
	call, ok := i.(interpreter.InterpretableCall)
	if !ok || call.OverloadID() != "jsonToFormURLEncoded_map_bool" || len(call.Args()) != 2 {
		return i, nil
	}
	return &scalarForm{InterpretableV2: i, m: call.Args()[0], sorted: call.Args()[1], lib: lib}, nil
}

// scalarForm is jsonToFormURLEncoded in the untracked program: see untrackedForms. Its
// arguments are evaluated as CEL evaluates a call's, in order, the first error or unknown
// being its value.
type scalarForm struct {
	interpreter.InterpretableV2
	m, sorted interpreter.InterpretableV2
	lib       library
}

func (f *scalarForm) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	m := f.m.Exec(frame)
	if types.IsUnknownOrError(m) {
		return m
	}
	sorted := f.sorted.Exec(frame)
	if types.IsUnknownOrError(sorted) {
		return sorted
	}
	if x, ok := frame.ResolveName(untrackedVar); ok && hasListValue(m) {
		if st, ok := x.(*evalState); ok {
			st.retrack = true
			return types.NewErr("jsonToFormURLEncoded: a list value, left to the tracked program")
		}
	}
	return f.lib.jsonToFormURLEncoded(m, sorted)
}

// Eval implements interpreter.Interpretable.
func (f *scalarForm) Eval(act interpreter.Activation) ref.Val { return evalIn(f, act) }

// hasListValue reports whether v is a map holding a list value.
func hasListValue(v ref.Val) bool {
	m, ok := v.(traits.Mapper)
	if !ok {
		return false
	}
	found := false
	_ = eachEntry(m, func(_, e ref.Val) error {
		if _, found = e.(traits.Lister); found {
			return errStop
		}
		return nil
	})
	return found
}

// untrackedComparisons is the decorator of a transform's untracked program that bounds what its
// comparisons of lists and maps (==, !=, in) walk. Such a comparison walks its operands to the
// bottom, which the tracked program charges (dynamicCalls.comparison), but the estimate counts
// it by their top level, and nothing bounds how deep an input nests: within the input size
// the untracked path is chosen for, a list of lists compared as often as a comprehension
// repeats it walked many times the cost limit. Each such comparison adds its charge to the
// evaluation's walked; past the slack the estimate leaves below the limit, the evaluation is
// left to the tracked program (evalState.retrack), and the comparison is meanwhile an error,
// having walked no more than the slack. Comparisons of scalars, as a transform's of a field
// with a literal, are made as before.
func (lib library) untrackedComparisons(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
	call, ok := i.(interpreter.InterpretableCall)
	if !ok {
		return i, nil
	}
	args := call.Args()
	switch call.Function() {
	case operators.Equals, operators.NotEquals, operators.In, overloads.DeprecatedIn:
		if len(args) == 2 {
			return &boundedComparison{InterpretableV2: i, fn: call.Function(), lhs: args[0], rhs: args[1]}, nil
		}
	case "distinct":
		if len(args) == 1 && (call.OverloadID() == "" || call.OverloadID() == "list_distinct") {
			return &boundedDistinct{InterpretableV2: i, list: args[0], lib: lib}, nil
		}
	case overloads.Matches:
		if call.OverloadID() == computedMatch && len(args) == 2 {
			return &boundedMatch{InterpretableV2: i, str: args[0], pattern: args[1]}, nil
		}
	}
	return i, nil
}

// walkedPast adds n to what the untracked evaluation of frame has walked, and reports whether
// that is past its slack, having then marked it for the tracked program.
func walkedPast(frame *interpreter.ExecutionFrame, n uint64) bool {
	x, ok := frame.ResolveName(untrackedVar)
	if !ok {
		return false
	}
	st, ok := x.(*evalState)
	if !ok {
		return false
	}
	if st.walked = cost.SafeAdd(st.walked, n); st.walked > st.slack {
		st.retrack = true
		return true
	}
	return false
}

// remaining is what the untracked evaluation of frame may still walk.
func remaining(frame *interpreter.ExecutionFrame) uint64 {
	if x, ok := frame.ResolveName(untrackedVar); ok {
		if st, ok := x.(*evalState); ok {
			return st.slack - min(st.walked, st.slack)
		}
	}
	return 0
}

// boundedDistinct is l.distinct() in the untracked program: what comparing l's elements
// walks is counted as a comparison's is (untrackedComparisons).
type boundedDistinct struct {
	interpreter.InterpretableV2
	list interpreter.InterpretableV2
	lib  library
}

func (d *boundedDistinct) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	v := d.list.Exec(frame)
	if types.IsUnknownOrError(v) {
		return v
	}
	if l, ok := v.(traits.Lister); ok && walkedPast(frame, distinctWalk(l, remaining(frame))) {
		return types.NewErr("distinct: a list whose elements' comparison walks past the estimate, left to the tracked program")
	}
	return d.lib.distinct(v)
}

// Eval implements interpreter.Interpretable.
func (d *boundedDistinct) Eval(act interpreter.Activation) ref.Val { return evalIn(d, act) }

// boundedMatch is a match of a pattern computed from the input in the untracked program: what
// its instructions are charged beyond its characters, which the estimate counts, is added to
// the evaluation's walked, as a comparison's walk is (untrackedComparisons).
type boundedMatch struct {
	interpreter.InterpretableV2
	str, pattern interpreter.InterpretableV2
}

func (m *boundedMatch) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	s := m.str.Exec(frame)
	if types.IsUnknownOrError(s) {
		return s
	}
	p := m.pattern.Exec(frame)
	if types.IsUnknownOrError(p) {
		return p
	}
	str, ok1 := s.(types.String)
	pat, ok2 := p.(types.String)
	if ok1 && ok2 {
		if c, chars := computedMatchCost(str, pat); c > chars && walkedPast(frame, c-chars+1) {
			return types.NewErr("matches: a pattern computed from the input whose instructions pass the estimate, left to the tracked program")
		}
	}
	return matches(s, p)
}

// Eval implements interpreter.Interpretable.
func (m *boundedMatch) Eval(act interpreter.Activation) ref.Val { return evalIn(m, act) }

// boundedComparison is ==, != or in in the untracked program: see untrackedComparisons. Its
// operands are evaluated as CEL evaluates them, in order, the first error being its value.
type boundedComparison struct {
	interpreter.InterpretableV2
	fn       string
	lhs, rhs interpreter.InterpretableV2
}

func (c *boundedComparison) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	l := c.lhs.Exec(frame)
	if types.IsError(l) {
		return l
	}
	r := c.rhs.Exec(frame)
	if types.IsError(r) {
		return r
	}
	if types.IsUnknown(l) {
		return l // the untracked program is given none: as CEL has it, but unmerged
	}
	if types.IsUnknown(r) {
		return r
	}
	if aggregate(l) && aggregate(r) {
		n, charged := dynamicCalls{limit: remaining(frame) + 1}.comparison(c.fn, []ref.Val{l, r})
		if charged && walkedPast(frame, n) {
			return types.NewErr("%s: a comparison of lists or maps past the estimate, left to the tracked program", c.fn)
		}
	}
	switch c.fn {
	case operators.Equals:
		return types.Equal(l, r)
	case operators.NotEquals:
		return types.Bool(types.Equal(l, r) != types.True)
	}
	if cont, ok := r.(traits.Container); ok && r.Type().HasTrait(traits.ContainerType) {
		return cont.Contains(l)
	}
	return types.ValOrErr(r, "no such overload")
}

// Eval implements interpreter.Interpretable.
func (c *boundedComparison) Eval(act interpreter.Activation) ref.Val { return evalIn(c, act) }

// boundCalls is the decorator of both of a transform's programs that bounds, before they
// run, the calls of standard CEL and its extensions whose work the cost limit charges only
// once they have returned, or not at all: a matches call whose pattern is computed (from the
// input) refuses a pattern over the bounds before compiling it (a constant pattern is left
// to the program, which compiles it once), replace refuses a result over maxString
// before building it, and distinct a list whose elements' comparison walks past the cost
// limit before comparing them.
func (lib library) boundCalls(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
	call, ok := i.(interpreter.InterpretableCall)
	if !ok {
		return i, nil
	}
	args := call.Args()
	var impl func(vals ...ref.Val) ref.Val
	overload := call.OverloadID()
	switch {
	case call.Function() == overloads.Matches && len(args) == 2:
		if _, constant := args[1].(interpreter.InterpretableConst); constant {
			return i, nil
		}
		impl = func(vals ...ref.Val) ref.Val { return matches(vals[0], vals[1]) }
		// Charged by its instructions (dynamicCalls, computedMatchCost), which the
		// overload's model, by characters, would be preferred to.
		overload = computedMatch
	case call.Function() == "distinct" && len(args) == 1 && (call.OverloadID() == "" || call.OverloadID() == "list_distinct"):
		impl = func(vals ...ref.Val) ref.Val { return lib.distinct(vals[0]) }
		// Tracked under no overload, the call is charged by dynamicCalls, which adds its
		// elements' walk, rather than by the lists extension's model, which cel-go would
		// prefer.
		overload = ""
	case call.Function() == "replace" && (len(args) == 3 || len(args) == 4) &&
		(call.OverloadID() == "" || strings.HasPrefix(call.OverloadID(), "string_replace_string_string")):
		impl = lib.replace
	default:
		return i, nil
	}
	n := len(args)
	return interpreter.NewCall(call.ID(), call.Function(), overload, args, func(vals ...ref.Val) ref.Val {
		if len(vals) != n {
			return types.NoSuchOverloadErr()
		}
		return impl(vals...)
	}), nil
}

// costLimit is the cost limit maxString was made from.
func (lib library) costLimit() uint64 { return uint64(lib.maxString / 10) }

// distinct is the lists extension's l.distinct(), the elements of l without those equal to one
// before them, refused before it runs when comparing its elements would walk more than the
// cost limit allows (distinctWalk): cel-go charges a call once it has returned, and two
// elements alike but for their last value are walked to it, so 100 lists of 100 lists of the
// input were compared for seconds at a charge of a few thousand units.
func (lib library) distinct(v ref.Val) ref.Val {
	l, ok := v.(traits.Lister)
	if !ok {
		return types.MaybeNoSuchOverloadErr(v)
	}
	if limit := lib.costLimit(); distinctWalk(l, limit) > limit {
		return types.NewErr("distinct: comparing the list's elements walks more values than the cost limit allows")
	}
	n := sizeOf(l)
	if n == 0 {
		return l
	}
	kept := make([]ref.Val, 0, n)
	for i := int64(0); i < n; i++ {
		e := l.Get(types.Int(i))
		if !slices.ContainsFunc(kept, func(k ref.Val) bool { return e.Equal(k) == types.True }) {
			kept = append(kept, e)
		}
	}
	return types.NewRefValList(types.DefaultTypeAdapter, kept)
}

// replace is the strings extension's s.replace(old, new) and s.replace(old, new, n), which
// build a string of up to len(s) + (occurrences of old) × len(new) bytes: quadratic in the
// inputs (an empty old occurs between every two characters). A result whose scan alone
// exceeds the cost limit is refused before it is built, as joinStrings's is.
func (lib library) replace(vals ...ref.Val) ref.Val {
	var str [3]string
	for j := range str {
		s, ok := vals[j].(types.String)
		if !ok {
			return types.MaybeNoSuchOverloadErr(vals[j])
		}
		str[j] = string(s)
	}
	s, old, repl := str[0], str[1], str[2]
	limit := int64(-1)
	if len(vals) == 4 {
		n, ok := vals[3].(types.Int)
		if !ok {
			return types.MaybeNoSuchOverloadErr(vals[3])
		}
		limit = int64(n)
	}
	count := int64(strings.Count(s, old)) // an empty old: once per code point, and once more
	if limit >= 0 {
		count = min(count, limit)
	}
	// Both factors are at most a string's length: the product does not overflow.
	if n := int64(len(s)) + count*int64(len(repl)-len(old)); n > lib.maxString {
		return tooLong("replace", n, lib.maxString)
	}
	if limit < 0 {
		return types.String(strings.ReplaceAll(s, old, repl))
	}
	return types.String(strings.Replace(s, old, repl, int(min(limit, math.MaxInt))))
}

// matches is standard CEL's s.matches(pattern) and matches(s, pattern), with a pattern over
// the bounds refused before it is compiled. Neither message quotes the pattern.
func matches(str, pattern ref.Val) ref.Val {
	s, ok := str.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(str)
	}
	p, ok := pattern.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(pattern)
	}
	if len(p) > maxPatternBytes {
		return types.NewErr("matches: a pattern of more than %d bytes, not compiled on a call (a pattern written in the transform is compiled once, at load)", maxPatternBytes)
	}
	re, err := syntax.Parse(string(p), syntax.Perl)
	if err != nil {
		return types.NewErr("%s", patternError(err))
	}
	if patternInsts(re, 0) > maxPatternInsts {
		return types.NewErr("matches: a pattern that expands to more than %d instructions, not compiled on a call (a pattern written in the transform is compiled once, at load)", maxPatternInsts)
	}
	compiled, err := regexp.Compile(string(p))
	if err != nil {
		return types.NewErr("%s", patternError(err))
	}
	return types.Bool(compiled.MatchString(string(s)))
}

// patternError is regexp's refusal of a pattern, without the pattern its message quotes
// between backquotes: a backquote in the pattern would end the quote redact removes, and
// show the rest.
func patternError(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return "error parsing regexp: " + se.Code.String()
	}
	return "error parsing regexp"
}

// patternInsts estimates, from above, the instructions re compiles to, counting from n and
// stopping once past maxPatternInsts: a counted repeat is its operand that many times over.
func patternInsts(re *syntax.Regexp, n int) int {
	if n > maxPatternInsts {
		return n
	}
	switch re.Op {
	case syntax.OpLiteral:
		return n + len(re.Rune)
	case syntax.OpRepeat:
		times := re.Max
		if times < 0 {
			times = re.Min + 1
		}
		sub := patternInsts(re.Sub[0], 0)
		if times > 0 && sub > (maxPatternInsts-n)/times {
			return maxPatternInsts + 1
		}
		return n + times*(sub+1) + 1
	}
	n += 2 // the operator's own (a split, a capture's two saves, an empty width)
	for _, sub := range re.Sub {
		n = patternInsts(sub, n)
	}
	return n
}
