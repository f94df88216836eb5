// Command regionsgen writes ../regions.go: for every region whose national numbers emfa
// reads, its country calling code, trunk prefix, international prefix (other than 00) and
// the lengths of its fixed-line and mobile national numbers, from the metadata of Google's
// libphonenumber as github.com/nyaruka/phonenumbers carries it. A module of its own, so
// that emfa does not link that metadata (its package init costs ~17 ms and ~2 MiB of
// heap in every process); run it with go generate in internal/phone after bumping the
// version in go.mod.
package main

import (
	"cmp"
	"fmt"
	"go/format"
	"os"
	"regexp"
	"regexp/syntax"
	"slices"
	"sort"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

const version = "v1.8.1" // as go.mod requires

var digits = regexp.MustCompile(`^[0-9]+$`)

// ruled are the regions whose national forms carry carrier codes or mobile tokens that
// change the number beyond a trunk prefix to drop (Argentina's 15 becomes +54 9, Brazil's
// and Colombia's carrier codes...): read by the trunk prefix and the lengths alone they
// could name another subscriber's number, so they are read by libphonenumber's own rules
// (the national prefix for parsing, its transform, the international prefix with its
// carrier codes) and must match the region's pattern of fixed-line or mobile numbers.
var ruled = map[string]bool{"AR": true, "BO": true, "BR": true, "BY": true, "CO": true, "KR": true, "LU": true}

var dollar = regexp.MustCompile(`\$([0-9])`)

// goTemplate is a transform rule ("9$1") as regexp.Expand reads it ("9${1}"): "$1" followed
// by a digit or letter would name another group there.
func goTemplate(t string) string { return dollar.ReplaceAllString(t, "$${$1}") }

func lens(d *phonenumbers.PhoneNumberDesc) []int32 {
	if d == nil {
		return nil
	}
	var out []int32
	for _, l := range d.GetPossibleLength() {
		if l > 0 {
			out = append(out, l)
		}
	}
	return out
}

// pattern is a national significant number of a fixed line or a mobile, as the lengths
// emfa checks are theirs: libphonenumber's test of a valid number, for those two types.
func pattern(m *phonenumbers.PhoneMetadata) string {
	var alts []string
	for _, d := range []*phonenumbers.PhoneNumberDesc{m.GetFixedLine(), m.GetMobile()} {
		if p := d.GetNationalNumberPattern(); p != "" && !slices.Contains(alts, "(?:"+p+")") {
			alts = append(alts, "(?:"+p+")")
		}
	}
	if len(alts) == 0 {
		return m.GetGeneralDesc().GetNationalNumberPattern()
	}
	return strings.Join(alts, "|")
}

// firstDigits is the digits a national significant number of the region may start with
// (a bit each, 1<<0 for 0): those its pattern of every kind of number (the general
// description) can start with. A trunk prefix is not a number's first digit there unless
// this says so: GB's numbers never start with 0, Russia's free numbers start with 8, its
// trunk prefix.
func firstDigits(pattern string) uint16 {
	if pattern == "" {
		return 1<<10 - 1
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		panic(err)
	}
	set, _ := first(re.Simplify())
	return set
}

// first is the digits re's matches may start with, and whether it matches "".
func first(re *syntax.Regexp) (set uint16, empty bool) {
	runes := func(pairs []rune) (s uint16) {
		for i := 0; i+1 < len(pairs); i += 2 {
			for r := max(pairs[i], '0'); r <= min(pairs[i+1], '9'); r++ {
				s |= 1 << (r - '0')
			}
		}
		return s
	}
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) == 0 {
			return 0, true
		}
		return runes([]rune{re.Rune[0], re.Rune[0]}), false
	case syntax.OpCharClass:
		return runes(re.Rune), false
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1<<10 - 1, false
	case syntax.OpCapture:
		return first(re.Sub[0])
	case syntax.OpStar, syntax.OpQuest:
		s, _ := first(re.Sub[0])
		return s, true
	case syntax.OpPlus:
		return first(re.Sub[0])
	case syntax.OpRepeat:
		s, e := first(re.Sub[0])
		return s, e || re.Min == 0
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			s, e := first(sub)
			set |= s
			if !e {
				return set, false
			}
		}
		return set, true
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			s, e := first(sub)
			set |= s
			empty = empty || e
		}
		return set, empty
	case syntax.OpNoMatch:
		return 0, false
	}
	return 0, true // the empty match and the assertions
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "-examples" {
		examples()
		return
	}
	if len(os.Args) == 2 && os.Args[1] == "-names" {
		names()
		return
	}
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		panic(err)
	}
	var lines, rules []string
	codes := map[int32]bool{}
	for _, m := range coll.GetMetadata() {
		id := m.GetId()
		codes[m.GetCountryCode()] = true
		if len(id) != 2 || id == "ZZ" {
			continue
		}
		if ruled[id] {
			rules = append(rules, fmt.Sprintf("\t%q: {prefix: %q, transform: %q, idd: %q, valid: %q},", id,
				m.GetNationalPrefixForParsing(), goTemplate(m.GetNationalPrefixTransformRule()),
				m.GetInternationalPrefix(), pattern(m)))
		}
		np := m.GetNationalPrefix()
		if np != "" && !digits.MatchString(np) {
			panic(id)
		}
		idd := m.GetPreferredInternationalPrefix()
		if !digits.MatchString(idd) {
			idd = ""
		}
		if idd == "" && digits.MatchString(m.GetInternationalPrefix()) {
			idd = m.GetInternationalPrefix()
		}
		if idd == "00" {
			idd = ""
		}
		var ls []int32
		fl, mo := lens(m.GetFixedLine()), lens(m.GetMobile())
		if len(fl) == 0 && len(mo) == 0 {
			ls = lens(m.GetGeneralDesc())
		} else {
			if len(fl) == 0 {
				fl = lens(m.GetGeneralDesc())
			}
			if len(mo) == 0 {
				mo = lens(m.GetGeneralDesc())
			}
			ls = append(fl, mo...)
		}
		slices.Sort(ls)
		ls = slices.Compact(ls)
		var mask []string
		for _, l := range ls {
			mask = append(mask, fmt.Sprintf("1<<%d", l))
		}
		lines = append(lines, fmt.Sprintf("\t%q: {%d, %q, %q, %s, %#b},", id, m.GetCountryCode(), np, idd, strings.Join(mask, " | "),
			firstDigits(m.GetGeneralDesc().GetNationalNumberPattern())))
	}
	sort.Strings(lines)
	sort.Strings(rules)
	var cc []string
	for c := range codes {
		cc = append(cc, fmt.Sprint(c))
	}
	sort.Slice(cc, func(i, j int) bool { return len(cc[i]) < len(cc[j]) || len(cc[i]) == len(cc[j]) && cc[i] < cc[j] })
	src := fmt.Sprintf(`// Code generated by regionsgen from github.com/nyaruka/phonenumbers %s (libphonenumber's
// metadata); DO NOT EDIT.

package phone

import "sync"

// regions: calling code, trunk prefix, international prefix other than 00, the lengths of
// a national significant number (a bit each), and the digits it may start with (a bit
// each, 1<<0 for 0). Built on first use: a process that reads
// no national number spends nothing on it at start-up.
var regions = sync.OnceValue(func() map[string]region {
	return map[string]region{
%s
	}
})

// rules: the regions whose national numbers hold carrier codes or mobile tokens, with
// libphonenumber's national prefix for parsing, its transform, the international prefix
// (with its carrier codes) and the pattern of a fixed-line or mobile national number.
var rules = sync.OnceValue(func() map[string]*rule {
	return map[string]*rule{
%s
	}
})

// callingCodes are the country calling codes assigned, the non-geographic ones (800, 882...)
// included.
var callingCodes = []int{%s}
`, version, strings.Join(lines, "\n"), strings.Join(rules, "\n"), strings.Join(cc, ", "))
	out, err := format.Source([]byte(src))
	if err != nil {
		panic(err)
	}
	os.Stdout.Write(out)
}

// examples writes ../examples_test.go: libphonenumber's example fixed-line and mobile
// number of every region, in the national form its own formatter gives and in the
// international one, with the E.164 form Parse must read each as. A national form is
// kept only where libphonenumber reads it back as the same number itself, and a number
// only where it has the 7 to 15 digits emfa's E.164 form takes.
func examples() {
	type example struct{ region, national, international, e164 string }
	var out []example
	skipped := map[string][]string{}
	for region := range phonenumbers.GetSupportedRegions() {
		for _, t := range []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE} {
			num := phonenumbers.GetExampleNumberForType(region, t)
			if num == nil {
				continue
			}
			e164 := phonenumbers.Format(num, phonenumbers.E164)
			if n := len(e164) - 1; n < 7 || n > 15 {
				skipped["fewer than 7 digits"] = append(skipped["fewer than 7 digits"], region+" "+e164)
				continue
			}
			national := phonenumbers.Format(num, phonenumbers.NATIONAL)
			if back, err := phonenumbers.Parse(national, region); err != nil || phonenumbers.Format(back, phonenumbers.E164) != e164 {
				skipped["a national form libphonenumber does not read back"] = append(skipped["a national form libphonenumber does not read back"], fmt.Sprintf("%s %q", region, national))
				national = ""
			}
			out = append(out, example{region, national, phonenumbers.Format(num, phonenumbers.INTERNATIONAL), e164})
		}
	}
	slices.SortFunc(out, func(a, b example) int {
		return cmp.Or(cmp.Compare(a.region, b.region), cmp.Compare(a.e164, b.e164))
	})
	var lines []string
	for _, e := range out {
		lines = append(lines, fmt.Sprintf("\t{%q, %q, %q, %q},", e.region, e.national, e.international, e.e164))
	}
	var notes []string
	for why, which := range skipped {
		slices.Sort(which)
		notes = append(notes, fmt.Sprintf("// Left out, %s: %s.", why, strings.Join(which, ", ")))
	}
	slices.Sort(notes)
	src := fmt.Sprintf(`// Code generated by regionsgen -examples from github.com/nyaruka/phonenumbers %s
// (libphonenumber's metadata); DO NOT EDIT.

package phone

// examples are libphonenumber's example fixed-line and mobile numbers of every region:
// the region, the national form libphonenumber formats it in ("" where libphonenumber does
// not read that form back itself), the international form, and E.164.
%s
var examples = []struct{ region, national, international, e164 string }{
%s
}
`, version, strings.Join(notes, "\n"), strings.Join(lines, "\n"))
	formatted, err := format.Source([]byte(src))
	if err != nil {
		panic(err)
	}
	os.Stdout.Write(formatted)
}
