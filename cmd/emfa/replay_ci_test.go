package main

import (
	"context"
	"testing"

	"github.com/emfa/emfa/transcript"
)

// orderedFactors has four factors of alice's, of two flows in turn, and an enrollments
// call that lists them in the order the setup creates them: emfa lists a user's factors
// oldest first, as a recording writes them.
const orderedFactors = `name: four factors listed in the order they were created
config: |
  server:
    auth: {basic: {username: verify, password: replay-password}}
  delivery:
    sms: {type: log}
  providers:
    - name: Built-in factors
      credentialPrefix: emfa
      capabilities: [totp, smsotp]
      builtin:
        smsotp: {sender: sms}
setup:
  - user: alice
  - factor: {type: totp, user: alice, name: one, as: f1}
  - factor: {type: smsotp, user: alice, phone: "+15551230121", name: two, as: f2}
  - factor: {type: totp, user: alice, name: three, as: f3}
  - factor: {type: smsotp, user: alice, phone: "+15551230123", name: four, as: f4}
steps:
  - name: enrollments
    call: {resource: enrollments, body: {username: alice}}
    expect:
      body:
        - {capability: totp, id: "${f1}", attributes: {authExecutionFlow: validate, deviceName: one}}
        - {capability: smsotp, id: "${f2}", attributes: {authExecutionFlow: init_then_validate, deviceName: two, deliveryAddress: <any>}}
        - {capability: totp, id: "${f3}", attributes: {authExecutionFlow: validate, deviceName: three}}
        - {capability: smsotp, id: "${f4}", attributes: {authExecutionFlow: init_then_validate, deviceName: four, deliveryAddress: <any>}}
`

// Replay creates a transcript's factors in its order, each at its own instant, so an
// enrollments call lists them as recorded on every run — not in the order of the random
// ids they get when they share one instant.
func TestReplayFactorsInTranscriptOrder(t *testing.T) {
	tr, err := transcript.Parse([]byte(orderedFactors))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		logs := &lockedLog{}
		if err := transcript.Run(context.Background(), tr, inProcess(logs, "")); err != nil {
			t.Fatalf("run %d: %v\n--- emfa log:\n%s", i+1, err, logs)
		}
	}
}
