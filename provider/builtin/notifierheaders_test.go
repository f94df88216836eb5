package builtin_test

import (
	"strings"
	"testing"
)

// TestPushNotifierHeadersChecked: push.notifier.headers were not checked, so a
// header name with a space or a value read with its trailing newline passed emfa check
// and then every notification failed (Go's client refuses such a request), leaving
// devices to poll; the delivery senders' headers are refused at load, these now too.
func TestPushNotifierHeadersChecked(t *testing.T) {
	_, err := check(t, `providers:
  - name: B
    credentialPrefix: emfa
    capabilities: [push]
    builtin:
      push:
        notifier:
          url: https://push.example.com/notify
          headers: [{name: "X Key", value: v}, {name: Authorization, value: "Bearer s3cr3t\n"}, {name: X-Ok, value: fine}]
`)
	for _, want := range []string{"push.notifier.headers[0].name", "push.notifier.headers[1].value"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %s refused", err, want)
		}
	}
	if err != nil && (strings.Contains(err.Error(), "headers[2]") || strings.Contains(err.Error(), "s3cr3t")) {
		t.Errorf("refused a good header or repeated a value: %v", err)
	}
}
