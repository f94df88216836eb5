package lifecycle

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/boombuler/barcode"
	bqr "github.com/boombuler/barcode/qr"
	goqr "github.com/piglig/go-qr"

	"github.com/emfa/emfa/internal/qr"
)

// The QR code an enrollment answers with is the code itself, pixel for pixel, as a small
// black-and-white PNG that a decoder reads back to the text: a push registration URI and
// otpauth URIs of a short and of the longest seed the engine takes (64 bytes).
func TestQRPNG(t *testing.T) {
	for _, text := range []string{
		"emfa://register?code=ABCD-EFGH-1234&url=https%3A%2F%2Fmfa.example.com",
		"otpauth://totp/emfa:alice?algorithm=SHA1&digits=6&issuer=emfa&period=30&secret=JBSWY3DPEHPK3PXP",
		"otpauth://totp/Example%20Corp:alice%40example.com?algorithm=SHA512&digits=8&issuer=Example%20Corp&period=30&secret=" +
			strings.Repeat("JBSWY3DPEHPK3PXP", 6) + "JBSWY3DP",
	} {
		uri, err := qrPNG(text)
		if err != nil {
			t.Fatal(err)
		}
		got := decodeDataURI(t, uri)
		code, err := qr.Encode([]byte(text), qr.M)
		if err != nil {
			t.Fatal(err)
		}
		n := code.Size()
		factor := 256 / (n + 8) // a quiet zone of four modules
		off := (256 - n*factor) / 2
		if got.Bounds() != image.Rect(0, 0, 256, 256) || factor < 3 {
			t.Fatalf("bounds %v, %d pixels per module", got.Bounds(), factor)
		}
		for y := range 256 {
			for x := range 256 {
				mx, my := (x-off)/factor, (y-off)/factor
				dark := x >= off && y >= off && mx < n && my < n && code.Dark(mx, my)
				if g, _, _, _ := got.At(x, y).RGBA(); (g < 0x8000) != dark {
					t.Fatalf("%.30q: pixel (%d, %d) differs from the code's", text, x, y)
				}
			}
		}
		read, err := goqr.Decode(got)
		if err != nil || read != text {
			t.Errorf("decoded %q (%v), want %q", read, err, text)
		}
	}
}

// The decoder the tests read codes back with is not go-qr agreeing with itself: it reads
// the codes of boombuler/barcode, an encoder it shares no code with (pquerna/otp's), for
// the same texts.
func TestQRDecoderReadsAnotherEncoder(t *testing.T) {
	for _, text := range []string{
		"emfa://register?code=ABCD-EFGH-1234&url=https%3A%2F%2Fmfa.example.com",
		"otpauth://totp/emfa:alice?algorithm=SHA1&digits=6&issuer=emfa&period=30&secret=JBSWY3DPEHPK3PXP",
	} {
		code, err := bqr.Encode(text, bqr.M, bqr.Auto)
		if err != nil {
			t.Fatal(err)
		}
		img, err := barcode.Scale(code, 8*code.Bounds().Dx(), 8*code.Bounds().Dy())
		if err != nil {
			t.Fatal(err)
		}
		if read, err := goqr.Decode(img); err != nil || read != text {
			t.Errorf("boombuler's code decodes to %q (%v), want %q", read, err, text)
		}
	}
}

// A TOTP enrollment's QR code is its otpauth URI as pquerna/otp writes the key.
func TestQRDataURI(t *testing.T) {
	const uri = "otpauth://totp/emfa:alice?secret=JBSWY3DPEHPK3PXP&issuer=emfa&period=30"
	got, err := qrDataURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	read, err := goqr.Decode(decodeDataURI(t, got))
	if err != nil || !strings.HasPrefix(read, "otpauth://totp/emfa:alice?") || !strings.Contains(read, "secret=JBSWY3DPEHPK3PXP") {
		t.Errorf("decoded %q (%v)", read, err)
	}
	if _, err := qrDataURI("not a uri\x7f"); err == nil {
		t.Error("an unparsable URI got a QR code")
	}
}

func decodeDataURI(t *testing.T, uri string) image.Image {
	t.Helper()
	data, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(uri, "data:image/png;base64,"))
	if err != nil || !strings.HasPrefix(uri, "data:image/png;base64,") {
		t.Fatalf("not a PNG data URI: %.40q (%v)", uri, err)
	}
	if len(data) > 4096 {
		t.Errorf("%d bytes of PNG", len(data))
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return img
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
