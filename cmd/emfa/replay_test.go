package main

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/emfa/emfa/transcript"
)

// Nothing leaves a replay: a recorded configuration's push notifier (a production push
// gateway, its token set in the CI's environment) was told of every replayed challenge.
// Devices poll without one; replay leaves it out, as it does a vendor's mTLS files.
func TestReplayTellsNoNotifier(t *testing.T) {
	var told atomic.Int32
	gateway, stop, err := transcript.ServeLocal(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		told.Add(1)
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	tr, err := transcript.Parse(fmt.Appendf(nil, `name: a push, with a notifier
config: |
  server:
    auth: {basic: {username: verify, password: replay-password}}
  providers:
    - name: Built-in factors
      credentialPrefix: emfa
      capabilities: [push]
      builtin:
        push:
          Notifier: {url: %q, headers: [{name: Authorization, value: "Bearer ${GATEWAY_TOKEN}"}]}
env: {GATEWAY_TOKEN: <redacted>}
setup:
  - user: alice
  - factor: {type: push, user: alice, as: phone}
steps:
  - call: {resource: initiate, body: {capability: push, id: "${phone}", attributes: {username: alice}}}
    expect: {body: {status: PENDING, transactionId: "<capture:tx1>"}}
  - device: {action: deny, challenge: "${tx1}"}
  - call: {resource: result, body: {capability: push, id: "${phone}", transactionId: "${tx1}", attributes: {username: alice}}}
    expect: {body: {status: FAILED}}
`, gateway+"/notify"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedLog{}
	if err := transcript.Run(context.Background(), tr, inProcess(logs, "")); err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	if n := told.Load(); n != 0 {
		t.Errorf("the replay told the configuration's notifier %d times", n)
	}
}

// A transcript recorded from an emfa that Verify reaches with OAuth or a client
// certificate alone (no Basic, no header secret) replays in process: replay's plain HTTP
// can present neither, so its calls were all refused (FAIL), whatever emfa answered. The
// calls recorded refused (wrong or no credentials) are refused still.
func TestReplayOAuthOrMTLSOnly(t *testing.T) {
	for name, server := range map[string]string{
		"oauth": "  server:\n    auth:\n      oauth: {signingKey: \"<redacted>\"}\n",
		"mtls": "  server:\n    tls: {cert: /etc/emfa/tls.crt, key: /etc/emfa/tls.key, clientCA: /etc/emfa/verify-ca.pem}\n" +
			"    auth:\n      mtls: {subjects: [\"CN=verify\"]}\n",
	} {
		tr, err := transcript.Parse([]byte(`name: recorded behind ` + name + `
config: |
` + server + `  providers:
    - {name: Built-in factors, credentialPrefix: emfa, capabilities: [totp], engine: builtin}
steps:
  - call: {resource: enrollments, body: {username: alice}}
    expect: {body: []}
  - call: {resource: enrollments, auth: wrong, body: {username: alice}}
    expect: {status: 401, body: {messageId: unauthorized, messageDescription: <any>}}
  - call: {resource: enrollments, auth: none, body: {username: alice}}
    expect: {status: 401, body: {messageId: unauthorized, messageDescription: <any>}}
`))
		if err != nil {
			t.Fatal(err)
		}
		logs := &lockedLog{}
		if err := transcript.Run(context.Background(), tr, inProcess(logs, "")); err != nil {
			t.Errorf("%s: %v\n%s", name, err, logs)
		}
	}
}
