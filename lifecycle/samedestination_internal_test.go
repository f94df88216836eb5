package lifecycle

import "testing"

// TestSameDestinationAsEnrollmentCompares: the page's address typed again (the form
// posted a second time) is the factor it started when it reaches the same mailbox as the
// enrollment's own duplicate check sees it: a domain in its A-label or its Unicode form,
// any letter case; a phone number by its digits.
func TestSameDestinationAsEnrollmentCompares(t *testing.T) {
	for _, tc := range []struct {
		stored, typed string
		same          bool
	}{
		{"alice@bücher.example", "Alice@xn--bcher-kva.example", true},
		{"alice@xn--bcher-kva.example", " alice@BÜCHER.example ", true},
		{"alice@example.com", "ALICE@example.com", true},
		{"alice@example.com", "alice@example.org", false},
		{"alice@example.com", "al-ice@example.com", false},
		{"+15551230123", "+1 (555) 123-0123", true},
		{"+15551230123", "+15551230124", false},
		{"", "", false},
	} {
		if got := sameDestination(tc.stored, tc.typed); got != tc.same {
			t.Errorf("sameDestination(%q, %q) = %v, want %v", tc.stored, tc.typed, got, tc.same)
		}
	}
}
