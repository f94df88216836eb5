package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// BenchmarkMediatedPushInitiateID is BenchmarkMediatedPushInitiate with a fresh
// X-Webhook-ID a call, as Verify always sends one: the idempotency claim is in its cost.
func BenchmarkMediatedPushInitiateID(b *testing.B) {
	base := mediatedDUO(b)
	client := &http.Client{Timeout: 10 * time.Second}
	for i := 0; b.Loop(); i++ {
		mediatedInitiate(b, client, base, fmt.Sprint("bench-", i))
	}
}
