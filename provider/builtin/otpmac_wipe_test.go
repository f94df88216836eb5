package builtin

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha512"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"reflect"
	"sync"
	"testing"
	"unsafe"
)

// hashMemory is the memory of h's digest struct (the standard library's hashes are
// pointers to one): its state words, its partial-block buffer, its counters.
func hashMemory(h hash.Hash) []byte {
	v := reflect.ValueOf(h)
	return unsafe.Slice((*byte)(v.UnsafePointer()), v.Elem().Type().Size())
}

// TestReleasedMACKeepsNoSeed: an otpMAC that went back to its pool holds no byte
// of the last seed nor of a value computed from it. Reset sets a hash's state words and
// counters, not its partial-block buffer: a seed longer than the block, hashed first by
// the outer hash, left its tail past the last whole block there, and the inner sum of the
// last counter (written to the outer hash) stayed there too, in a MAC the next factor's
// check takes from the pool.
func TestReleasedMACKeepsNoSeed(t *testing.T) {
	for _, alg := range []Algorithm{SHA1, SHA256, SHA512} {
		bs := alg.hash()().BlockSize()
		for _, n := range []int{16, bs - 1, bs, bs + 1, bs + 40, 2*bs + bs/2} {
			t.Run(fmt.Sprintf("%s/%d", alg, n), func(t *testing.T) {
				seed := make([]byte, n)
				rand.Read(seed)
				m := keyedMAC(alg, seed)
				if m == nil {
					t.Fatal("no pooled MAC")
				}
				const counter = 12345
				if _, ok := m.value(counter); !ok {
					t.Fatal("the state did not restore")
				}
				// A MAC keyed and released without a counter (a window wholly below 0):
				// nothing of the seed either.
				unused := keyedMAC(alg, seed)
				unused.release()
				// The inner sum the outer hash was given: H((K ^ ipad) || counter).
				key := seed
				if len(key) > bs {
					k := alg.hash()()
					k.Write(key)
					key = k.Sum(nil)
				}
				pad := make([]byte, bs)
				copy(pad, key)
				for i := range pad {
					pad[i] ^= 0x36
				}
				in := alg.hash()()
				in.Write(pad)
				in.Write([]byte{0, 0, 0, 0, 0, 0, 0x30, 0x39})
				innerSum := in.Sum(nil)
				m.release() // back to the pool; this test goes on reading what it left
				for name, h := range map[string]hash.Hash{"inner": m.inner, "outer": m.outer, "unused inner": unused.inner, "unused outer": unused.outer} {
					mem := hashMemory(h)
					for i := 0; i+8 <= len(seed); i++ {
						if bytes.Contains(mem, seed[i:i+8]) {
							t.Errorf("the released MAC's %s hash still holds seed bytes %d..%d", name, i, i+8)
							break
						}
					}
					if bytes.Contains(mem, innerSum[:8]) {
						t.Errorf("the released MAC's %s hash still holds the last counter's inner sum", name)
					}
				}
				for name, b := range map[string][]byte{"ibuf": m.ibuf[:], "obuf": m.obuf[:], "scratch": m.scratch[:], "pad": m.pad[:]} {
					if !bytes.Equal(b, make([]byte, len(b))) {
						t.Errorf("the released MAC's %s is not wiped", name)
					}
				}
			})
		}
	}
}

// failingRestore is an otpMAC's restore that fails its first fails calls, then restores as
// the hash it stands for does.
type failingRestore struct {
	encoding.BinaryUnmarshaler
	mu    sync.Mutex
	fails int
	calls int
}

func (f *failingRestore) UnmarshalBinary(b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fails > 0 {
		f.fails--
		return errors.New("injected: the state does not restore")
	}
	return f.BinaryUnmarshaler.UnmarshalBinary(b)
}

// putAlone empties m's pool (what it held is dropped) and puts m in it, so that the next
// Get on this P hands m out (a Get takes the P's private slot before the others).
func putAlone(m *otpMAC) {
	for range 10000 {
		if m.pool.Get() == nil {
			break
		}
	}
	m.pool.Put(m)
}

// TestStateThatDoesNotRestoreFailsClosed: a pooled MAC whose saved state does not
// restore matches no code — not the right one, and not the code of the value 0 either
// ("000000", what a value ignored on failure would give) — and does not panic; HOTP then
// computes its code with crypto/hmac. The MAC that failed once goes on serving: the pool
// is not left with a broken one.
func TestStateThatDoesNotRestoreFailsClosed(t *testing.T) {
	seed := []byte("12345678901234567890")
	for _, code := range []string{HOTP(SHA1, seed, 7, 6), "000000"} {
		// sync.Pool may drop what is put (always under the race detector, a quarter of
		// the time): the MAC is put until a match takes it.
		for try := 0; ; try++ {
			if try == 1000 {
				t.Fatal("the pool never handed out the MAC put in it")
			}
			m := &otpMAC{inner: SHA1.hash()(), outer: SHA1.hash()(), pool: &otpMACs[SHA1.poolIndex()]}
			f := &failingRestore{BinaryUnmarshaler: m.inner.(encoding.BinaryUnmarshaler), fails: 1}
			m.iu, m.ou = f, m.outer.(encoding.BinaryUnmarshaler)
			putAlone(m)
			got := matchCounter(SHA1, seed, 6, code, 0, 10)
			f.mu.Lock()
			calls := f.calls
			f.mu.Unlock()
			if calls == 0 {
				continue // another MAC served
			}
			if got != -1 {
				t.Errorf("code %s matched counter %d with a state that did not restore; want no match", code, got)
			}
			break
		}
	}
	for try := 0; ; try++ {
		if try == 1000 {
			t.Fatal("the pool never handed out the MAC put in it")
		}
		m := &otpMAC{inner: SHA256.hash()(), outer: SHA256.hash()(), pool: &otpMACs[SHA256.poolIndex()]}
		f := &failingRestore{BinaryUnmarshaler: m.outer.(encoding.BinaryUnmarshaler), fails: 1}
		m.iu, m.ou = m.inner.(encoding.BinaryUnmarshaler), f
		putAlone(m)
		got := HOTP(SHA256, seed, 9, 8)
		f.mu.Lock()
		calls := f.calls
		f.mu.Unlock()
		want := string(appendCode(nil, hotp(hmac.New(SHA256.hash(), seed), 9, new([sha512.Size]byte)), 8))
		if got != want {
			t.Errorf("HOTP with a state that did not restore: %s, want crypto/hmac's %s", got, want)
		}
		if calls > 0 {
			break
		}
	}
}

// TestMACsConcurrent: many goroutines, each with its own seed and algorithm,
// taking and releasing pooled MACs at once, each get the codes of their own seed (run
// with -race: a MAC used by two at once, or handed out before it was released, shows).
func TestMACsConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	algs := []Algorithm{SHA1, SHA256, SHA512}
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			alg := algs[g%3]
			seed := make([]byte, 10+g*9) // 10 .. 145 bytes: shorter and longer than a block
			rand.Read(seed)
			ref := hmac.New(alg.hash(), seed)
			scratch := new([sha512.Size]byte)
			for c := uint64(0); c < 200; c++ {
				want := string(appendCode(nil, hotp(ref, c, scratch), 8))
				if got := HOTP(alg, seed, c, 8); got != want {
					t.Errorf("%s %d-byte seed counter %d: %s, want %s", alg, len(seed), c, got, want)
					return
				}
				if got := matchCounter(alg, seed, 8, want, int64(c)-1, int64(c)+1); got != int64(c) {
					t.Errorf("%s %d-byte seed: %s matched %d, want %d", alg, len(seed), want, got, c)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestHOTPEdges: counters 0 and 2^64-1, 6 and 8 digits, seeds of 0, one block,
// a block and one byte: crypto/hmac's codes.
func TestHOTPEdges(t *testing.T) {
	for _, alg := range []Algorithm{SHA1, SHA256, SHA512} {
		bs := alg.hash()().BlockSize()
		for _, n := range []int{0, bs, bs + 1} {
			seed := bytes.Repeat([]byte{0xa5}, n)
			for _, c := range []uint64{0, 1<<64 - 1} {
				for _, d := range []int{6, 8} {
					want := string(appendCode(nil, hotp(hmac.New(alg.hash(), seed), c, new([sha512.Size]byte)), d))
					if got := HOTP(alg, seed, c, d); got != want {
						t.Errorf("%s %d-byte seed counter %d, %d digits: %s, want %s", alg, n, c, d, got, want)
					}
				}
			}
		}
	}
}
