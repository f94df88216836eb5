package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeviceAnswerSentAgain: `emfa device approve` sent again (a phone whose 200
// was lost sends its answer again, with a new nonce) is told the status its answer set,
// 200, where it was a 409; another decision is still a 409, and the sign-in is decided once.
func TestDeviceAnswerSentAgain(t *testing.T) {
	app, enrolled, base := alicesPushServe(t)
	state := filepath.Join(t.TempDir(), "phone.json")
	app.must(t, "device", "register", "--server", base, "--code", enrolled.ActivationCode, "--state", state)
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	code, data := sim.call("POST", "initiate", fmt.Sprintf(`{"capability":"emfa:push","id":%q,"attributes":{"username":"alice"}}`, enrolled.ID))
	var out struct {
		TransactionID string
		Attributes    struct{ Number int }
	}
	if sim.status(code, data) != "PENDING" || json.Unmarshal(data, &out) != nil {
		t.Fatalf("initiate: %s", data)
	}
	number := fmt.Sprint(out.Attributes.Number)
	for i := range 2 {
		exit, stdout, errOut := app.run(t, "device", "approve", out.TransactionID, "--number", number, "--state", state)
		if exit != 0 || !strings.Contains(stdout, "SUCCESS") {
			t.Fatalf("approve (%d): exit %d %s %s", i, exit, stdout, errOut)
		}
	}
	exit, stdout, errOut := app.run(t, "device", "deny", out.TransactionID, "--state", state)
	if exit == 0 || !strings.Contains(errOut, "409") {
		t.Errorf("deny after approve: exit %d %s %s, want the 409", exit, stdout, errOut)
	}
	if s, _ := sim.challenge("result", "push", enrolled.ID, "alice", out.TransactionID, ""); s != "SUCCESS" {
		t.Errorf("result: %s", s)
	}
}
