package qr

import (
	"errors"
	"image"
	"image/color"
	"math/rand/v2"
	"strings"
	"testing"

	goqr "github.com/piglig/go-qr"
)

// The reference: go-qr (a port of Nayuki's QR Code generator), byte mode, the level
// boosted, the mask chosen by the penalty rules. Every module must be the same: version,
// level, codewords, interleaving, placement, mask choice and format information alike.
func sameAsReference(t *testing.T, data []byte, level Level) *Code {
	t.Helper()
	got, err := Encode(data, level)
	if err != nil {
		t.Fatalf("%d bytes at level %d: %v", len(data), level, err)
	}
	want, err := goqr.EncodeBinary(data, []goqr.Ecc{goqr.Low, goqr.Medium, goqr.Quartile, goqr.High}[level])
	if err != nil {
		t.Fatal(err)
	}
	if got.Size() != want.Size() {
		t.Fatalf("%d bytes at level %d: size %d, want %d", len(data), level, got.Size(), want.Size())
	}
	for y := range got.Size() {
		for x := range got.Size() {
			if got.Dark(x, y) != want.Module(x, y) {
				t.Fatalf("%d bytes at level %d (version %d, level %d, mask %d): module (%d, %d) differs from the reference's",
					len(data), level, (got.Size()-17)/4, got.Level(), got.Mask(), x, y)
			}
		}
	}
	return got
}

// Every version and every level, at lengths that fill a version exactly and one over
// (the next version, barely used: padding and the level's boost), with random bytes, so
// that the block structure of each is exercised.
func TestSameAsReferenceEveryVersion(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	versions := map[int]bool{}
	for level := L; level <= H; level++ {
		for v := 1; v <= 40; v++ {
			capacity := (dataCodewords(v, level)*8 - 4 - countBits(v)) / 8
			for _, n := range []int{capacity, capacity + 1} {
				if v == 40 && n > capacity {
					continue
				}
				data := make([]byte, n)
				for i := range data {
					data[i] = byte(r.Uint32())
				}
				c := sameAsReference(t, data, level)
				versions[(c.Size()-17)/4] = true
			}
		}
	}
	if len(versions) != 40 {
		t.Errorf("%d versions drawn, want 40", len(versions))
	}
}

// Texts like those emfa encodes, and short runs of one byte value, where the penalty rules
// decide between masks of close scores: every mask must be chosen somewhere.
func TestSameAsReferenceTexts(t *testing.T) {
	masks := map[int]bool{}
	texts := []string{
		"otpauth://totp/emfa:alice?algorithm=SHA1&digits=6&issuer=emfa&period=30&secret=JBSWY3DPEHPK3PXP",
		"emfa://register?code=ABCD-EFGH-1234&url=https%3A%2F%2Fmfa.example.com",
		"",
	}
	for n := 1; n <= 120; n++ {
		texts = append(texts, strings.Repeat("a", n), strings.Repeat("\x00", n), strings.Repeat("\xff", n))
	}
	for i := range 200 {
		texts = append(texts, "otpauth://totp/emfa:user"+strings.Repeat("x", i%37)+"?secret="+strings.Repeat("ABCDEFGHIJKLMNOP", 1+i%4)+"&issuer=emfa")
	}
	for _, text := range texts {
		for level := L; level <= H; level++ {
			masks[sameAsReference(t, []byte(text), level).Mask()] = true
		}
	}
	if len(masks) != 8 {
		t.Errorf("masks chosen: %v, want all eight", masks)
	}
}

// What is decoded from the drawn code is the data, read by go-qr's decoder.
func TestDecodes(t *testing.T) {
	for _, text := range []string{
		"otpauth://totp/Example%20Corp:alice%40example.com?algorithm=SHA512&digits=8&issuer=Example%20Corp&period=30&secret=" +
			strings.Repeat("JBSWY3DPEHPK3PXP", 6) + "JBSWY3DP",
		"emfa://register?code=ABCD-EFGH-1234&url=https%3A%2F%2Fmfa.example.com",
	} {
		c, err := Encode([]byte(text), M)
		if err != nil {
			t.Fatal(err)
		}
		const scale, quiet = 4, 4
		side := (c.Size() + 2*quiet) * scale
		img := image.NewGray(image.Rect(0, 0, side, side))
		for y := range side {
			for x := range side {
				v := color.Gray{Y: 0xff}
				if c.Dark(x/scale-quiet, y/scale-quiet) {
					v.Y = 0
				}
				img.SetGray(x, y, v)
			}
		}
		if read, err := goqr.Decode(img); err != nil || read != text {
			t.Errorf("decoded %q (%v), want %q", read, err, text)
		}
	}
}

// The standard's byte capacities at the extremes hold, and one byte more is refused, with
// a clear error; so is a level that does not exist.
func TestCapacity(t *testing.T) {
	for _, tc := range []struct {
		level     Level
		v1, v40   int
		levelName string
	}{{L, 17, 2953, "L"}, {M, 14, 2331, "M"}, {Q, 11, 1663, "Q"}, {H, 7, 1273, "H"}} {
		c, err := Encode(make([]byte, tc.v1), tc.level)
		if err != nil || c.Size() != 21 {
			t.Errorf("%s: %d bytes: size %v (%v), want version 1", tc.levelName, tc.v1, c, err)
		}
		if c, err := Encode(make([]byte, tc.v1+1), tc.level); err != nil || c.Size() != 25 {
			t.Errorf("%s: %d bytes: want version 2 (%v)", tc.levelName, tc.v1+1, err)
		}
		if c, err := Encode(make([]byte, tc.v40), tc.level); err != nil || c.Size() != 177 {
			t.Errorf("%s: %d bytes: want version 40 (%v)", tc.levelName, tc.v40, err)
		}
		if _, err := Encode(make([]byte, tc.v40+1), tc.level); !errors.Is(err, ErrTooLong) {
			t.Errorf("%s: %d bytes: %v, want ErrTooLong", tc.levelName, tc.v40+1, err)
		}
	}
	if _, err := Encode([]byte("x"), H+1); err == nil {
		t.Error("level H+1 accepted")
	}
	// The level is raised where the version has room: 7 bytes fit version 1 at H.
	if c, _ := Encode(make([]byte, 7), L); c.Level() != H {
		t.Errorf("7 bytes at L: level %d, want H", c.Level())
	}
}

func TestDarkOutsideIsLight(t *testing.T) {
	c, err := Encode([]byte("x"), M)
	if err != nil {
		t.Fatal(err)
	}
	if c.Dark(-1, 0) || c.Dark(0, -1) || c.Dark(c.Size(), 0) || c.Dark(0, c.Size()) {
		t.Error("a module outside the symbol is dark")
	}
	if !c.Dark(0, 0) || !c.Dark(8, c.Size()-8) {
		t.Error("the finder's corner or the dark module is light")
	}
}

// FuzzEncode holds the encoder to the reference on any bytes at any level: the same
// modules, or both refuse (too long).
func FuzzEncode(f *testing.F) {
	f.Add([]byte("otpauth://totp/emfa:alice?secret=JBSWY3DPEHPK3PXP&issuer=emfa"), uint8(M))
	f.Add([]byte{}, uint8(L))
	f.Add(make([]byte, 300), uint8(H))
	f.Fuzz(func(t *testing.T, data []byte, level uint8) {
		l := Level(level % 4)
		if _, err := Encode(data, l); errors.Is(err, ErrTooLong) {
			if _, err := goqr.EncodeBinary(data, []goqr.Ecc{goqr.Low, goqr.Medium, goqr.Quartile, goqr.High}[l]); err == nil {
				t.Fatalf("%d bytes at level %d refused, which the reference encodes", len(data), l)
			}
			return
		}
		sameAsReference(t, data, l)
	})
}

// BenchmarkEncode is a TOTP enrollment's otpauth URI.
func BenchmarkEncode(b *testing.B) {
	data := []byte("otpauth://totp/emfa:alice?algorithm=SHA1&digits=6&issuer=emfa&period=30&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(data, M); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeReference is go-qr on the same data, for comparison.
func BenchmarkEncodeReference(b *testing.B) {
	data := []byte("otpauth://totp/emfa:alice?algorithm=SHA1&digits=6&issuer=emfa&period=30&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := goqr.EncodeBinary(data, goqr.Medium); err != nil {
			b.Fatal(err)
		}
	}
}
