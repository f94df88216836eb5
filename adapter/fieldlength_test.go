package adapter

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestFieldLengthCountedAsThePageCounts: the page's fields say maxlength="256",
// which a browser counts in UTF-16 code units, while the form's guard counted bytes: a
// name of 130 "é" (130 units, 260 bytes), or a user name of 100 "漢" (300 bytes), which
// the page lets through, was refused as "A field of the form is repeated or too long."
// The guard counts as the browser does now, so it refuses only what no form of the page
// sends; a new name the page lets through but that is too long to keep (a label is at
// most 256 bytes) is refused saying so, in bytes per kind of letter; one that fits is
// kept; a user name no one can have signs in no one, as any other.
func TestFieldLengthCountedAsThePageCounts(t *testing.T) {
	h, code, p := aliceOnPage(t)
	p.signIn("alice", code())
	id := factorRow.FindStringSubmatch(p.get("/self-service/").body)
	if id == nil {
		t.Fatal("no factor on the factors page")
	}
	rename := "/self-service/factors/" + id[1] + "/rename"

	long := strings.Repeat("é", 130) // 130 characters, as maxlength counts them; 260 bytes
	a := p.post(rename, url.Values{"label": {long}})
	if a.status != http.StatusBadRequest || !strings.Contains(a.body, "Name is too long") || !strings.Contains(a.body, "takes 260") ||
		!strings.Contains(a.body, "Back to my sign-in methods") {
		t.Errorf("a name of 130 é: %d, want 400 saying the name is too long, and by how much:\n%s", a.status, a.body)
	}
	fits := strings.Repeat("é", 128) // 256 bytes
	if a := p.post(rename, url.Values{"label": {fits}}); a.status != http.StatusSeeOther {
		t.Errorf("a name of 128 é (256 bytes): %d, want it kept\n%s", a.status, a.body)
	}
	if home := p.get("/self-service/"); !strings.Contains(home.body, ">"+fits+"<") {
		t.Errorf("the name of 256 bytes is not shown:\n%s", home.body)
	}
	// 257 characters: more than any field of the page takes, whatever their bytes.
	if a := p.post(rename, url.Values{"label": {strings.Repeat("a", 257)}}); a.status != http.StatusBadRequest ||
		!strings.Contains(a.body, "too long") {
		t.Errorf("a name of 257 characters: %d, want 400\n%s", a.status, a.body)
	}

	// 129 emoji: 258 units, two each, past what a browser's maxlength lets through.
	if a := p.post(rename, url.Values{"label": {strings.Repeat("😀", 129)}}); a.status != http.StatusBadRequest ||
		!strings.Contains(a.body, "too long") || strings.Contains(a.body, "Name is too long") {
		t.Errorf("a name of 129 emoji: %d, want 400 from the form's guard\n%s", a.status, a.body)
	}

	anon := &pageClient{t: t, h: h, addr: "198.51.100.8"}
	anon.get("/self-service/")
	a = anon.post("/self-service/signin", url.Values{"username": {strings.Repeat("漢", 100)}, "method": {"app"}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/self-service/signin/code" {
		t.Errorf("a user name of 100 漢 (300 bytes): %d %q, want the code's step as for any name\n%s",
			a.status, a.header.Get("Location"), a.body)
	}
}
