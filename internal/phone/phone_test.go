package phone

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in, region, want string
	}{
		// Numbers that say their country read the same with a region or without.
		{"+1 (555) 010-0199", "", "+15550100199"},
		{"+44 (0)20 7946 0958", "", "+442079460958"},
		{"0044 20 7946 0958", "", "+442079460958"},
		{"+44 20 7946 0958", "US", "+442079460958"},
		{"0044 20 7946 0958", "US", "+442079460958"},
		{"+33 6 12 34 56 78", "DE", "+33612345678"},
		// The trunk prefix written after the country code without its parentheses, where
		// the number would otherwise have no length of the country's.
		{"+44 020 7946 0958", "", "+442079460958"},
		{"+7 8 912 345-67-89", "", "+79123456789"},
		{"+1 1 555 010 0199", "", "+15550100199"},
		{"0039 06 6982 1234", "", "+390669821234"}, // Italy's 0 is the number's own
		// A non-geographic calling code: any length.
		{"+800 1234 5678", "", "+80012345678"},
		// A tel: URI, as SCIM suggests (RFC 7643, RFC 3966).
		{"tel:+1-201-555-0123", "", "+12015550123"},
		{"TEL:+44-20-7946-0958", "US", "+442079460958"},
		// The region's own international prefix, where it is not 00.
		{"011 44 20 7946 0958", "US", "+442079460958"},
		{"0011 44 20 7946 0958", "AU", "+442079460958"},
		// National numbers, the trunk prefix dropped.
		{"(555) 010-0199", "US", "+15550100199"},
		{"1-555-010-0199", "us", "+15550100199"},
		{"555.010.0199", "CA", "+15550100199"},
		{"020 7946 0958", "GB", "+442079460958"},
		{"07700 900123", "GB", "+447700900123"},
		{"06 12 34 56 78", "FR", "+33612345678"},
		{"0151 23456789", "DE", "+4915123456789"},
		{"8 (912) 345-67-89", "RU", "+79123456789"},
		{"06 30 123 4567", "HU", "+36301234567"},
		{"090-1234-5678", "JP", "+819012345678"},
		{"0412 345 678", "AU", "+61412345678"},
		// Without a trunk prefix to drop: Italy keeps its 0, Spain has none.
		{"06 6982 1234", "IT", "+390669821234"},
		{"612 34 56 78", "ES", "+34612345678"},
		// A first digit that only looks like the trunk prefix stays (Russia's 800 numbers).
		{"800 123 45 67", "RU", "+78001234567"},
		// Regions whose national numbers hold carrier codes or mobile tokens, read by
		// libphonenumber's rules. Argentina's mobiles: 0, the area code, 15, the number
		// becomes +54 9, the area code, the number.
		{"011 15-2345-6789", "AR", "+5491123456789"},
		{"0351 15 234 5678", "AR", "+5493512345678"},
		{"011 2345-6789", "AR", "+541123456789"},
		{"+54 9 11 2345-6789", "AR", "+5491123456789"},
		// Brazil: a carrier code after the trunk prefix is dropped, at home and abroad.
		{"(11) 98765-4321", "BR", "+5511987654321"},
		{"011 98765-4321", "BR", "+5511987654321"},
		{"0 21 11 98765-4321", "BR", "+5511987654321"},
		{"0021 44 20 7946 0958", "BR", "+442079460958"},
		{"0044 20 7946 0958", "BR", "+442079460958"},
		// Belarus: trunk prefix 8 (or 80), international prefix 8 10.
		{"8 029 123-45-67", "BY", "+375291234567"},
		{"029 123-45-67", "BY", "+375291234567"},
		{"8 10 44 20 7946 0958", "BY", "+442079460958"},
		// Colombia: mobiles and the ten-digit landlines; a carrier's international prefix.
		{"300 123 4567", "CO", "+573001234567"},
		{"601 234 5678", "CO", "+576012345678"},
		{"005 44 20 7946 0958", "CO", "+442079460958"},
		// South Korea: the carrier's international prefix (001), and 00 alone where what
		// follows a carrier's prefix would be no calling code (008 2...).
		{"010-1234-5678", "KR", "+821012345678"},
		{"02-123-4567", "KR", "+8221234567"},
		{"001 1 212 555 0199", "KR", "+12125550199"},
		{"0082 10 1234 5678", "KR", "+821012345678"},
		// Luxembourg has no trunk prefix; Bolivia's carrier code follows its 0.
		{"621 123 456", "LU", "+352621123456"},
		{"7123 4567", "BO", "+59171234567"},
		{"0 10 7123 4567", "BO", "+59171234567"},
	} {
		got, err := Parse(c.in, c.region)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q, %q) = %q, %v; want %q", c.in, c.region, got, err, c.want)
		}
	}
}

// TestParseExamples reads libphonenumber's example fixed-line and mobile number of every
// region (examples_test.go, written by regionsgen -examples) in the national form its
// formatter gives, as that region's, and in the international form without a region: both
// must be the number's E.164 form. It checks the generated table and the seven regions'
// rules against the metadata they came from.
func TestParseExamples(t *testing.T) {
	if len(examples) < 400 {
		t.Fatalf("%d examples", len(examples))
	}
	for _, e := range examples {
		if e.national != "" {
			if got, err := Parse(e.national, e.region); err != nil || got != e.e164 {
				t.Errorf("Parse(%q, %q) = %q, %v; want %s", e.national, e.region, got, err, e.e164)
			}
		}
		if got, err := Parse(e.international, ""); err != nil || got != e.e164 {
			t.Errorf("Parse(%q) = %q, %v; want %s", e.international, got, err, e.e164)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	var lengthErr *LengthError
	for _, c := range []struct {
		in, region string
		want       func(error) bool
	}{
		{"020 7946 0958", "", is(ErrNoCountry)},
		{"555-0199", "", is(ErrNoCountry)},
		{"", "", is(ErrNotNumber)},
		{"555", "", is(ErrNotNumber)},
		{"", "GB", is(ErrNotNumber)},
		{"+44 20 7946 0958 ext 12", "GB", is(ErrNotNumber)},
		{"+44 20 +7946", "", is(ErrNotNumber)},
		// An extension (RFC 3966's ;ext=) is said as such: SMS and voice calls dial none.
		{"tel:+1-201-555-0123;ext=1234", "", is(ErrExtension)},
		{"+1-201-555-0123;EXT=1234", "", is(ErrExtension)},
		{"tel:020-7946-0958;ext=12", "GB", is(ErrExtension)},
		{"tel:+1-201-555-0123;isub=1;ext=1234", "", is(ErrExtension)},
		// Without it, no number still: what the number lacks is said, not the extension.
		{"tel:+28-1234-5678;ext=1", "", is(ErrCallingCode)},
		{"tel:020-7946-0958;ext=12", "", is(ErrNoCountry)},
		{"tel:+1-201-555-0123;isub=1", "", is(ErrNotNumber)},
		{"tel:+1-201-555-0123;extension=1", "", is(ErrNotNumber)},
		{"tel:", "", is(ErrNotNumber)},
		{"+0 555 010 0199", "", is(ErrNotNumber)},
		{"+123456", "", is(ErrNotNumber)}, // E.164 has 7 digits at fewest
		{"+1234567", "", func(err error) bool {
			var e *CodeLengthError
			return errors.As(err, &e) && e.Code == "1" && e.Digits == 6
		}},
		// A code that is no country's has no lengths in the table, and none of 7 digits.
		{"+800 1234", "", func(err error) bool {
			var e *CodeLengthError
			return errors.As(err, &e) && e.Code == "800"
		}},
		{"+1234567890123456", "", is(ErrNotNumber)},
		// No country's calling code, or a digit too many or too few for the country.
		{"+28 1234 5678", "", is(ErrCallingCode)},
		{"0028 1234 5678", "GB", is(ErrCallingCode)},
		{"+1 555 010 019", "", func(err error) bool {
			var e *CodeLengthError
			return errors.As(err, &e) && e.Code == "1" && e.Digits == 9
		}},
		{"+33 6 12 34 56 7", "DE", func(err error) bool {
			var e *CodeLengthError
			return errors.As(err, &e) && e.Code == "33" && e.Digits == 8
		}},
		// A local number without its area code is no number of the region.
		{"555-0199", "US", func(err error) bool {
			return errors.As(err, &lengthErr) && lengthErr.Region == "US" && lengthErr.Digits == 7
		}},
		{"0 7700 900", "GB", func(err error) bool { return errors.As(err, &lengthErr) }},
		// Japan's international prefix is 010, and its numbers start with the trunk prefix
		// 0: 00... is a carrier code there, not abroad, and reads as no number of Japan.
		{"0037 6803 1234 5678", "JP", func(err error) bool { return errors.As(err, &lengthErr) }},
		// Lithuania's old trunk prefix 8 is not read as today's 0.
		{"8 612 34567", "LT", func(err error) bool { return errors.As(err, &lengthErr) }},
		// A mobile without its area code: the right length, but no number of the region's
		// (read by lengths alone, it would have been +54 15 2345 6789).
		{"15 2345 6789", "AR", func(err error) bool {
			return errors.As(err, &lengthErr) && lengthErr.Region == "AR"
		}},
		{"98765-4321", "BR", func(err error) bool { return errors.As(err, &lengthErr) }},
		// A length of the region's, but with a first digit none of its numbers has: no
		// GB number starts with 0, so the trunk prefix kept is no number of GB's (read by
		// lengths alone, it was +44 030901821); nor does any NANP number start with 0 or 1.
		{"030 901821", "GB", func(err error) bool {
			return errors.As(err, &lengthErr) && lengthErr.Region == "GB"
		}},
		{"+44 030 901821", "", func(err error) bool {
			var e *CodeLengthError
			return errors.As(err, &e) && e.Code == "44"
		}},
		{"+1 055 010 0199", "", func(err error) bool {
			var e *CodeLengthError
			return errors.As(err, &e) && e.Code == "1"
		}},
		{"055 010 0199", "US", func(err error) bool { return errors.As(err, &lengthErr) }},
		{"11 2345 6789", "XX", func(err error) bool { return err != nil && strings.Contains(err.Error(), "ISO 3166-1") }},
	} {
		got, err := Parse(c.in, c.region)
		if got != "" || !c.want(err) {
			t.Errorf("Parse(%q, %q) = %q, %v; want a refusal of its kind", c.in, c.region, got, err)
		}
	}
}

func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func TestCheckRegion(t *testing.T) {
	for _, ok := range []string{"US", "gb", "De", "JP", "IT", "NZ", "AR", "br", "KR"} {
		if err := CheckRegion(ok); err != nil {
			t.Errorf("CheckRegion(%q) = %v", ok, err)
		}
	}
	for code, says := range map[string]string{
		"UK": `"GB"`, "USA": "ISO 3166-1", "": "ISO 3166-1", "ZZ": "ISO 3166-1",
	} {
		if err := CheckRegion(code); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("CheckRegion(%q) = %v, want it to say %s", code, err, says)
		}
	}
}

// TestRegionsTable guards the generated table against a regenerated one gone wrong: every
// region has a calling code, a trunk prefix of digits and some national lengths; every
// rule is a region's, its patterns compile, and its calling code is assigned.
func TestRegionsTable(t *testing.T) {
	if len(regions()) < 200 {
		t.Fatalf("%d regions", len(regions()))
	}
	for code, r := range regions() {
		if len(code) != 2 || r.cc < 1 || r.cc > 999 || r.lens == 0 || strings.Trim(r.trunk+r.idd, "0123456789") != "" || r.idd == "00" {
			t.Errorf("region %s: %+v", code, r)
		}
	}
	for code, x := range rules() {
		r, ok := regions()[code]
		if !ok || !slices.Contains(callingCodes, r.cc) {
			t.Errorf("rule %s: region %+v, %v", code, r, ok)
		}
		x.compile()
	}
	if len(rules()) != 7 {
		t.Errorf("%d rules", len(rules()))
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"+44 (0)20 7946 0958", "020 7946 0958", "011 44 20", "8 800 123 45 67", "00", "+", "(0)", "tel:+44-20-7946-0958;ext=12"} {
		f.Add(s, "GB")
		f.Add(s, "")
	}
	for _, s := range []string{"011 15-2345-6789", "0 21 11 98765-4321", "0021 44 20 7946 0958", "001 1 212 555 0199"} {
		f.Add(s, "AR")
		f.Add(s, "BR")
		f.Add(s, "KR")
	}
	f.Fuzz(func(t *testing.T, s, region string) {
		if CheckRegion(region) != nil {
			region = ""
		}
		got, err := Parse(s, region)
		if (err == nil) != ValidE164(got) {
			t.Fatalf("Parse(%q, %q) = %q, %v", s, region, got, err)
		}
		if err == nil {
			if again, err := Parse(got, region); err != nil || again != got {
				t.Fatalf("Parse(%q) = %q, but again %q, %v", s, got, again, err)
			}
		}
	})
}
