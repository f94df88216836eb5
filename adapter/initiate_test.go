package adapter

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/emfa/emfa/provider"
)

// TestOutcomeAnswerAllocs: the contract's answer to an outcome, rendered on every
// initiate, validate and result (twice under an X-Webhook-ID: recorded with the decision,
// then answered), is the encoder's output byte for byte, in fewer allocations than a
// json.Encoder over a bytes.Buffer made.
func TestOutcomeAnswerAllocs(t *testing.T) {
	outs := []provider.Outcome{
		{Status: provider.StatusPending, TransactionID: "0123456789abcdef0123456789abcdef"},
		provider.Failed("a <reason> & more"),
		{Status: provider.StatusSuccess, Attributes: map[string]any{"k": []any{"v", 1.5}}},
	}
	for _, out := range outs {
		var b bytes.Buffer
		if err := json.NewEncoder(&b).Encode(out); err != nil {
			t.Fatal(err)
		}
		ans, ok := outcomeAnswer(out)
		if !ok || ans.Status != 200 || !bytes.Equal(ans.Body, b.Bytes()) {
			t.Errorf("outcomeAnswer(%+v) = %d %q %v, want 200 %q", out, ans.Status, ans.Body, ok, b.Bytes())
		}
	}
	if _, ok := outcomeAnswer(provider.Outcome{Status: provider.StatusSuccess, Attributes: map[string]any{"f": func() {}}}); ok {
		t.Error("an outcome JSON cannot hold encoded")
	}
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	encoder := testing.AllocsPerRun(100, func() {
		var b bytes.Buffer
		json.NewEncoder(&b).Encode(outs[0])
	})
	if n := testing.AllocsPerRun(100, func() { outcomeAnswer(outs[0]) }); n >= encoder {
		t.Errorf("outcomeAnswer allocates %v times, json.Encoder %v: want fewer", n, encoder)
	} else {
		t.Logf("outcomeAnswer: %v allocations, json.Encoder %v", n, encoder)
	}
}
