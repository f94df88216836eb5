package builtin

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// Algorithm is an HMAC hash for HOTP/TOTP (RFC 6238 §1.2).
type Algorithm string

const (
	SHA1   Algorithm = "SHA1"
	SHA256 Algorithm = "SHA256"
	SHA512 Algorithm = "SHA512"
)

// ParseAlgorithm accepts SHA1, SHA256, SHA512 in any case.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch a := Algorithm(strings.ToUpper(strings.ReplaceAll(s, "-", ""))); a {
	case SHA1, SHA256, SHA512:
		return a, nil
	}
	return "", errors.New("unknown algorithm (want SHA1, SHA256 or SHA512)")
}

func (a Algorithm) hash() func() hash.Hash {
	switch a {
	case SHA256:
		return sha256.New
	case SHA512:
		return sha512.New
	default:
		return sha1.New
	}
}

// SeedSize is the recommended seed length for the algorithm: the hash's output size
// (RFC 4226 §4 asks at least 128 bits and recommends 160).
func (a Algorithm) SeedSize() int { return a.hash()().Size() }

// HOTP computes the RFC 4226 value for counter, as a zero-padded decimal of digits.
// The counter is 64-bit: RFC 6238's T for year 2603 needs more than 32.
func HOTP(a Algorithm, seed []byte, counter uint64, digits int) string {
	var buf [10]byte
	m := keyedMAC(a, seed)
	v, ok := m.value(counter)
	m.release()
	if !ok {
		v = hotp(hmac.New(a.hash(), seed), counter, new([sha512.Size]byte))
	}
	return string(appendCode(buf[:0], v, digits))
}

// hotp is RFC 4226's 31-bit value for counter before it is reduced to digits; mac is
// keyed with the seed, and reset here, so one serves every counter of a window. scratch
// holds the message, then the sum: the caller's, so that a window's steps share one (the
// hash is an interface, and buffers of hotp's own went to the heap, two a step).
func hotp(mac hash.Hash, counter uint64, scratch *[sha512.Size]byte) uint32 {
	mac.Reset()
	binary.BigEndian.PutUint64(scratch[:8], counter)
	mac.Write(scratch[:8])
	sum := mac.Sum(scratch[:0]) // the message is written already
	return truncate(sum)
}

// truncate is RFC 4226 §5.3's dynamic truncation of an HMAC to 31 bits.
func truncate(sum []byte) uint32 {
	off := sum[len(sum)-1] & 0x0f
	return binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
}

// otpMAC is HMAC (RFC 2104) keyed with one seed, for the codes of its counters, as
// crypto/hmac computes it: the hash states after the key's inner and outer pads are kept
// and restored for each counter, two blocks a counter. crypto/hmac.New and its first
// Reset allocated eight times on every validation (the HMAC, its two hashes, its two
// pads, the two saved states, and the scratch), and hashed the inner pad twice (New,
// then the first Reset, which hotp makes before every counter). An otpMAC comes keyed
// from its algorithm's pool (keyedMAC), its hashes, states and scratch reused, and is
// wiped as it goes back (release): a pooled MAC keeps nothing of the last seed.
type otpMAC struct {
	inner, outer   hash.Hash
	iu, ou         encoding.BinaryUnmarshaler // inner and outer, to restore their states
	istate, ostate []byte                     // the states after the pads, in ibuf and obuf
	ibuf, obuf     [otpStateSize]byte
	scratch        [sha512.Size]byte // the message, then the sums
	pad            [sha512.BlockSize]byte
	pool           *sync.Pool
}

// otpStateSize holds a marshaled state of SHA-1, SHA-256 and SHA-512 (204 bytes).
const otpStateSize = 256

// ipad and ipadToOpad are RFC 2104's inner pad, and what turns it into the outer one,
// for the largest block (SHA-512's).
var ipad, ipadToOpad = bytes.Repeat([]byte{0x36}, sha512.BlockSize), bytes.Repeat([]byte{0x36 ^ 0x5c}, sha512.BlockSize)

// otpMACs are the pools of otpMAC, by algorithm.
var otpMACs = [...]sync.Pool{{}, {}, {}}

func (a Algorithm) poolIndex() int {
	switch a {
	case SHA256:
		return 1
	case SHA512:
		return 2
	}
	return 0
}

// keyedMAC is an otpMAC of a keyed with seed, or nil when a's hash cannot save its state
// (the standard library's all can): value then says so, and the caller uses crypto/hmac.
// The caller releases it.
func keyedMAC(a Algorithm, seed []byte) *otpMAC {
	pool := &otpMACs[a.poolIndex()]
	m, _ := pool.Get().(*otpMAC)
	if m == nil {
		m = &otpMAC{inner: a.hash()(), outer: a.hash()(), pool: pool}
		var ok1, ok2 bool
		m.iu, ok1 = m.inner.(encoding.BinaryUnmarshaler)
		m.ou, ok2 = m.outer.(encoding.BinaryUnmarshaler)
		_, ok3 := m.inner.(encoding.BinaryAppender)
		if !ok1 || !ok2 || !ok3 {
			return nil
		}
	}
	bs := m.inner.BlockSize()
	if bs > len(m.pad) {
		m.release()
		return nil
	}
	key := seed
	if len(key) > bs { // RFC 2104 §2: a key longer than the block is hashed first
		m.outer.Reset()
		m.outer.Write(key)
		key = m.outer.Sum(m.scratch[:0])
	}
	pad := m.pad[:bs]
	clear(pad[copy(pad, key):])
	var err1, err2 error
	subtle.XORBytes(pad, pad, ipad[:bs])
	m.inner.Reset()
	m.inner.Write(pad)
	m.istate, err1 = m.inner.(encoding.BinaryAppender).AppendBinary(m.ibuf[:0])
	subtle.XORBytes(pad, pad, ipadToOpad[:bs])
	m.outer.Reset()
	m.outer.Write(pad)
	m.ostate, err2 = m.outer.(encoding.BinaryAppender).AppendBinary(m.obuf[:0])
	clear(pad)
	if err1 != nil || err2 != nil || len(m.istate) > len(m.ibuf) || len(m.ostate) > len(m.obuf) {
		m.release()
		return nil
	}
	return m
}

// value is RFC 4226's 31-bit value for counter; false (and 0) when m is nil or a state
// does not restore, which the standard library's hashes never do.
func (m *otpMAC) value(counter uint64) (uint32, bool) {
	if m == nil || m.iu.UnmarshalBinary(m.istate) != nil || m.ou.UnmarshalBinary(m.ostate) != nil {
		return 0, false
	}
	binary.BigEndian.PutUint64(m.scratch[:8], counter)
	m.inner.Write(m.scratch[:8])
	sum := m.inner.Sum(m.scratch[:0]) // the message is written already
	m.outer.Write(sum)
	return truncate(m.outer.Sum(m.scratch[:0])), true
}

// release wipes m's keyed states and gives it back to its pool. A hash's Reset sets its
// state words and counters, not its partial-block buffer, which keeps what was written
// last past a whole block: the outer hash the last counter's inner sum, and a seed longer
// than the block's tail when no counter followed. Each hash is reset, then restored from
// its own reset state, whose buffer is saved as zeros: the whole buffer is overwritten.
func (m *otpMAC) release() {
	if m == nil {
		return
	}
	clear(m.istate) // a state that outgrew ibuf is a copy of its own
	clear(m.ostate)
	m.istate, m.ostate = nil, nil
	for _, h := range [...]struct {
		h hash.Hash
		u encoding.BinaryUnmarshaler
	}{{m.inner, m.iu}, {m.outer, m.ou}} {
		h.h.Reset()
		if a, ok := h.h.(encoding.BinaryAppender); ok {
			if zero, err := a.AppendBinary(m.ibuf[:0]); err == nil && len(zero) <= len(m.ibuf) {
				_ = h.u.UnmarshalBinary(zero)
				h.h.Reset()
			}
		}
	}
	clear(m.ibuf[:])
	clear(m.obuf[:])
	clear(m.scratch[:])
	m.pool.Put(m)
}

// appendCode appends v's last digits decimal digits, zero-padded (RFC 4226 §5.3).
func appendCode(b []byte, v uint32, digits int) []byte {
	n := len(b)
	for range digits {
		b = append(b, 0)
	}
	for i := len(b) - 1; i >= n; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// TOTPStep is the RFC 6238 time step T for a Unix time.
func TOTPStep(unix int64, period int) int64 {
	if unix < 0 {
		return -1
	}
	return unix / int64(period)
}

// DecodeSecret decodes a Base32 seed as authenticator apps and token vendors write it:
// case-insensitive, spaces and dashes ignored, padding optional.
func DecodeSecret(s string) ([]byte, error) {
	clean := strings.ToUpper(strings.NewReplacer(" ", "", "-", "", "=", "").Replace(s))
	seed, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(clean)
	if err != nil {
		return nil, fmt.Errorf("secret is not valid base32")
	}
	if len(seed) < 16 {
		return nil, fmt.Errorf("secret is %d bits; RFC 4226 requires at least 128", len(seed)*8)
	}
	return seed, nil
}

// EncodeSecret is the unpadded Base32 form authenticator apps expect.
func EncodeSecret(seed []byte) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(seed)
}

// checkSeedSettings checks the defaults a TOTP or HOTP section gives new seeds.
func checkSeedSettings(c *Checker, algorithm string, digits int) Algorithm {
	alg, err := ParseAlgorithm(algorithm)
	if err != nil {
		c.Errorf("algorithm", "%v", err)
	}
	if digits != 6 && digits != 8 {
		c.Errorf("digits", "must be 6 or 8, not %d", digits)
	}
	return alg
}

// seedFields are the enrollment fields of a factor with a seed (totp, hotp), then its own.
func seedFields(own ...Field) []Field {
	fields := []Field{
		{Name: "secret", Meta: "B32", Secret: true, Usage: "import this Base32 seed (a hardware token's, a migration's) instead of generating one"},
		{Name: "algorithm", Meta: "A", Usage: "SHA1, SHA256 or SHA512 (default: the provider's)"},
		{Name: "digits", Meta: "N", Kind: FieldInt, Usage: "6 or 8 (default: the provider's)"},
	}
	return append(append(fields, own...), Field{Name: "name", Meta: "LABEL", Usage: "label shown to the user"})
}

// seedInput reads what TOTP and HOTP enrollments share — an algorithm, 6 or 8 digits, a
// seed of at least 128 bits — taking the defaults for what is not given, and generates a
// seed of the algorithm's size when none is.
func seedInput(v url.Values, defAlg Algorithm, defDigits int) (seed []byte, alg Algorithm, digits int, err error) {
	alg, digits = defAlg, defDigits
	if a := v.Get("algorithm"); a != "" {
		if alg, err = ParseAlgorithm(a); err != nil {
			return nil, "", 0, fmt.Errorf("%w: %v", ErrInput, err)
		}
	}
	if d := v.Get("digits"); d != "" {
		if digits, err = strconv.Atoi(d); err != nil {
			return nil, "", 0, fmt.Errorf("%w: digits %q is not a number", ErrInput, d)
		}
	}
	if digits != 6 && digits != 8 {
		return nil, "", 0, fmt.Errorf("%w: digits must be 6 or 8, not %d", ErrInput, digits)
	}
	if secret := v.Get("secret"); secret != "" {
		if seed, err = DecodeSecret(secret); err != nil {
			return nil, "", 0, fmt.Errorf("%w: %v", ErrInput, err)
		}
		return seed, alg, digits, nil
	}
	seed = make([]byte, alg.SeedSize())
	rand.Read(seed)
	return seed, alg, digits, nil
}

// createSealed stores f with its seed sealed to its id.
func (e *Engine) createSealed(ctx context.Context, in Enrollment, f *store.Factor, seed []byte) error {
	var err error
	if f.Secret, f.KeyID, err = e.keys.Seal(seed, []byte(f.ID)); err != nil {
		return err
	}
	return e.createFactor(ctx, in, *f, nil)
}

// matchCounter returns the counter in [from, to] whose code is code, or -1. Every value is
// computed and compared, without stopping at a match, so the timing does not tell which
// one matched; negative counters are skipped.
func matchCounter(alg Algorithm, seed []byte, digits int, code string, from, to int64) int64 {
	m := keyedMAC(alg, seed)
	defer m.release()
	var value func(uint64) (uint32, bool)
	if m != nil {
		value = m.value
	} else { // never: the standard library's hashes save their states
		mac, scratch := hmac.New(alg.hash(), seed), new([sha512.Size]byte)
		value = func(c uint64) (uint32, bool) { return hotp(mac, c, scratch), true }
	}
	matched := int64(-1)
	var buf [10]byte
	for c := max(from, 0); c <= to; c++ {
		v, ok := value(uint64(c))
		if !ok {
			return -1 // never: a state that saved restores
		}
		want := appendCode(buf[:0], v, digits)
		if subtle.ConstantTimeCompare(want, []byte(code)) == 1 && matched < 0 {
			matched = c
		}
		if c == math.MaxInt64 { // c++ would wrap around below to, and never end
			break
		}
	}
	return matched
}

// claimCounter moves the factor's counter to the matched value with the store's atomic
// compare-and-set, so of concurrent requests with one code exactly one succeeds; the
// others, and any value at or below the last accepted one, are replays.
func (e *Engine) claimCounter(ctx context.Context, f *store.Factor, matched int64, success provider.Outcome) (provider.Outcome, error) {
	if matched <= f.Counter {
		return provider.Failed("replayed code"), nil
	}
	// The counter and the audit row of the answer it decides are one unit: no success is
	// answered without both, and they cost one commit.
	return provider.Decide(ctx, e.store, func(w store.Writer) (provider.Outcome, error) {
		if err := w.AdvanceCounter(ctx, f.ID, matched, e.now()); err != nil {
			if errors.Is(err, store.ErrReplay) {
				return provider.Failed("replayed code"), nil
			}
			if errors.Is(err, store.ErrLocked) {
				// Wrong codes sent alongside this one locked the factor first.
				return provider.Failed("factor locked"), nil
			}
			if errors.Is(err, store.ErrInactive) {
				// Disabled (the factor, or its user) since factorFor read them.
				return provider.Failed("factor or user disabled meanwhile"), nil
			}
			if errors.Is(err, store.ErrNotFound) {
				// Deleted (a reset) since factorFor read it: as unknown as it is now.
				return provider.Failed("factor deleted meanwhile"), nil
			}
			return provider.Outcome{}, err
		}
		return success, nil
	})
}
