package lifecycle

import (
	"bytes"
	"encoding/base64"
	"image/png"
	"strings"
	"testing"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
)

// The QR code an enrollment answers with is the code itself, pixel for pixel, as a small
// black-and-white PNG.
func TestQRPNG(t *testing.T) {
	const text = "emfa://register?code=ABCD-EFGH-1234&url=https%3A%2F%2Fmfa.example.com"
	uri, err := qrPNG(text)
	if err != nil {
		t.Fatal(err)
	}
	data, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(uri, "data:image/png;base64,"))
	if err != nil || !strings.HasPrefix(uri, "data:image/png;base64,") {
		t.Fatalf("not a PNG data URI: %.40q (%v)", uri, err)
	}
	got, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	code, _ := qr.Encode(text, qr.M, qr.Auto)
	want, _ := barcode.Scale(code, 256, 256)
	if got.Bounds() != want.Bounds() {
		t.Fatalf("bounds %v, want %v", got.Bounds(), want.Bounds())
	}
	dark := map[bool]int{}
	for y := range 256 {
		for x := range 256 {
			g, _, _, _ := got.At(x, y).RGBA()
			w, _, _, _ := want.At(x, y).RGBA()
			if (g < 0x8000) != (w < 0x8000) {
				t.Fatalf("pixel (%d, %d) differs from the code's", x, y)
			}
			dark[g < 0x8000]++
		}
	}
	if dark[true] == 0 || dark[false] == 0 || len(data) > 4096 {
		t.Errorf("%d dark and %d light pixels, %d bytes", dark[true], dark[false], len(data))
	}
}

// BenchmarkQRDataURI is the QR code of a TOTP enrollment's otpauth URI.
func BenchmarkQRDataURI(b *testing.B) {
	const uri = "otpauth://totp/emfa:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=emfa&period=30"
	for b.Loop() {
		if _, err := qrDataURI(uri); err != nil {
			b.Fatal(err)
		}
	}
}
