package lifecycle

import "testing"

func TestTypedPhone(t *testing.T) {
	for _, tc := range []struct{ typed, want string }{
		{"+15550100199", "+15550100199"},
		{"+1 (555) 010-0199", "+15550100199"},
		{" +1 555.010.0199 ", "+15550100199"},
		{"0044 20 7946 0958", "+442079460958"},
		{"+44 (0)20 7946 0958", "+442079460958"},
		{"00 44 (0) 20 7946 0958", "+442079460958"},
		{"+49 30/1234567", "+49301234567"},
		{"+33\u00a01 23 45 67 89", "+33123456789"}, // a no-break space, as a paste brings
		// Ambiguous or not a number: refused, never guessed.
		{"020 7946 0958", ""},
		{"555-0199", ""},
		{"(555) 010-0199", ""},
		{"+1 555 CALL NOW", ""},
		{"1+5550100199", ""},
		{"+0 555 010 0199", ""},
		{"+1 555", ""},
		{"", ""},
		{"alice@example.com", ""},
	} {
		got, refused := typedPhone(tc.typed, "")
		if got != tc.want || (refused == nil) != (tc.want != "") {
			t.Errorf("typedPhone(%q) = %q, %v; want %q", tc.typed, got, refused, tc.want)
		}
	}
	// With lifecycle.defaultCountry, a national number is that country's.
	for _, tc := range []struct{ typed, country, want string }{
		{"020 7946 0958", "GB", "+442079460958"},
		{"(555) 010-0199", "US", "+15550100199"},
		{"+44 20 7946 0958", "US", "+442079460958"},
		{"555-0199", "US", ""}, // no area code
		{"alice@example.com", "GB", ""},
	} {
		got, refused := typedPhone(tc.typed, tc.country)
		if got != tc.want || (refused == nil) != (tc.want != "") {
			t.Errorf("typedPhone(%q, %s) = %q, %v; want %q", tc.typed, tc.country, got, refused, tc.want)
		}
	}
	// Each refusal says what the page asks for.
	for typed, want := range map[string]*Error{
		"020 7946 0958":  ErrPhoneForm,
		"+1 555 010 019": ErrPhoneDigits,
		"+28 1234 5678":  ErrPhoneCallingCode,
	} {
		if _, refused := typedPhone(typed, ""); refused != want {
			t.Errorf("typedPhone(%q) refused with %v, want %v", typed, refused, want)
		}
	}
	// A national number none of its country's is: its own refusal, which names no +.
	for _, typed := range []string{"030 901821", "020 7946"} {
		if _, refused := typedPhone(typed, "GB"); refused != ErrPhoneNational {
			t.Errorf("typedPhone(%q, GB) refused with %v, want ErrPhoneNational", typed, refused)
		}
	}
}

// TestMaskAlone: a value someone sent is masked where it stands alone in a message, not
// inside the message's own words, and not at all when too short to be a person's.
func TestMaskAlone(t *testing.T) {
	for _, c := range []struct{ msg, v, want string }{
		{"to +15550100199, (+15550100199) and tel:+15550100199.", "+15550100199", "to M, (M) and tel:M."},
		{"+155501001990 and x+15550100199", "+15550100199", "+155501001990 and x+15550100199"},
		{"alice@example.com already has it", "alice@example.com", "M already has it"},
		{"E.164, 7 to 15 digits, +15551230123", "1", "E.164, 7 to 15 digits, +15551230123"},
		{"about 555 010", "555 010", "about M"},
		{"no value here", "+15550100199", "no value here"},
	} {
		if got := maskAlone(c.msg, c.v, "M"); got != c.want {
			t.Errorf("maskAlone(%q, %q) = %q, want %q", c.msg, c.v, got, c.want)
		}
	}
}
