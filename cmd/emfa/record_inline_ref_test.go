package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A webhook file holding "${" in any form is not inlined into a recording's configuration:
// there the configuration's expansion refuses a "${" that is no reference (${ x}, ${0}), so
// the transcript would not replay. Before, only ${ and a letter kept the path.
func TestRecordingKeepsAWebhookFileWithAnyRef(t *testing.T) {
	dir := t.TempDir()
	text := "providers:\n  - name: acme\n    remote:\n      webhookFile: w.json\n"
	for _, held := range []string{"${ x}", "${0}", "${", "${NAME}"} {
		if err := os.WriteFile(filepath.Join(dir, "w.json"), []byte(`{"name":"acme","description":"`+held+`"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := inlineWebhooks(text, dir, slog.New(slog.DiscardHandler)); !strings.Contains(got, "webhookFile: w.json") {
			t.Errorf("a webhook file holding %q was inlined:\n%s", held, got)
		}
	}
}
