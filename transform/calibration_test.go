package transform

import (
	"strings"
	"testing"
)

// calibrationInputs are 64 KiB strings: ASCII text, the same length of non-ASCII text (Greek,
// two bytes a letter, which case changes map through Unicode's tables; emoji, four, the most
// bytes a code point has, which a call working on bytes takes longest over for a code point's
// charge), a phone number's digits and separators, text with a separator every eight bytes,
// e-mail addresses whose domain is the rest of the text, and percent-encoded text.
func calibrationInputs() map[string]string {
	const n = 64 << 10
	return map[string]string{
		"ascii":   strings.Repeat("abcdefgh", n/8),
		"greek":   strings.Repeat("αβγδ", n/8),
		"digits":  strings.Repeat("+1 555-1", n/8),
		"escapes": strings.Repeat("a\"b\\\n\t", n/6),
		"fields":  strings.Repeat("abcdefg,", n/8),
		"same":    strings.Repeat("a", n),
		"emoji":   strings.Repeat("😀😁", n/8),
		"address": "a@" + strings.Repeat("abcdefgh", n/8),
		"emojiAt": "a@" + strings.Repeat("😀😁", n/8),
		"encoded": strings.Repeat("%41%42ab", n/8),
		"emoji%":  "%41" + strings.Repeat("😀😁", n/8),
	}
}

// calibrationCalls are library calls on a 64 KiB string s, each named by its input: the
// ordinary calls the cost limit's unit is measured by (a string's size, contains, a
// comparison, a concatenation), and the calls whose charge must match the work they do.
// CEL charges a string by its code points and most calls work on its bytes, four a code point
// of emoji: a string's size or a concatenation of emoji, charged by cel-go, takes 50 to 70 ns
// a unit, where the same calls on ASCII take 7 to 9.
var calibrationCalls = []struct{ name, input, expr string }{
	{"size", "ascii", `size(s)`},
	{"contains", "ascii", `s.contains("hz")`},
	{"equals", "ascii", `s == s + ""`},
	{"concat", "ascii", `s + s`},
	{"contains/same", "same", `s.contains("ab")`},
	{"contains/greek", "greek", `s.contains("αz")`},
	{"indexOf", "ascii", `s.indexOf("hz")`},
	{"contains/emoji", "emoji", `s.contains("😀z")`},
	{"indexOf/greek", "greek", `s.indexOf("αz")`},
	{"lastIndexOf", "ascii", `s.lastIndexOf("zh")`},
	{"lastIndexOf/greek", "greek", `s.lastIndexOf("zα")`},
	{"base64.decode", "ascii", `base64.decode(s)`},
	{"base64Encode", "ascii", `s.base64Encode()`},
	{"hmacSha256", "ascii", `hmacSha256(s, "k")`},
	{"hmacSha256/emoji", "emoji", `hmacSha256(s, "k")`},
	{"hmacSha1", "ascii", `hmacSha1(s, "k")`},
	{"hmacSha1/emoji", "emoji", `hmacSha1(s, "k")`},
	{"base64Encode/emoji", "emoji", `s.base64Encode()`},
	{"base64.encode", "ascii", `base64.encode(bytes(s))`},
	{"jsonToFormURLEncoded", "ascii", `jsonToFormURLEncoded({"k": s}, true)`},
	{"jsonToFormURLEncoded/emoji", "emoji", `jsonToFormURLEncoded({"k": s}, true)`},
	{"joinStrings", "ascii", `joinStrings([s, s], "-")`},
	{"joinStrings/emoji", "emoji", `joinStrings([s, s], "-")`},
	{"size/emoji", "emoji", `size(s)`},
	{"concat/emoji", "emoji", `s + s`},
	{"pathSegment", "encoded", `pathSegment(s)`},
	{"pathSegment/emoji", "emoji%", `pathSegment(s)`},
	{"maskEmail/domain", "address", `maskEmail(s)`},
	{"maskEmail/emoji", "emojiAt", `maskEmail(s)`},
	{"split(,)", "fields", `s.split(",")`},
	{"replace", "fields", `s.replace(",", ";")`},
	{"lowerAscii/ascii", "ascii", `s.lowerAscii()`},
	{"toUpper/ascii", "ascii", `s.toUpper()`},
	{"quote/ascii", "ascii", `strings.quote(s)`},
	{"quote/escapes", "escapes", `strings.quote(s)`},
	{"quote/greek", "greek", `strings.quote(s)`},
	{"split()", "ascii", `s.split("")`},
	{"split()/greek", "greek", `s.split("")`},
	{"lowerAscii/greek", "greek", `s.lowerAscii()`},
	{"upperAscii/greek", "greek", `s.upperAscii()`},
	{"toUpper/greek", "greek", `s.toUpper()`},
	{"toLower/greek", "greek", `s.toLower()`},
	{"matches/literal", "ascii", `s.matches("hz")`},
	{"matches/class", "ascii", `s.matches("[0-9]+x")`},
	{"matches/alternation", "ascii", `s.matches("(a|b|c|d|e|f|g|h)+z")`},
	{"matches/computed", "ascii", `s.matches("[0-9]+" + "x")`},
	{"matches/greek", "greek", `s.matches("[a-z]+x")`},
	{"maskPhone", "digits", `maskPhone(s)`},
	{"maskEmail", "ascii", `maskEmail(s)`},
	{"reverse/greek", "greek", `s.reverse()`},
	{"charAt", "ascii", `s.charAt(65535)`},
	{"substring", "ascii", `s.substring(1)`},
}

// BenchmarkChargedCost measures, for each of calibrationCalls, the time the tracked program
// takes per unit of cost it is charged (ns/unit): the calibration of the cost limit, whose
// units are meant to take alike times whatever the call. A call well above the ordinary
// calls' figure is under-charged. It prints; it asserts nothing about time.
//
//	go test ./transform -run '^$' -bench ChargedCost
func BenchmarkChargedCost(b *testing.B) {
	env := testEnv(b)
	inputs := calibrationInputs()
	for _, c := range calibrationCalls {
		b.Run(c.name, func(b *testing.B) {
			p, err := Compile(env, `{"v": `+c.expr+`}`)
			if err != nil {
				b.Fatal(err)
			}
			vars := Vars{"s": inputs[c.input]}
			charged := trackedCost(b, p, vars)
			st, _, err := p.activation(vars)
			if err != nil {
				b.Fatal(err)
			}
			defer st.release()
			for b.Loop() {
				if _, _, err := p.prg.Eval(st.act); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(charged), "units")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(charged), "ns/unit")
		})
	}
}
