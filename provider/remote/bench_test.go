package remote

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/duofake"
	"github.com/emfa/emfa/internal/verifyfiles"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/transform"
)

// BenchmarkMediatedDUO is one mediated call through IBM's DUO webhook, unchanged, against
// the DUO fake on loopback (which checks every signature): the engine's whole path without
// Verify's HTTP side. enrollments writes nothing; initiate records the transaction in
// SQLite.
func BenchmarkMediatedDUO(b *testing.B) {
	const ikey, skey = "DIWJ8X6AEYOR5OMC6TQ1", "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"
	duo := duofake.New(b, duofake.Options{IntegrationKey: ikey, SecretKey: skey})
	duo.AddUser("alice",
		duofake.Device{ID: "DPFZRS9FB0D46QFTM891", Type: "phone", Name: "iPhone", Number: "XXX-XXX-0123",
			Capabilities: []string{"auto", "push", "sms", "phone"}},
		duofake.Device{ID: "DHEKH0JJIYC1LX3AZWO4", Type: "token", Name: "YubiKey", Capabilities: []string{"mobile_otp"}})
	e := ibmDUOEngine(b, duo.URL(), ikey, skey)
	ctx := context.Background()
	b.Run("enrollments", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if list, err := e.Enrollments(ctx, "alice"); err != nil || len(list) != 4 {
				b.Fatalf("enrollments: %v %v", list, err)
			}
		}
	})
	b.Run("initiate", func(b *testing.B) {
		b.ReportAllocs()
		req := provider.Request{Capability: "push", ID: "DPFZRS9FB0D46QFTM891", Username: "alice",
			Attributes: map[string]any{"username": "alice"}}
		for b.Loop() {
			if out, err := e.Initiate(ctx, req); err != nil || out.Status != provider.StatusPending {
				b.Fatalf("initiate: %+v %v", out, err)
			}
		}
	})
}

// BenchmarkCompileDUO is compiling IBM's DUO webhook (every transform, both programs), which
// serve does before it listens: the first compile, as a process starting makes it, without
// the programs transform.Compile keeps from the iteration before.
func BenchmarkCompileDUO(b *testing.B) {
	w, _, err := LoadWebhook(map[string]any{
		"webhookFile": verifyfiles.Path(b, "ibm-duo-webhook.json"),
		"values":      map[string]any{"duo_url": "https://api-x.duosecurity.com", "duo_integration_key": "I", "duo_signing_key": "S"},
	}, "")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		transform.ForgetCompiled()
		if _, err := Compile(w); err != nil {
			b.Fatal(err)
		}
	}
}
