package main

import (
	"strings"

	"github.com/emfa/emfa/internal/qr"
)

// quietZone is the light border a scanner needs around a QR code, in modules (the
// standard asks for 4).
const quietZone = 4

// terminalQR draws text as a QR code in half-block characters, two module rows per line,
// for a phone to scan off a terminal. The printed blocks are the light modules, as
// qrencode's UTF-8 output does: a dark terminal's light text then shows the code the
// right way round, quiet zone included.
func terminalQR(text string) (string, error) {
	code, err := qr.Encode([]byte(text), qr.M) // as the admin API's PNG (lifecycle)
	if err != nil {
		return "", err
	}
	size := code.Size()
	light := func(x, y int) bool {
		x, y = x-quietZone, y-quietZone
		return x < 0 || y < 0 || x >= size || y >= size || !code.Dark(x, y)
	}
	var b strings.Builder
	side := size + 2*quietZone
	for y := 0; y < side; y += 2 {
		for x := 0; x < side; x++ {
			// The last line's lower half is past the code and the quiet zone: left dark.
			top, bottom := light(x, y), y+1 < side && light(x, y+1)
			switch {
			case top && bottom:
				b.WriteRune('█')
			case top:
				b.WriteRune('▀')
			case bottom:
				b.WriteRune('▄')
			default:
				b.WriteRune(' ')
			}
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}
