package remote

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// readAtMost reads what bytes.Buffer.ReadFrom of an io.LimitReader read, errors included,
// whatever the size announced and however the reader hands out its bytes.
func TestReadAtMostAsLimitReader(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	for _, n := range []int{0, 1, 511, 512, 513, 1000, 4096, 5000} {
		body := strings.Repeat("x", n)
		for _, limit := range []int64{1, 512, 1001, 4097, 1 << 20} {
			for _, size := range []int64{-1, 0, int64(n), int64(n) / 2, int64(n) + 7} {
				readers := map[string]func() io.Reader{
					"whole":   func() io.Reader { return strings.NewReader(body) },
					"onebyte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(body)) },
					"dataerr": func() io.Reader { return iotest.DataErrReader(strings.NewReader(body)) },
					"failing": func() io.Reader { return io.MultiReader(strings.NewReader(body), iotest.ErrReader(boom)) },
				}
				for name, r := range readers {
					var want bytes.Buffer
					_, wantErr := want.ReadFrom(io.LimitReader(r(), limit))
					got, err := readAtMost(r(), limit, size)
					if !bytes.Equal(got, want.Bytes()) || !errors.Is(err, wantErr) && err != wantErr {
						t.Errorf("%d bytes, limit %d, size %d, %s: %d bytes, %v; want %d bytes, %v",
							n, limit, size, name, len(got), err, want.Len(), wantErr)
					}
				}
			}
		}
	}
}
