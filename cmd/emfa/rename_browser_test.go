package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestRenameAsTheBrowserCounts: in a real browser, the rename field's
// maxlength="256" counts characters (UTF-16 code units), not bytes: 130 "é" (260 bytes)
// go through, and the page says the name is too long and why, rather than "a field of
// the form is repeated or too long"; 300 "a" are cut to 256 as typed, and kept.
func TestRenameAsTheBrowserCounts(t *testing.T) {
	_, run := aliceSignedIn(t, nil)
	field, button := `tbody input[name="label"]`, `tbody button[aria-label^="Rename"]`

	var text string
	run("130 é", chromedp.SendKeys(field, strings.Repeat("é", 130)), chromedp.Click(button), says("h1", "That did not work"),
		chromedp.Text("main", &text))
	if !strings.Contains(text, "Name is too long") || !strings.Contains(text, "takes 260") {
		t.Errorf("a name of 130 é: %q, want why it is too long", text)
	}
	var label string
	run("300 a", chromedp.Click(`a[href="/self-service/"]`), says("h1", "Your sign-in methods"),
		chromedp.SendKeys(field, strings.Repeat("a", 300)), chromedp.Click(button), says("#notice", "Renamed"),
		chromedp.Text("tbody td:nth-child(2)", &label))
	if label != strings.Repeat("a", 256) {
		t.Errorf("300 a typed: the name kept is %d characters, want the 256 the field took", len(label))
	}
}
