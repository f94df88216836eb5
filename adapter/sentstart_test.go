package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/lifecycle"
)

// TestSentCodeSignInStartsTakeFromTheAddress: a sign-in started with a code sent (a text,
// an e-mail, a call) reaches someone's phone or mailbox whatever comes of it, as a push
// does: it takes from the client address's page budget, so that one client cannot text
// every user whose name it knows (and use up their send limits, which Verify's codes
// share). It took nothing: an address started as many as it liked, each one sent.
func TestSentCodeSignInStartsTakeFromTheAddress(t *testing.T) {
	h, sent, clk := newCodePageHarnessAt(t, &fakeClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}, "")
	h.srv.signIns.now = clk.Now
	const users = 3 * throttleBurst
	textedUsers(t, h, users)
	before := len(sent.all())
	p := &pageClient{t: t, h: h, addr: "198.51.100.7"}
	refused := 0
	for i := range users {
		p.get("/self-service/")
		a := p.post("/self-service/signin", url.Values{"username": {fmt.Sprint("user", i)}, "method": {"smsotp"}})
		if a.status == http.StatusTooManyRequests {
			refused++
		}
	}
	if err := h.srv.DrainPage(context.Background()); err != nil { // the texts go out after the answers
		t.Fatal(err)
	}
	if texted := len(sent.all()) - before; texted > throttleBurst || refused == 0 {
		t.Errorf("%d sign-ins by text started from one address: %d texts sent, %d refused; want at most %d sent, the rest 429",
			users, texted, refused, throttleBurst)
	}
	// Another address is not affected.
	other := &pageClient{t: t, h: h, addr: "203.0.113.9"}
	other.get("/self-service/")
	if a := other.post("/self-service/signin", url.Values{"username": {"user0"}, "method": {"smsotp"}}); a.status != http.StatusSeeOther {
		t.Errorf("another address: %d, want 303", a.status)
	}
}

// TestSignInStartsSentAtOnceHeldToTheBudget: sign-ins started at once from one address
// pass no more than its budget has left, though none has failed yet: each holds one of
// the address's attempts while it runs. Before, each read the budget before any had
// taken from it, and a script starting them in parallel texted as many users as it
// named.
func TestSignInStartsSentAtOnceHeldToTheBudget(t *testing.T) {
	h, sent, clk := newCodePageHarnessAt(t, &fakeClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}, "")
	h.srv.signIns.now = clk.Now
	const users = 3 * throttleBurst
	textedUsers(t, h, users)
	clients := make([]*pageClient, users)
	for i := range clients {
		clients[i] = &pageClient{t: t, h: h, addr: "198.51.100.7"}
		clients[i].get("/self-service/")
	}
	sent.gate = make(chan struct{})
	statuses := make(chan int, users)
	for i, p := range clients {
		go func() {
			statuses <- p.post("/self-service/signin", url.Values{"username": {fmt.Sprint("user", i)}, "method": {"smsotp"}}).status
		}()
	}
	// Every one answers while the gateway holds every text (the texts go out after the
	// answers: pageSends); those past the budget are refused.
	refused := 0
	for range users {
		switch s := testwait.Recv(t, "a sign-in's answer", statuses); s {
		case http.StatusTooManyRequests:
			refused++
		case http.StatusSeeOther:
		default:
			t.Errorf("a sign-in answered %d", s)
		}
	}
	close(sent.gate)
	if err := h.srv.DrainPage(context.Background()); err != nil {
		t.Fatal(err)
	}
	if texted := len(sent.all()); texted > throttleBurst || users-refused > throttleBurst {
		t.Errorf("%d sign-ins started at once from one address: %d texts sent, %d refused; want at most %d sent",
			users, texted, refused, throttleBurst)
	}
}

// textedUsers makes n users, user0 … user<n-1>, each with an active SMS factor.
func textedUsers(t *testing.T, h *adminHarness, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		name := fmt.Sprint("user", i)
		if _, err := h.manager.CreateUser(ctx, "test", lifecycle.UserInput{Name: name}); err != nil {
			t.Fatal(err)
		}
		phone, _ := json.Marshal(fmt.Sprintf("+1555010%04d", i))
		if _, err := h.manager.EnrollFactor(ctx, "test", name, lifecycle.Enrollment{Type: "smsotp",
			Activation: lifecycle.ActivationImmediate, Params: map[string]json.RawMessage{"phone": phone}}); err != nil {
			t.Fatal(err)
		}
	}
}
