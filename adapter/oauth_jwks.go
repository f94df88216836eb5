package adapter

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// JWKS verifies the access tokens of an external authorization server against the keys
// it publishes. Keys are cached; a token signed by a key not in the cache (the server
// rotated) refetches the set at once, but at most once per MinRefetch, so a stream of
// forged kids cannot turn emfa into a load on the authorization server.
type JWKS struct {
	URL, Issuer, Audience string
	// Algorithms allowed in a token's header (never none or a symmetric one).
	Algorithms []string
	// Client fetches the set (default: a client with a 10 s timeout).
	Client *http.Client
	// Now is the clock of expiry and of the cache (default time.Now).
	Now func() time.Time
	// MinRefetch bounds refetches (default 1 minute); MaxAge is how long a fetched set
	// is used before it is fetched again (default 1 hour).
	MinRefetch, MaxAge time.Duration
	// Log is told once when the set can no longer be fetched, and once when it can again
	// (default: the server's log).
	Log *slog.Logger

	mu      sync.Mutex
	keys    jose.JSONWebKeySet
	fetched time.Time // of the set in keys
	tried   time.Time // the last fetch, successful or not
	fetches int
	// fetching, while a fetch runs (refresh), is closed when it ends; lastErr is the
	// last fetch's error.
	fetching chan struct{}
	lastErr  error
	// failing is true from a failed fetch, logged, to the next one that succeeds.
	failing bool
}

// Fetches counts the fetches of the key set, for tests and the log.
func (j *JWKS) Fetches() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.fetches
}

func (j *JWKS) now() time.Time {
	if j.Now == nil {
		return time.Now()
	}
	return j.Now()
}

func (j *JWKS) verify(ctx context.Context, token string) error {
	algs := make([]jose.SignatureAlgorithm, len(j.Algorithms))
	for i, a := range j.Algorithms {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	tok, err := jwt.ParseSigned(token, algs)
	if err != nil {
		return fmt.Errorf("not an acceptable JWT: %w", err)
	}
	kid, alg := tok.Headers[0].KeyID, tok.Headers[0].Algorithm
	keys, err := j.keysFor(ctx, kid, alg, false)
	if err != nil {
		return err
	}
	var claims jwt.Claims
	err = verifiedClaims(tok, keys, nil, &claims)
	if err != nil && kid != "" {
		// A kid emfa knows, but none of its keys signed the token: the server may have
		// rotated its key and kept the kid (or published the new key beside the old under
		// it). The set is fetched again, at most once per MinRefetch like an unknown kid's,
		// and the token tried with the keys it brings. Before, such a server's tokens were
		// refused until the cached set aged out (MaxAge, an hour).
		if fresh, ferr := j.keysFor(ctx, kid, alg, true); ferr == nil && verifiedClaims(tok, fresh, keys, &claims) == nil {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("bad signature: %w", err)
	}
	return checkClaims(claims, j.Issuer, j.Audience, j.now())
}

// maxKeysAKid bounds the keys a token is tried with: those of its type under its kid.
const maxKeysAKid = 4

// verifiedClaims reads tok's claims into claims with the first of keys (at most
// maxKeysAKid of them, none of tried) whose signature it bears.
func verifiedClaims(tok *jwt.JSONWebToken, keys, tried []*jose.JSONWebKey, claims *jwt.Claims) error {
	err := errors.New("no key to try")
	n := 0
	for _, k := range keys {
		if slices.ContainsFunc(tried, func(t *jose.JSONWebKey) bool { return sameKey(t, k) }) {
			continue
		}
		if n++; n > maxKeysAKid {
			break
		}
		if err = tok.Claims(k, claims); err == nil {
			return nil
		}
	}
	return err
}

// sameKey reports whether a and b hold one public key.
func sameKey(a, b *jose.JSONWebKey) bool {
	pa, ok := a.Key.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pa.Equal(b.Key)
}

// errKeysUnavailable refuses a token whose key is not cached while the key set cannot be
// fetched: no guess, and no invalid_token either (authenticate answers 503).
var errKeysUnavailable = errors.New("the authorization server's key set cannot be fetched")

// keyFits reports whether k is of the type a token of alg ("" any) is signed with, and,
// when k names its algorithm (its "alg", RFC 7517 §4.4), of that one: RFC 8725 §3.1, one
// key for one algorithm.
func keyFits(k *jose.JSONWebKey, alg string) bool {
	if alg == "" {
		return true
	}
	if k.Algorithm != "" && k.Algorithm != alg {
		return false
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return pub.Curve == elliptic.P256()
		case "ES384":
			return pub.Curve == elliptic.P384()
		case "ES512":
			return pub.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// jwksFetchTimeout bounds a fetch of the key set, whatever the client.
const jwksFetchTimeout = 10 * time.Second

// key finds the key kid names, fetching the set when it is stale or lacks the kid.
//
// The fetch runs apart (refresh): outside the lock, since anyone can send a token with an
// unknown kid and so start one (at most once per MinRefetch), and while it waits on a slow
// authorization server a token whose key is cached must not wait with it; and not on the
// context of the call that started it, which would otherwise end it by hanging up, and
// so, once a minute, keep emfa from ever learning a rotated key. Only a call whose kid is
// not cached waits for the fetch, no longer than its own context; one whose key is in a
// stale set is admitted with it while the set is fetched again (a hung authorization
// server would otherwise hold every call up to the fetch's timeout).
func (j *JWKS) key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	keys, err := j.keysFor(ctx, kid, "", false)
	if err != nil {
		return nil, err
	}
	return keys[0], nil
}

// keysFor is key for a token of alg ("" any): the keys kid names among those of the type
// alg needs (RFC 7517 §4.5 lets keys of different types share a kid; a server may keep
// two of one type under it), never none; for a token without a kid, the only key of that
// type. With again, the cached keys of kid did not verify the token: the set is fetched
// again when a fetch may start (MinRefetch) and the keys of the fetched set returned;
// otherwise, an error.
func (j *JWKS) keysFor(ctx context.Context, kid, alg string, again bool) ([]*jose.JSONWebKey, error) {
	minRefetch, maxAge := j.MinRefetch, j.MaxAge
	if minRefetch <= 0 {
		minRefetch = time.Minute
	}
	if maxAge <= 0 {
		maxAge = time.Hour
	}
	find := func() []*jose.JSONWebKey {
		var found []*jose.JSONWebKey
		for i := range j.keys.Keys {
			if k := &j.keys.Keys[i]; (kid == "" || k.KeyID == kid) && keyFits(k, alg) {
				found = append(found, k)
			}
		}
		if kid == "" && len(found) != 1 {
			return nil // which one is meant cannot be told
		}
		return found
	}
	j.mu.Lock()
	for waited := false; ; waited = true {
		now := j.now()
		stale := j.fetched.IsZero() || now.Sub(j.fetched) >= maxAge
		k := find()
		if again && !waited {
			k = nil // the cached keys are the ones that did not do
		}
		if k != nil && !stale {
			j.mu.Unlock()
			return k, nil
		}
		if j.fetching == nil && !waited && (j.tried.IsZero() || now.Sub(j.tried) >= minRefetch) {
			j.tried = now
			j.fetches++
			j.fetching = make(chan struct{})
			go j.refresh(j.fetching, now)
		}
		if k != nil {
			// A known key is used while a stale set is fetched again, and outlives an
			// outage of the authorization server.
			j.mu.Unlock()
			return k, nil
		}
		if j.fetching == nil || waited {
			lastErr := j.lastErr
			j.mu.Unlock()
			if lastErr != nil {
				// The last fetch failed: the key may be in the set emfa cannot see.
				return nil, fmt.Errorf("no key %q cached: %w: %w", kid, errKeysUnavailable, lastErr)
			}
			return nil, fmt.Errorf("no key %q in the authorization server's JWKS", kid)
		}
		done := j.fetching
		j.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return nil, fmt.Errorf("jwks: waiting for the key set: %w", ctx.Err())
		}
		j.mu.Lock()
	}
}

// refresh fetches the set started at now, and closes done when it is in place (or the
// fetch failed).
func (j *JWKS) refresh(done chan struct{}, now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), jwksFetchTimeout)
	defer cancel()
	keys, err := j.fetch(ctx)
	j.mu.Lock()
	defer j.mu.Unlock()
	if err == nil {
		j.keys, j.fetched = keys, now
	}
	// Logged once, not at every fetch: a known key still admits its tokens meanwhile,
	// and only the log tells the operator before the server rotates its key.
	switch {
	case err != nil && !j.failing && j.Log != nil:
		kept := "none (no fetch has succeeded yet)"
		if !j.fetched.IsZero() {
			kept = "those fetched at " + j.fetched.UTC().Format(time.RFC3339)
		}
		j.Log.Warn("jwks: the authorization server's keys cannot be fetched; known keys are kept until they can",
			"url", j.URL, "keys", kept, "err", err)
	case err == nil && j.failing && j.Log != nil:
		j.Log.Info("jwks: the authorization server's keys are fetched again", "url", j.URL, "keys", len(keys.Keys))
	}
	j.failing = err != nil
	j.lastErr, j.fetching = err, nil
	close(done)
}

// fetch gets the key set's public signing keys; it takes no lock.
func (j *JWKS) fetch(ctx context.Context) (jose.JSONWebKeySet, error) {
	client := &http.Client{Timeout: jwksFetchTimeout}
	if j.Client != nil {
		c := *j.Client
		client = &c
	}
	// A redirect is followed only to https, or http to a loopback host, as the URL
	// itself must be (config): a redirect to plain HTTP elsewhere would let anyone on
	// that hop serve keys of their own, and their tokens would admit calls.
	next := client.CheckRedirect
	client.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if r.URL.Scheme != "https" && !(r.URL.Scheme == "http" && loopbackHost(r.URL.Hostname())) {
			return fmt.Errorf("refused a redirect to %s://%s: the keys are fetched over https only", r.URL.Scheme, r.URL.Host)
		}
		if next != nil {
			return next(r, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.URL, nil)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return jose.JSONWebKeySet{}, fmt.Errorf("jwks: status %d", resp.StatusCode)
	}
	// Each key is decoded on its own: a set may hold keys go-jose cannot read (an X25519
	// encryption key, a secp256k1 one, an x5c it cannot parse), and one of them must not
	// keep the signing keys beside it from being used.
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return jose.JSONWebKeySet{}, fmt.Errorf("jwks: %w", err)
	}
	var keep []jose.JSONWebKey
	var skipped error
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			skipped = cmp.Or(skipped, err)
			continue
		}
		if k.IsPublic() && k.Use != "enc" {
			keep = append(keep, k)
		}
	}
	if len(keep) == 0 {
		if skipped != nil {
			return jose.JSONWebKeySet{}, fmt.Errorf("jwks: no public signing key it can read (%w)", skipped)
		}
		return jose.JSONWebKeySet{}, errors.New("jwks: no public signing keys")
	}
	return jose.JSONWebKeySet{Keys: keep}, nil
}

// loopbackHost reports whether a URL's host is this host only: localhost or a loopback
// address, as config.LoopbackHost checks the URL itself (the adapter takes no config).
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
