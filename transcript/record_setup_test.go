package transcript

import (
	"testing"
	"time"
)

// TestRecordedSetupInCreationOrder: a session validates with the user's newer factor, then
// lists them all (enrollments). Replay creates the set-up factors in the order written and
// enrollments lists them oldest first, so the recording writes them in the order they were
// created, not in the order the calls first named them: otherwise the recorded
// enrollments answer fails every replay.
func TestRecordedSetupInCreationOrder(t *testing.T) {
	r := &Recorder{o: RecorderOptions{Config: "providers: []\n"}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	older := &FactorSpec{Type: "smsotp", User: "alice", ID: "fa", Phone: "+15550100001", Created: t0.Add(-2 * time.Hour)}
	newer := &FactorSpec{Type: "totp", User: "alice", ID: "fb", Created: t0.Add(-time.Hour)}
	calls := []Observed{
		{Time: t0, Provider: "emfa", Resource: "validate", Method: "POST", Status: 200,
			Request:  []byte(`{"capability":"totp","id":"fb","attributes":{"username":"alice","passvalue":"1"}}`),
			Response: []byte(`{"status":"FAILED"}`),
			Setup:    []Setup{{User: "alice"}, {Factor: newer}}},
		{Time: t0.Add(time.Second), Provider: "emfa", Resource: "enrollments", Method: "POST", Status: 200,
			Request:  []byte(`{"username":"alice"}`),
			Response: []byte(`[]`),
			Setup:    []Setup{{User: "alice"}, {Factor: older}, {Factor: newer}}},
	}
	tr := r.transcript(calls)
	var got []string
	for _, s := range tr.Setup {
		switch {
		case s.User != "":
			got = append(got, "user "+s.User)
		case s.Factor != nil:
			got = append(got, s.Factor.Type+" as "+s.Factor.As)
		}
	}
	want := []string{"user alice", "smsotp as f2", "totp as f1"}
	if len(got) != len(want) {
		t.Fatalf("setup %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("setup %q, want %q", got, want)
		}
	}
}
