package remote

import (
	"context"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/duofake"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/verifyfiles"
	"github.com/emfa/emfa/provider"
)

// IBM's DUO webhook, unchanged, signs each request in its transforms; DUO (the fake, as
// duo-auth-api.md has it) re-encodes the parameters it received per RFC 3986 and checks
// the signature over that. A username holding what form and query encodings write
// differently ('+', '~', a space, 'é', '&', '=', '/', '*') must be signed as DUO encodes
// it, for preauth (a form), auth (a form) and auth_status (a query) alike.
func TestDUOSignsReservedCharacters(t *testing.T) {
	t.Parallel()
	const ikey, skey = "DIWJ8X6AEYOR5OMC6TQ1", "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"
	duo := duofake.New(t, duofake.Options{IntegrationKey: ikey, SecretKey: skey})
	e := ibmDUOEngine(t, duo.URL(), ikey, skey)
	ctx := context.Background()
	for _, name := range []string{"o'neil+test@example.com", "a~b", "first last", "josé", "a&b=c", "x/y*z", "100%", "ü!$(),;:"} {
		t.Run(name, func(t *testing.T) {
			duo.AddUser(name, duofake.Device{ID: "DPFZRS9FB0D46QFTM891", Type: "phone", Name: "iPhone",
				Number: "XXX-XXX-0123", Capabilities: []string{"push"}})
			list, err := e.Enrollments(ctx, name)
			if err != nil || len(list) != 1 {
				t.Fatalf("enrollments: %v, %v; want the one device", list, err)
			}
			out, err := e.Initiate(ctx, provider.Request{Capability: "push", ID: "DPFZRS9FB0D46QFTM891", Username: name,
				Attributes: map[string]any{"username": name}})
			if err != nil || out.Status != provider.StatusPending {
				t.Fatalf("initiate: %+v, %v", out, err)
			}
			res, err := e.Result(ctx, provider.Request{Capability: "push", ID: "DPFZRS9FB0D46QFTM891", Username: name,
				TransactionID: out.TransactionID, Attributes: map[string]any{"username": name}})
			if err != nil || res.Reason == reasonVendor || res.Reason == reasonTransform {
				t.Fatalf("result: %+v, %v", res, err)
			}
		})
	}
}

// ibmDUOEngine is an engine of IBM's DUO webhook (ibm-duo-webhook.json) calling DUO at
// url with the keys, on a SQLite store; closed at the test's end.
func ibmDUOEngine(tb testing.TB, url, ikey, skey string) *Engine {
	tb.Helper()
	w, _, err := LoadWebhook(map[string]any{
		"webhookFile": verifyfiles.Path(tb, "ibm-duo-webhook.json"),
		"values":      map[string]any{"duo_url": url, "duo_integration_key": ikey, "duo_signing_key": skey},
	}, "")
	if err != nil {
		tb.Fatal(err)
	}
	e, err := New(Options{Webhook: w, Provider: "duo", Store: testdb.SQLite(tb), ChallengeLifetime: time.Minute})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	return e
}
