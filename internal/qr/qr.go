// Package qr encodes bytes as a QR code (ISO/IEC 18004): byte mode, versions 1 to 40, the
// error correction raised above the one asked for wherever the same size allows, and the
// mask chosen by the standard's penalty rules. It is what an enrollment's QR code and the
// CLI's terminal code need, and no more: no other modes, no image output.
//
// It replaces piglig/go-qr, whose package initialisation filled a 512 KiB kanji table
// (1.5 ms of every process's start-up, and half a megabyte resident for good) that emfa
// never reads. go-qr stays in the tests, as the reference this encoder is compared with
// module for module, and as the decoder that reads the codes back.
package qr

import (
	"errors"
	"fmt"
)

// Level is an error correction level.
type Level int

const (
	L Level = iota // ~7 % of the codewords can be restored
	M              // ~15 %
	Q              // ~25 %
	H              // ~30 %
)

// Code is an encoded symbol: Size×Size modules.
type Code struct {
	size  int
	level Level
	mask  int
	// dark holds the modules row by row, 1 for dark.
	dark []byte
}

// Size is the number of modules on each side (21 to 177), without the quiet zone.
func (c *Code) Size() int { return c.size }

// Dark reports whether the module at column x, row y is dark; outside the symbol it is not.
func (c *Code) Dark(x, y int) bool {
	return x >= 0 && y >= 0 && x < c.size && y < c.size && c.dark[y*c.size+x] == 1
}

// Level is the error correction level the code was made with: at least the one asked for.
func (c *Code) Level() Level { return c.level }

// Mask is the mask pattern the penalty rules chose (0 to 7).
func (c *Code) Mask() int { return c.mask }

// ErrTooLong is returned for data that no version holds at the level asked for.
var ErrTooLong = errors.New("qr: data too long for a QR code")

// Encode makes the smallest QR code that holds data in byte mode at level atLeast or higher.
func Encode(data []byte, atLeast Level) (*Code, error) {
	if atLeast < L || atLeast > H {
		return nil, fmt.Errorf("qr: no error correction level %d", atLeast)
	}
	version := 0
	for v := 1; v <= 40; v++ {
		if dataBits(v, len(data)) <= dataCodewords(v, atLeast)*8 {
			version = v
			break
		}
	}
	if version == 0 {
		return nil, fmt.Errorf("%w: %d bytes at level %d", ErrTooLong, len(data), atLeast)
	}
	level := atLeast
	for l := atLeast + 1; l <= H; l++ {
		if dataBits(version, len(data)) <= dataCodewords(version, l)*8 {
			level = l
		}
	}
	s := newSymbol(version)
	s.drawCodewords(withECC(version, level, dataCodewordsOf(version, level, data)))
	c := &Code{size: s.size, level: level, dark: s.dark}
	c.mask = s.chooseMask(level)
	return c, nil
}

// countBits is the width of byte mode's character count field.
func countBits(version int) int {
	if version <= 9 {
		return 8
	}
	return 16
}

// dataBits is the length of n bytes' segment: mode indicator, count and the bytes.
func dataBits(version, n int) int {
	if n >= 1<<countBits(version) {
		return 1 << 30 // the count does not fit
	}
	return 4 + countBits(version) + 8*n
}

// dataCodewordsOf is data's segment as the version's data codewords: mode indicator 0100,
// count, bytes, a terminator of up to four zero bits, zeros to a byte, then the pad bytes
// 0xEC and 0x11 in turn.
func dataCodewordsOf(version int, level Level, data []byte) []byte {
	out := make([]byte, 0, dataCodewords(version, level))
	var acc uint32 // bits not yet whole bytes, at the bottom
	var n int      // how many
	put := func(v uint32, bits int) {
		acc = acc<<bits | v&(1<<bits-1)
		n += bits
		for n >= 8 {
			n -= 8
			out = append(out, byte(acc>>n))
		}
	}
	put(0b0100, 4)
	put(uint32(len(data)), countBits(version))
	for _, b := range data {
		put(uint32(b), 8)
	}
	capacity := cap(out) * 8
	put(0, min(4, capacity-len(out)*8-n))
	if n > 0 {
		put(0, 8-n)
	}
	for pad := byte(0xEC); len(out) < cap(out); pad ^= 0xEC ^ 0x11 {
		out = append(out, pad)
	}
	return out
}

// rawModules is how many modules of a version carry codewords (data and error
// correction, and the remainder bits): the whole symbol less the function patterns.
func rawModules(version int) int {
	n := (16*version+128)*version + 64
	if version >= 2 {
		align := version/7 + 2
		n -= (25*align-10)*align - 55
		if version >= 7 {
			n -= 36 // the two version information blocks
		}
	}
	return n
}

// dataCodewords is how many data codewords a version holds at a level.
func dataCodewords(version int, level Level) int {
	return rawModules(version)/8 - int(eccPerBlock[level][version])*int(eccBlocks[level][version])
}

// withECC splits the data codewords into the version's blocks, appends each block's
// Reed-Solomon codewords, and interleaves them as the symbol carries them: the blocks'
// first data codewords, then their second, …, then their error correction the same way.
// The first blocks are one data codeword shorter when the codewords do not divide evenly.
func withECC(version int, level Level, data []byte) []byte {
	blocks := int(eccBlocks[level][version])
	eccLen := int(eccPerBlock[level][version])
	raw := rawModules(version) / 8
	short := blocks - raw%blocks
	shortData := raw/blocks - eccLen
	gen := generator(eccLen)
	type block struct{ data, ecc []byte }
	bs := make([]block, blocks)
	for i, at := 0, 0; i < blocks; i++ {
		n := shortData
		if i >= short {
			n++
		}
		bs[i] = block{data: data[at : at+n], ecc: remainder(data[at:at+n], gen)}
		at += n
	}
	out := make([]byte, 0, raw)
	for i := range shortData + 1 {
		for _, b := range bs {
			if i < len(b.data) {
				out = append(out, b.data[i])
			}
		}
	}
	for i := range eccLen {
		for _, b := range bs {
			out = append(out, b.ecc[i])
		}
	}
	return out
}

// Reed-Solomon over GF(2^8) with the field polynomial x^8+x^4+x^3+x^2+1 (0x11D).

// gfExp and gfLog are the field's powers of 2 and their logarithms, built at package
// initialisation: 512 bytes, a few hundred operations.
var gfExp, gfLog = func() (exp [256]byte, log [256]byte) {
	x := 1
	for i := range 255 {
		exp[i] = byte(x)
		log[x] = byte(i)
		x <<= 1
		if x&0x100 != 0 {
			x ^= 0x11D
		}
	}
	exp[255] = exp[0]
	return exp, log
}()

func gfMul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return gfExp[(int(gfLog[a])+int(gfLog[b]))%255]
}

// generator is the coefficients of (x-2^0)(x-2^1)…(x-2^(degree-1)), the highest power's
// (always 1) left out, highest first.
func generator(degree int) []byte {
	g := make([]byte, degree)
	g[degree-1] = 1 // the polynomial 1
	root := byte(1)
	for range degree {
		// Multiply by (x - root): each coefficient times root, plus the next one up.
		for j := range degree {
			g[j] = gfMul(g[j], root)
			if j+1 < degree {
				g[j] ^= g[j+1]
			}
		}
		root = gfMul(root, 2)
	}
	return g
}

// remainder is data times x^len(gen) modulo the generator: the block's error correction.
func remainder(data, gen []byte) []byte {
	r := make([]byte, len(gen))
	for _, b := range data {
		factor := b ^ r[0]
		copy(r, r[1:])
		r[len(r)-1] = 0
		for i, g := range gen {
			r[i] ^= gfMul(g, factor)
		}
	}
	return r
}

// symbol is a code being drawn: its modules, and which of them are function patterns
// (finders, separators, timing, alignment, format and version information), which the
// codewords and the mask leave alone.
type symbol struct {
	size        int
	dark, fixed []byte
}

func newSymbol(version int) *symbol {
	size := 4*version + 17
	s := &symbol{size: size, dark: make([]byte, size*size), fixed: make([]byte, size*size)}
	for i := range size { // timing patterns, under the finders drawn next
		s.set(6, i, i%2 == 0)
		s.set(i, 6, i%2 == 0)
	}
	s.finder(3, 3)
	s.finder(size-4, 3)
	s.finder(3, size-4)
	pos := alignmentPositions(version)
	for i, x := range pos {
		for j, y := range pos {
			last := len(pos) - 1
			if (i == 0 && j == 0) || (i == 0 && j == last) || (i == last && j == 0) {
				continue // a finder is there
			}
			s.alignment(x, y)
		}
	}
	s.format(0, M) // reserves the format areas; rewritten once the mask is chosen
	if version >= 7 {
		rem := version
		for range 12 {
			rem = rem<<1 ^ (rem>>11)*0x1F25
		}
		bits := version<<12 | rem
		for i := range 18 {
			a, b := size-11+i%3, i/3
			s.set(a, b, bits>>i&1 == 1)
			s.set(b, a, bits>>i&1 == 1)
		}
	}
	return s
}

// set draws a function module.
func (s *symbol) set(x, y int, dark bool) {
	i := y*s.size + x
	s.dark[i] = b2i(dark)
	s.fixed[i] = 1
}

// finder draws a finder pattern centred on (x, y) with its light separator, clipped to
// the symbol.
func (s *symbol) finder(x, y int) {
	for dy := -4; dy <= 4; dy++ {
		for dx := -4; dx <= 4; dx++ {
			xx, yy := x+dx, y+dy
			if xx >= 0 && yy >= 0 && xx < s.size && yy < s.size {
				d := max(abs(dx), abs(dy))
				s.set(xx, yy, d != 2 && d != 4)
			}
		}
	}
}

// alignment draws an alignment pattern centred on (x, y).
func (s *symbol) alignment(x, y int) {
	for dy := -2; dy <= 2; dy++ {
		for dx := -2; dx <= 2; dx++ {
			s.set(x+dx, y+dy, max(abs(dx), abs(dy)) != 1)
		}
	}
}

// alignmentPositions are the rows (and columns) of a version's alignment patterns'
// centres: 6, then evenly spaced up to size-7, the spacing even.
func alignmentPositions(version int) []int {
	if version == 1 {
		return nil
	}
	n := version/7 + 2
	step := 26
	if version != 32 {
		step = (version*4 + n*2 + 1) / (n*2 - 2) * 2
	}
	pos := make([]int, n)
	pos[0] = 6
	for i, p := n-1, 4*version+10; i >= 1; i, p = i-1, p-step {
		pos[i] = p
	}
	return pos
}

// format draws the format information (level and mask, BCH-coded and masked) in both of
// its places, and the dark module beside the lower left finder.
func (s *symbol) format(mask int, level Level) {
	s.formatCells(mask, level, s.set)
}

// formatCells calls set for each module of the format information, and the dark module.
func (s *symbol) formatCells(mask int, level Level, set func(x, y int, dark bool)) {
	data := formatLevel[level]<<3 | mask
	rem := data
	for range 10 {
		rem = rem<<1 ^ (rem>>9)*0x537
	}
	bits := (data<<10 | rem) ^ 0x5412
	bit := func(i int) bool { return bits>>i&1 == 1 }
	for i := range 6 {
		set(8, i, bit(i))
	}
	set(8, 7, bit(6))
	set(8, 8, bit(7))
	set(7, 8, bit(8))
	for i := 9; i < 15; i++ {
		set(14-i, 8, bit(i))
	}
	for i := range 8 {
		set(s.size-1-i, 8, bit(i))
	}
	for i := 8; i < 15; i++ {
		set(8, s.size-15+i, bit(i))
	}
	set(8, s.size-8, true)
}

// formatLevel is each level's two bits in the format information.
var formatLevel = [4]int{L: 1, M: 0, Q: 3, H: 2}

// drawCodewords places the codewords' bits in the non-function modules: in two-module
// columns from the right, up then down in turn, skipping the vertical timing pattern's
// column. Modules left over (the remainder bits) stay light.
func (s *symbol) drawCodewords(cw []byte) {
	i, n := 0, len(cw)*8
	for right := s.size - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		up := (right+1)&2 == 0
		for v := range s.size {
			y := v
			if up {
				y = s.size - 1 - v
			}
			for x := right; x >= right-1; x-- {
				at := y*s.size + x
				if s.fixed[at] == 0 && i < n {
					s.dark[at] = cw[i>>3] >> (7 - i&7) & 1
					i++
				}
			}
		}
	}
}

// masks are the eight mask patterns, 1 where a data module is flipped. Each repeats every
// 12 rows and 6 columns, so one period of each is enough.
var masks = func() (m [8][12][6]byte) {
	for y := range 12 {
		for x := range 6 {
			m[0][y][x] = b2i((x+y)%2 == 0)
			m[1][y][x] = b2i(y%2 == 0)
			m[2][y][x] = b2i(x%3 == 0)
			m[3][y][x] = b2i((x+y)%3 == 0)
			m[4][y][x] = b2i((x/3+y/2)%2 == 0)
			m[5][y][x] = b2i(x*y%2+x*y%3 == 0)
			m[6][y][x] = b2i((x*y%2+x*y%3)%2 == 0)
			m[7][y][x] = b2i(((x+y)%2+x*y%3)%2 == 0)
		}
	}
	return m
}()

// masked writes the modules with mask applied to the data modules into rows, and the
// same transposed into cols (column by column), for the penalty rules.
func (s *symbol) masked(mask int, rows, cols []byte) {
	n := s.size
	for y := range n {
		period := &masks[mask][y%12]
		row, fixed := s.dark[y*n:(y+1)*n], s.fixed[y*n:(y+1)*n]
		out := rows[y*n : (y+1)*n]
		for x, p := 0, 0; x < n; x, p = x+1, p+1 {
			if p == 6 {
				p = 0
			}
			v := row[x] ^ period[p]&^fixed[x]
			out[x] = v
			cols[x*n+y] = v
		}
	}
}

// chooseMask scores the symbol under each mask, with that mask's format information, and
// applies the one of lowest penalty (the first of equals), which it returns.
func (s *symbol) chooseMask(level Level) int {
	n := s.size
	rows, cols := make([]byte, n*n), make([]byte, n*n)
	best, bestPenalty := 0, -1
	for mask := range 8 {
		s.masked(mask, rows, cols)
		s.formatCells(mask, level, func(x, y int, dark bool) {
			rows[y*n+x], cols[x*n+y] = b2i(dark), b2i(dark)
		})
		if p := penalty(n, rows, cols); bestPenalty < 0 || p < bestPenalty {
			best, bestPenalty = mask, p
		}
	}
	s.masked(best, s.dark, cols)
	s.format(best, level)
	return best
}

// The penalty rules' weights.
const (
	penaltyRun     = 3  // a run of five modules of one colour in a row or column, +1 per module more
	penaltyBlock   = 3  // a 2×2 block of one colour
	penaltyFinder  = 40 // a 1:1:3:1:1 pattern with four light modules on either side
	penaltyBalance = 10 // each 5 % of dark modules away from half
)

// penalty scores an n×n symbol given row by row and column by column. The finder-like
// patterns are looked for in runs of modules, with the light quiet zone outside the
// symbol counted as light modules.
func penalty(n int, rows, cols []byte) int {
	total := 0
	for a := range n {
		total += linePenalty(rows[a*n:(a+1)*n]) + linePenalty(cols[a*n:(a+1)*n])
	}
	dark := 0
	for y := range n {
		row := rows[y*n : (y+1)*n]
		for _, m := range row {
			dark += int(m)
		}
		if y+1 == n {
			break
		}
		next := rows[(y+1)*n : (y+2)*n]
		for x := range n - 1 {
			c := row[x]
			if c == row[x+1] && c == next[x] && c == next[x+1] {
				total += penaltyBlock
			}
		}
	}
	all := n * n
	// k is how many whole 5 % steps the dark share is from 50 %, rounded up, less one.
	k := (abs(dark*20-all*10)+all-1)/all - 1
	return total + k*penaltyBalance
}

// linePenalty scores one row or column: its long runs and its finder-like patterns. The
// runs are looked at as wholes; a finder-like pattern is counted as a light run ends, and
// once more at the line's end, where the quiet zone is one long light run.
func linePenalty(line []byte) int {
	quiet := len(line)
	total := 0
	var runs runHistory
	if line[0] == 1 {
		runs.add(0, quiet) // the light run before the first module, empty but for the zone
	}
	for i := 0; i < len(line); {
		c, j := line[i], i+1
		for j < len(line) && line[j] == c {
			j++
		}
		run := j - i
		if run >= 5 {
			total += penaltyRun + run - 5
		}
		switch {
		case j < len(line):
			runs.add(run, quiet)
			if c == 0 {
				total += runs.finders() * penaltyFinder
			}
		case c == 1:
			runs.add(run, quiet)
			runs.add(quiet, quiet)
			total += runs.finders() * penaltyFinder
		default:
			runs.add(run+quiet, quiet)
			total += runs.finders() * penaltyFinder
		}
		i = j
	}
	return total
}

// runHistory is a line's last seven run lengths, the latest first. The line's first run
// is light (a dark first module makes it empty) and, the quiet zone being light, counts
// the zone's width too.
type runHistory [7]int

func (h *runHistory) add(run, quiet int) {
	if h[0] == 0 {
		run += quiet
	}
	h[6], h[5], h[4], h[3], h[2], h[1], h[0] = h[5], h[4], h[3], h[2], h[1], h[0], run
}

// finders counts the finder-like patterns the latest runs end or start with: light, dark
// 1, light 1, dark 3, light 1, dark 1, light, in the ratio's units, with four units of
// light on one side and at least one on the other.
func (h *runHistory) finders() int {
	u := h[1]
	core := u > 0 && h[2] == u && h[3] == 3*u && h[4] == u && h[5] == u
	count := 0
	if core && h[0] >= 4*u && h[6] >= u {
		count++
	}
	if core && h[6] >= 4*u && h[0] >= u {
		count++
	}
	return count
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func b2i(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// The standard's tables, indexed by level and version (1 to 40): the error correction
// codewords of each block, and the number of blocks.
var eccPerBlock = [4][41]int8{
	L: {-1, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30},
	M: {-1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28},
	Q: {-1, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30, 28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30},
	H: {-1, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28, 30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30},
}

var eccBlocks = [4][41]int8{
	L: {-1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25},
	M: {-1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49},
	Q: {-1, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20, 23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68},
	H: {-1, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25, 25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81},
}
