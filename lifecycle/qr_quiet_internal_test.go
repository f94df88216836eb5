package lifecycle

import (
	"testing"

	"github.com/emfa/emfa/internal/qr"
)

// The PNG of an enrollment's QR code keeps the light quiet zone of four modules around
// the code that ISO/IEC 18004 requires and scanners look for (the terminal code has it):
// an admin console showing the data URI on its own background, dark or tinted, otherwise
// shows a code that phones fail to find. A TOTP URI of emfa's had three modules of
// border, a push registration's under three; a 41-module code had under one.
func TestQRPNGQuietZone(t *testing.T) {
	for _, text := range []string{
		"otpauth://totp/emfa:alice?algorithm=SHA1&digits=6&issuer=emfa&period=30&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
		"emfa://register?code=ABCD-EFGH-1234&url=https%3A%2F%2Fmfa.example.com",
	} {
		uri, err := qrPNG(text)
		if err != nil {
			t.Fatal(err)
		}
		img := decodeDataURI(t, uri)
		code, err := qr.Encode([]byte(text), qr.M)
		if err != nil {
			t.Fatal(err)
		}
		// The code's first dark pixel is the top left finder's corner, on the diagonal;
		// its last in that row is the top right finder's edge.
		first := -1
		for i := range 256 {
			if g, _, _, _ := img.At(i, i).RGBA(); g < 0x8000 {
				first = i
				break
			}
		}
		last := -1
		for i := 255; i >= 0; i-- {
			if g, _, _, _ := img.At(i, first).RGBA(); g < 0x8000 {
				last = i
				break
			}
		}
		module := (last - first + 1) / code.Size()
		if first < 0 || module < 1 || first < 4*module || 255-last < 4*module {
			t.Errorf("%.30q: code from pixel %d to %d, %d pixels a module: a border of %d and %d pixels, want at least %d (four modules)",
				text, first, last, module, first, 255-last, 4*module)
		}
	}
}
