package remote

import (
	"testing"

	"github.com/emfa/emfa/transform"
)

// The enrollments answer of a DUO user with four factors is copied out in one slice
// allocation beside what each enrollment's attributes cost (a map and its strings): grown
// by append, the slice was three.
func TestEnrollmentsSizedOnce(t *testing.T) {
	answer, err := transform.DecodeJSONValue([]byte(`[
		{"id": "D1", "capability": "push", "attributes": {"deviceName": "iPhone", "deliveryAddress": "XXX-XXX-0123", "authExecutionFlow": "init_then_poll"}},
		{"id": "D1", "capability": "smsotp", "attributes": {"deviceName": "iPhone", "deliveryAddress": "XXX-XXX-0123", "authExecutionFlow": "init_then_validate"}},
		{"id": "D1", "capability": "phone", "attributes": {"deviceName": "iPhone", "deliveryAddress": "XXX-XXX-0123", "authExecutionFlow": "init_then_validate"}},
		{"id": "D2", "capability": "hotp", "attributes": {"deviceName": "YubiKey", "deliveryAddress": "", "authExecutionFlow": "validate"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	list, err := enrollments(answer)
	if err != nil || len(list) != 4 || cap(list) != 4 {
		t.Fatalf("enrollments: len %d cap %d, %v", len(list), cap(list), err)
	}
	one, err := transform.DecodeJSONValue([]byte(`[{"id": "D1", "capability": "push", "attributes": {"deviceName": "iPhone", "deliveryAddress": "XXX-XXX-0123", "authExecutionFlow": "init_then_poll"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	if raceEnabled {
		t.Skip("allocation counts do not hold under the race detector")
	}
	single := testing.AllocsPerRun(200, func() { enrollments(one) })
	got := testing.AllocsPerRun(200, func() { enrollments(answer) })
	t.Logf("four enrollments: %v allocations; one: %v", got, single)
	// Four answers of one each make four slices; one answer of four, one slice.
	if got > 4*single-3 {
		t.Errorf("four enrollments allocate %v times, want at most %v (four of one: %v)", got, 4*single-3, 4*single)
	}
}

// Len is a list's or a map's size, and nothing else's.
func TestValueLen(t *testing.T) {
	for _, c := range []struct {
		v    any
		n    int
		isOK bool
	}{
		{[]any{1, 2, 3}, 3, true}, {[]any{}, 0, true}, {map[string]any{"a": 1, "b": 2}, 2, true},
		{"text", 0, false}, {nil, 0, false}, {int64(4), 0, false}, {[]byte("xy"), 0, false},
	} {
		if n, ok := transform.NewValue(c.v).Len(); n != c.n || ok != c.isOK {
			t.Errorf("Len(%#v) = %d, %v; want %d, %v", c.v, n, ok, c.n, c.isOK)
		}
	}
}
