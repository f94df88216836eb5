// Package retryafter reads an HTTP Retry-After header (RFC 9110 §10.2.3), for the
// clients emfa runs toward others: a vendor's admin API (directory sync's propagation),
// an OTLP collector, a Verify tenant's API (emfa verify register).
package retryafter

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Parse reads v, a number of seconds or an HTTP date (then the wait from now; 0 for a
// date past), and says whether it was either. A number of seconds too large for a
// Duration is the largest Duration: callers bound the wait to what they will wait.
func Parse(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if err != nil || n > uint64(math.MaxInt64/int64(time.Second)) {
			return math.MaxInt64, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
