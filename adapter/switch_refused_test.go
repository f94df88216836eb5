package adapter

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/emfa/emfa/store"
)

// TestSwitchRefusedWhenTheOldSessionLivesOn: a browser signed in as alice
// that switches to mallory's link (the question answered "Continue") ends alice's
// session first. When the store did not end it, the switch went ahead all the same (the
// failure only logged): the browser went on as mallory while alice's session lived on,
// server-side, for whoever holds a copy of its cookie, and the person believed it ended.
// Now the switch is refused with a page that says so, alice stays signed in, nothing of
// mallory's link is opened (no session, no record), and the question's cookie waits for
// another try, which, the store answering again, switches.
func TestSwitchRefusedWhenTheOldSessionLivesOn(t *testing.T) {
	st, h := refusingPage(t)
	alice := signInPage(t, h)
	signedIn := alice.cookie
	mallory := linkOf(t, h, "mallory")
	opened := func() bool {
		t.Helper()
		evs, err := h.store.ListAudit(context.Background(), store.AuditFilter{Username: "mallory"})
		if err != nil {
			t.Fatal(err)
		}
		return slices.ContainsFunc(evs, func(e store.AuditEvent) bool { return strings.HasSuffix(e.Resource, "selfservice.open") })
	}

	for _, via := range []string{"/self-service/switch", mallory} { // the question's form, and a post to the link
		alice.do(t, "GET", mallory, nil)
		alice.do(t, "GET", "/self-service/switch", nil)
		alice.send = http.Header{"Sec-Fetch-Site": {"same-origin"}}
		st.refuse.Store(true)
		code := alice.do(t, "POST", via, url.Values{})
		st.refuse.Store(false)
		alice.send = nil
		if code != http.StatusServiceUnavailable || alice.cookie != signedIn || !strings.Contains(alice.body, "still signed in as alice") {
			t.Errorf("switch by %s, alice's session not ended: %d, cookie kept %v, want 503 saying alice is still signed in:\n%s",
				via, code, alice.cookie == signedIn, alice.body)
		}
		if via == "/self-service/switch" && alice.switchCk == "" {
			t.Errorf("the question's cookie went with a switch refused: no other try")
		}
		if opened() {
			t.Fatalf("switch by %s refused, and mallory's link was opened all the same", via)
		}
		if alice.do(t, "GET", "/self-service/", nil); !strings.Contains(alice.body, "Signed in as alice.") {
			t.Fatalf("after the refused switch: %s", alice.body)
		}
	}

	// The store answering again, the same question switches.
	alice.do(t, "GET", mallory, nil)
	alice.do(t, "GET", "/self-service/switch", nil)
	alice.send = http.Header{"Sec-Fetch-Site": {"same-origin"}}
	if code := alice.do(t, "POST", "/self-service/switch", url.Values{}); code != http.StatusSeeOther || alice.cookie == signedIn || !opened() {
		t.Fatalf("the switch again: %d\n%s", code, alice.body)
	}
	old := &pageBrowser{h: h, cookie: signedIn}
	if old.do(t, "GET", "/self-service/", nil); strings.Contains(old.body, "Signed in as alice") {
		t.Errorf("the session the switch replaced goes on")
	}
}
