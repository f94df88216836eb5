package adapter

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// TestJWKSKeysUnderOneKid: an authorization server that rotates its key and keeps the
// kid, or publishes the new key beside the old under one kid, is followed. Before, emfa
// tried only the first cached key of the kid: the new key's tokens were refused until the
// cached set aged out (an hour), and with two keys under the kid, the second's always.
// A token none of the kid's keys signed fetches the set again at most once per
// MinRefetch, like an unknown kid.
func TestJWKSKeysUnderOneKid(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	oldKey, newer, other, forged := newKey(), newKey(), newKey(), newKey()
	var mu sync.Mutex
	published := []*ecdsa.PrivateKey{oldKey}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		var set jose.JSONWebKeySet
		for _, k := range published {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"})
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	defer srv.Close()
	publish := func(keys ...*ecdsa.PrivateKey) {
		mu.Lock()
		published = keys
		mu.Unlock()
	}
	j := &JWKS{URL: srv.URL, Issuer: "https://as.example", Audience: "emfa", Algorithms: []string{"ES256"},
		Client: srv.Client(), Now: clock.Now}
	token := func(k *ecdsa.PrivateKey) string {
		return signToken(t, k, jose.ES256, "k1", jwt.Claims{Issuer: "https://as.example", Audience: jwt.Audience{"emfa"},
			Expiry: jwt.NewNumericDate(clock.Now().Add(5 * time.Minute))})
	}
	ctx := context.Background()

	if err := j.verify(ctx, token(oldKey)); err != nil {
		t.Fatalf("the published key's token: %v", err)
	}
	// Rotated in place: the new key under the old kid.
	publish(newer)
	clock.Advance(time.Minute)
	if err := j.verify(ctx, token(newer)); err != nil {
		t.Errorf("the rotated key's token, under the kid the old one had: %v, want admitted", err)
	}
	if n := j.Fetches(); n != 2 {
		t.Errorf("fetches: %d, want 2", n)
	}
	// A token no key of the kid signed fetches again at most once a minute.
	for range 5 {
		if err := j.verify(ctx, token(forged)); err == nil {
			t.Fatal("a token of an unpublished key under k1 admitted")
		}
	}
	if n := j.Fetches(); n != 2 {
		t.Errorf("fetches after five forged tokens within the minute: %d, want 2 (the rotation's fetch was within it)", n)
	}
	clock.Advance(time.Minute)
	for range 5 {
		if err := j.verify(ctx, token(forged)); err == nil {
			t.Fatal("a token of an unpublished key under k1 admitted")
		}
	}
	if n := j.Fetches(); n != 3 {
		t.Errorf("fetches after five forged tokens a minute later: %d, want 3", n)
	}
	// Two keys under the kid: both admitted, with no fetch.
	publish(newer, other)
	clock.Advance(time.Minute)
	if err := j.verify(ctx, token(forged)); err == nil { // brings the set in
		t.Fatal("a token of an unpublished key under k1 admitted")
	}
	for _, k := range []*ecdsa.PrivateKey{newer, other} {
		if err := j.verify(ctx, token(k)); err != nil {
			t.Errorf("a token of one of the kid's two keys: %v", err)
		}
	}
	if n := j.Fetches(); n != 4 {
		t.Errorf("fetches: %d, want 4", n)
	}
}
