package main

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/provider/remote"
)

// FuzzWebhookFilePlaces places the problems of any bytes read as a webhookFile without
// a panic, at a line and column inside the file.
func FuzzWebhookFilePlaces(f *testing.F) {
	f.Add([]byte(`{"name": "v", "urls": ["x"], "resources": {"enrollments": {"transform": {"outgoing": 5}}}}`))
	f.Add([]byte("\xef\xbb\xbf{\"\\u0072esources\": [1], \"Resources\": {}}"))
	f.Add([]byte("{\r\n\t\"timeout\": 5,\r\n\t\"héllo\": \"wörld\",,}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		w := &webhookFile{path: "w.json", data: data, where: "x", keys: map[string]int{}, folded: map[string]int{}, overridden: map[string]bool{}}
		w.walk()
		for p := range w.keys {
			if p == "" {
				continue // a key named "": no problem has no path
			}
			if at, ok := w.keyAt(p); !ok || !strings.HasPrefix(at, "w.json:") {
				t.Fatalf("key %q at %q, %v", p, at, ok)
			}
			// A key is placed at its opening quote.
			if off := w.keys[p]; !strings.HasSuffix(p, "]") && (off >= len(data) || data[off] != '"') {
				t.Fatalf("key %q placed at offset %d, not at a quote", p, off)
			}
		}
		if _, err := remote.ParseWebhook(data); err != nil {
			_, _ = w.loadProblem(err)
		}
	})
}
