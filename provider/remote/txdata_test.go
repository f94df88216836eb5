package remote

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestEncodeTxData: a transaction's data is json.Marshal's text of its txData, byte
// for byte, whatever the vendor's id holds, in one allocation for a plain id (DUO's txid).
func TestEncodeTxData(t *testing.T) {
	for _, id := range []string{
		"45f7c92b-f45f-4862-8545-e0f58e78075a", "", "a b~", `q"uote`, `back\slash`, "<&>", "tab\t", "\x7f",
		"é", "\u2028", "\xff", "a/b:c+d=e",
	} {
		want, err := json.Marshal(txData{Vendor: id})
		if err != nil {
			t.Fatal(err)
		}
		if got := encodeTxData(id); !bytes.Equal(got, want) {
			t.Errorf("encodeTxData(%q) = %s, want %s", id, got, want)
		}
	}
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	id := string([]byte("45f7c92b-f45f-4862-8545-e0f58e78075a")) // not a constant: as a vendor's answer
	before := testing.AllocsPerRun(100, func() { json.Marshal(txData{Vendor: id}) })
	n := testing.AllocsPerRun(100, func() { encodeTxData(id) })
	t.Logf("a DUO transaction's data: %v allocations, %v through json.Marshal", n, before)
	if n > 1 {
		t.Errorf("encodeTxData allocates %v times, want 1 (json.Marshal: %v)", n, before)
	}
}
