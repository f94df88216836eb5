package transform

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// textLen is the length, in code points, of the strings the text cost tests give a call, and
// textReps how many times their comprehensions repeat it: within the cost limit at the old
// charge of each call, past it at the charge of its work.
const textLen, textReps = 16384, 32

// textVars are the variables of a text cost test: s and m.s, a string of textLen code points
// made of unit, typed and dyn, and m.l, textReps elements for a comprehension to repeat a call
// over.
func textVars(unit string) Vars {
	s := strings.Repeat(unit, textLen/utf8.RuneCountInString(unit))
	l := make([]any, textReps)
	for i := range l {
		l[i] = int64(i)
	}
	return Vars{"s": s, "m": map[string]any{"s": s, "l": l}}
}

// wantCharged checks that src, a call on arg, is charged at least perCodePoint a code point of
// vars' text beyond arg, and estimated at least that a code point of the input size hint's.
func wantCharged(t *testing.T, env *Env, vars Vars, src, arg string, perCodePoint float64) {
	t.Helper()
	got, est := callCost(t, env, src, arg, vars)
	n := utf8.RuneCountInString(vars["s"].(string))
	if want := uint64(perCodePoint * float64(n)); got < want {
		t.Errorf("%s: tracked cost %d for %d code points, want at least %d", src, got, n, want)
	}
	if want := uint64(perCodePoint * DefaultInputSizeHint); est < want {
		t.Errorf("%s: estimate %d, want at least %d for the size hint's %d code points", src, est, want, DefaultInputSizeHint)
	}
}

// strings.quote decodes its text twice, writing it rune by rune into a builder each time: some
// 35 ns a code point of ASCII, 60 of Greek or an escape, which the strings extension charged
// a scan's 0.1 unit (BenchmarkChargedCost: 300 to 700 ns a unit, where a string's size or a
// comparison takes 7), so that quoting the input as often as a comprehension repeats it ran
// for 50 to 100 times the time the cost limit allows. It is charged 6 units a code point.
func TestQuoteChargedItsWork(t *testing.T) {
	env := testEnv(t)
	for _, unit := range []string{"αβγδ", "a\"b\\\n\t"} {
		vars := textVars(unit)
		wantCostLimit(t, env, `m.l.map(x, strings.quote(m.s))`, vars)
		wantCharged(t, env, vars, `strings.quote(s)`, `s`, 6)
		wantCharged(t, env, vars, `strings.quote(m.s)`, `m.s`, 6)
	}
}

// split makes each part a string of its own in a list of them, some 35 ns a part, one a code
// point when the separator is empty, and the strings extension charged a part one unit
// (BenchmarkChargedCost: 30 to 40 ns a unit, where a string's size or a comparison takes
// 7). It is charged 4 units a part, beside its scan of the text.
func TestSplitChargedItsParts(t *testing.T) {
	env := testEnv(t)
	for _, unit := range []string{"abcd", "αβγδ"} {
		vars := textVars(unit)
		wantCostLimit(t, env, `m.l.map(x, s.split("").size())`, vars)
		wantCharged(t, env, vars, `s.split("")`, `s`, 4)
		wantCharged(t, env, vars, `m.s.split("")`, `m.s`, 4)
		wantCharged(t, env, vars, `s.split("", -1)`, `s`, 4)
	}
}

// toUpper and toLower map each code point that is not ASCII through Unicode's tables, some
// 30 ns, and were charged a scan's 0.1 unit (BenchmarkChargedCost: 400 ns a unit of Greek,
// where a string's size or a comparison takes 7). They are charged 3 units a code point.
func TestCaseChangeChargedItsWork(t *testing.T) {
	env := testEnv(t)
	vars := textVars("αβγδ")
	for _, fn := range []string{"toUpper", "toLower"} {
		wantCostLimit(t, env, `m.l.map(x, m.s.`+fn+`())`, vars)
		wantCharged(t, env, vars, `s.`+fn+`()`, `s`, 3)
		wantCharged(t, env, vars, `m.s.`+fn+`()`, `m.s`, 3)
	}
}

// The strings extension's lowerAscii, upperAscii and reverse make the text a slice of runes
// and build a string from it again, some 25 ns a code point of ASCII or Greek, and were
// charged 1.1 units a code point, a scan and the result (BenchmarkChargedCost: 20 to 30 ns a
// unit, where a string's size or a comparison takes 7). They are charged 3 units a code point.
func TestRunesChargedTheirWork(t *testing.T) {
	env := testEnv(t)
	vars := textVars("αβγδ")
	for _, fn := range []string{"lowerAscii", "upperAscii", "reverse"} {
		wantCostLimit(t, env, `m.l.map(x, m.s.`+fn+`())`, vars)
		wantCharged(t, env, vars, `s.`+fn+`()`, `s`, 3)
		wantCharged(t, env, vars, `m.s.`+fn+`()`, `m.s`, 3)
	}
}

// A match runs its pattern's instructions over each code point of the text, some 3 ns per
// character of an ordinary pattern and code point ([0-9]+x over 64 KiB: 1.3 ms), which CEL
// charged a fortieth of a unit (BenchmarkChargedCost: 100 to 300 ns a unit, where a string's
// size or a comparison takes 7). It is charged 0.4 units per code point and character of the
// pattern: the pattern is the operator's, constant, and the text the input's.
func TestMatchChargedItsWork(t *testing.T) {
	env := testEnv(t)
	for _, unit := range []string{"abcd", "αβγδ"} {
		vars := textVars(unit)
		wantCostLimit(t, env, `m.l.map(x, m.s.matches("[0-9]+x"))`, vars)
		wantCostLimit(t, env, `m.l.map(x, matches(s, "[0-9]+x"))`, vars)
		perCodePoint := 0.4 * float64(len("[0-9]+x"))
		wantCharged(t, env, vars, `s.matches("[0-9]+x")`, `s`, perCodePoint)
		wantCharged(t, env, vars, `matches(s, "[0-9]+x")`, `s`, perCodePoint)
		wantCharged(t, env, vars, `m.s.matches("[0-9]+x")`, `m.s`, perCodePoint)
	}
}

// maskPhone decodes each code point twice and writes it again, some 15 ns (20 to 30 before its
// builder was sized), and was charged a scan's 0.1 unit (BenchmarkChargedCost: 300 ns a
// unit, where a string's size or a comparison takes 7). It is charged 2 units a code point.
func TestMaskPhoneChargedItsWork(t *testing.T) {
	env := testEnv(t)
	vars := textVars("+1 555-1")
	wantCostLimit(t, env, `m.l.map(x, maskPhone(m.s))`, vars)
	wantCharged(t, env, vars, `maskPhone(s)`, `s`, 2)
	wantCharged(t, env, vars, `maskPhone(m.s)`, `m.s`, 2)
}

// base64Encode copies its text into a buffer, encodes it after it and copies the encoding
// out, some 7 ns a character of ASCII, and was charged a scan's 0.1 unit
// (BenchmarkChargedCost: 50 to 80 ns a unit, where a string's size or a comparison takes 7
// to 20). It is charged a unit a code point.
func TestBase64EncodeChargedItsWork(t *testing.T) {
	env := testEnv(t)
	vars := textVars("abcd")
	wantCostLimit(t, env, `m.l.map(x, m.s.base64Encode() + m.s.base64Encode())`, vars)
	wantCharged(t, env, vars, `s.base64Encode()`, `s`, 1)
	wantCharged(t, env, vars, `m.s.base64Encode()`, `m.s`, 1)
}

// The strings extension's charAt makes the whole text a slice of runes to take one, some 7 ns
// a code point, and charged a scan's 0.1 unit (BenchmarkChargedCost: 70 to 190 ns a unit,
// where a string's size or a comparison takes 7 to 20). It is charged a unit a code point.
func TestCharAtChargedItsWork(t *testing.T) {
	env := testEnv(t)
	vars := textVars("αβγδ")
	wantCostLimit(t, env, `m.l.map(x, [m.s.charAt(0), m.s.charAt(1), m.s.charAt(2)])`, vars)
	wantCharged(t, env, vars, `s.charAt(0)`, `s`, 1)
	wantCharged(t, env, vars, `m.s.charAt(0)`, `m.s`, 1)
}

// contains finds its needle by the needle's first byte, and a needle whose first byte is
// common in the text (every Greek letter's first byte is one of two, every emoji's the same)
// is checked at each: some 2 to 4 ns a code point of ASCII, 5 to 12 of Greek, 7 to 16 of
// emoji, where CEL charged a hundredth of a unit per code point and character of the needle,
// 0.02 a code point for a needle of two (BenchmarkChargedCost: 200 to 600 ns a unit, where a
// string's size or a comparison takes 7 to 20), and 0.4 a code point left emoji at 20 to 60.
// It is charged a unit a code point at least.
func TestContainsChargedItsScan(t *testing.T) {
	env := testEnv(t)
	for _, c := range []struct{ unit, needle string }{{"abcdefgh", "hz"}, {"αβγδ", "αz"}, {"😀😁", "😀z"}} {
		vars := textVars(c.unit)
		wantCostLimit(t, env, `m.l.map(x, m.l.map(y, m.s.contains("`+c.needle+`")))`, vars)
		wantCharged(t, env, vars, `s.contains("`+c.needle+`")`, `s`, 1)
		wantCharged(t, env, vars, `m.s.contains("`+c.needle+`")`, `m.s`, 1)
	}
	vars := textVars("😀😁")
	wantCostLimit(t, env, `m.l.map(x, [m.s.contains("😀z"), m.s.contains("😁z"), m.s.contains("😀y")])`, vars)
}

// The strings extension's indexOf makes the whole text a slice of runes, as charAt does,
// before it compares the needle at each of them, and lastIndexOf without an offset does so
// twice: some 8 to 20 ns a code point for indexOf, 25 to 40 for lastIndexOf, charged a
// tenth of a unit per code point and character of the needle (BenchmarkChargedCost: 40 to
// 200 ns a unit, where a string's size or a comparison takes 7 to 20). They are charged a
// unit a code point for each slice of runes beside that.
func TestIndexOfChargedItsRunes(t *testing.T) {
	env := testEnv(t)
	vars := textVars("αβγδ")
	wantCostLimit(t, env, `m.l.map(x, [m.s.indexOf("αz"), m.s.indexOf("βz"), m.s.indexOf("γz")])`, vars)
	wantCostLimit(t, env, `m.l.map(x, [m.s.lastIndexOf("zα"), m.s.lastIndexOf("zβ")])`, vars)
	wantCostLimit(t, env, `m.l.map(x, [m.s.indexOf("αz", 1), m.s.lastIndexOf("zα", 16000), m.s.indexOf("γz", 2)])`, vars)
	for _, c := range []struct {
		src     string
		perRune float64
	}{
		{`indexOf("αz")`, 1.2}, {`indexOf("αz", 1)`, 1.2},
		{`lastIndexOf("zα")`, 2.2}, {`lastIndexOf("zα", 16000)`, 1.2},
	} {
		wantCharged(t, env, vars, `s.`+c.src, `s`, c.perRune)
		wantCharged(t, env, vars, `m.s.`+c.src, `m.s`, c.perRune)
	}
}

// A pattern computed from the input is compiled on each call, and runs its instructions over
// each code point of the text: a counted repeat is its operand that many times over, so that
// a{1000}, seven characters, is a thousand instructions, charged 0.4 units per code point
// and character of the pattern, a hundredth of its work. A computed pattern is charged 0.4
// units per code point and instruction (patternInsts) when it has more instructions than
// characters; a constant one, the operator's, keeps the charge of its characters.
func TestComputedPatternChargedItsInstructions(t *testing.T) {
	env := testEnv(t)
	vars := textVars("abcd")
	vars["m"].(map[string]any)["p"] = "a{1000}"
	wantCostLimit(t, env, `m.s.matches(m.p)`, vars)
	wantCostLimit(t, env, `matches(s, m.p)`, vars)
	vars["s"] = strings.Repeat("abcd", 25)
	got, _ := callCost(t, env, `s.matches(m.p)`, `[s, m.p]`, vars)
	if n := uint64(0.4 * 1000 * 100); got < n {
		t.Errorf("s.matches(\"a{1000}\" from the input): tracked cost %d, want at least %d", got, n)
	}
}

// hmacSha1 and hmacSha256 hash the bytes of their message and key, some 2 ns a byte, 8 to 9 ns
// a code point of emoji (four bytes), and were charged a scan's 0.1 unit a code point
// (BenchmarkChargedCost: 80 to 250 ns a unit of emoji, where a string's size or a comparison
// takes 7 to 20). They are charged half a unit a code point of each (hmacCost: IBM's DUO
// transforms stay within the cost limit at the input size hint).
func TestHMACChargedItsWork(t *testing.T) {
	env := testEnv(t)
	vars := textVars("😀😁")
	wantCostLimit(t, env, `m.l.map(x, [hmacSha256(m.s, "a"), hmacSha256(m.s, "b"), hmacSha256(m.s, "c"),
		hmacSha1(m.s, "a"), hmacSha1(m.s, "b"), hmacSha1(m.s, "c")])`, vars)
	for _, fn := range []string{"hmacSha1", "hmacSha256"} {
		wantCharged(t, env, vars, fn+`(s, "k")`, `s`, 0.5)
		wantCharged(t, env, vars, fn+`(m.s, "k")`, `m.s`, 0.5)
		wantCharged(t, env, vars, fn+`("m", s)`, `s`, 0.5)
	}
}

// emailVars are textVars of an address whose domain, of emoji, is all but its first two
// code points: the most maskEmail copies, four bytes a code point.
func emailVars() Vars {
	vars := textVars("😀😁")
	s := "a@" + strings.Repeat("😀", textLen-2)
	vars["s"] = s
	vars["m"].(map[string]any)["s"] = s
	return vars
}

// maskEmail looks for the last @ byte by byte from the end of the address and copies its
// domain, some 7 ns a code point of emoji (four bytes), and was charged a scan's 0.1 unit
// (BenchmarkChargedCost: 70 to 270 ns a unit, where a string's size or a comparison takes 7
// to 20). It is charged a unit a code point.
func TestMaskEmailChargedItsWork(t *testing.T) {
	env := testEnv(t)
	vars := emailVars()
	wantCostLimit(t, env, `m.l.map(x, [maskEmail(m.s), maskEmail(m.s + "a"), maskEmail(m.s + "b")])`, vars)
	wantCharged(t, env, vars, `maskEmail(s)`, `s`, 1)
	wantCharged(t, env, vars, `maskEmail(m.s)`, `m.s`, 1)
}

// pathSegment looks for a slash or a backslash byte by byte and percent-decodes its text,
// twice when it holds an escape, which walks it byte by byte two or three times and copies
// it: some 4 ns a character of an encoded ASCII text and 15 to 25 a code point of emoji
// (four bytes), and it was charged a scan's 0.1 unit (BenchmarkChargedCost: 40 to 240 ns a
// unit, where a string's size or a comparison takes 7 to 20). It is charged 2 units a code
// point.
func TestPathSegmentChargedItsWork(t *testing.T) {
	env := testEnv(t)
	vars := textVars("😀😁")
	s := "%41" + strings.Repeat("😀", textLen-3)
	vars["s"] = s
	vars["m"].(map[string]any)["s"] = s
	wantCostLimit(t, env, `m.l.map(x, [pathSegment(m.s), pathSegment(m.s + "a")])`, vars)
	wantCharged(t, env, vars, `pathSegment(s)`, `s`, 2)
	wantCharged(t, env, vars, `pathSegment(m.s)`, `m.s`, 2)
}

// jsonToFormURLEncoded writes each byte of a value that is not unreserved as three, some 7 to
// 9 ns a code point of emoji (four bytes) for each twelve characters it writes, and was
// charged a scan's 0.1 unit a character of its values and of its result, 1.3 units a code
// point of emoji (BenchmarkChargedCost: 22 to 27 ns a unit, three times what a string's size
// takes beside it; 13 to 25 for ASCII, which it writes as it is). It is charged 0.3 units a
// character of its result, 3.6 a code point of emoji.
func TestFormChargedItsWork(t *testing.T) {
	env := testEnv(t)
	vars := textVars("😀😁")
	wantCostLimit(t, env, `m.l.map(x, jsonToFormURLEncoded({"k": m.s}, true))`, vars)
	wantCharged(t, env, vars, `jsonToFormURLEncoded({"k": s}, true)`, `{"k": s}`, 3.6)
	wantCharged(t, env, vars, `jsonToFormURLEncoded({"k": m.s}, false)`, `{"k": m.s}`, 3.6)
}
