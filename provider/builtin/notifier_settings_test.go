package builtin_test

import (
	"strings"
	"testing"
)

// TestPushNotifierTimeoutAndURLChecked: push.notifier.timeout took any value (a
// negative one silently became 5s, an hour held every initiate for an hour behind a
// dead gateway) and push.notifier.url only had to start with http(s)://, so a URL
// without a host passed emfa check and then failed every notification. The senders'
// timeout is bounded (100ms-2m) and their URLs must name a host; the notifier's now too.
func TestPushNotifierTimeoutAndURLChecked(t *testing.T) {
	conf := func(url, timeout string) string {
		return `providers:
  - name: B
    credentialPrefix: emfa
    capabilities: [push]
    builtin:
      push:
        notifier:
          url: "` + url + `"
          timeout: ` + timeout + `
`
	}
	for _, c := range []struct{ name, url, timeout, want string }{
		{"negative timeout", "https://push.example.com/notify", "-1s", "push.notifier.timeout"},
		{"an hour", "https://push.example.com/notify", "1h", "push.notifier.timeout"},
		{"a microsecond", "https://push.example.com/notify", "1us", "push.notifier.timeout"},
		{"no host", "https://", "5s", "push.notifier.url"},
		{"no host, a path", "http:///notify", "5s", "push.notifier.url"},
		{"not a URL", "https://push.example.com/%zz", "5s", "push.notifier.url"},
	} {
		_, err := check(t, conf(c.url, c.timeout))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %s refused", c.name, err, c.want)
		}
	}
	for _, timeout := range []string{"100ms", "5s", "2m"} {
		if _, err := check(t, conf("https://push.example.com/notify?key=k", timeout)); err != nil {
			t.Errorf("timeout %s: %v", timeout, err)
		}
	}
	if _, err := check(t, conf("http://127.0.0.1:8080/notify", "0s")); err != nil {
		t.Errorf("no timeout (the default): %v", err)
	}
}
