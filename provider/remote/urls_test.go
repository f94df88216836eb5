package remote

import (
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func newTestRotation(t *testing.T, urls ...string) (*rotation, *fakeClock) {
	t.Helper()
	r, err := newRotation(urls, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	r.now = clock.now
	return r, clock
}

// take returns the hosts of the next n URLs.
func take(r *rotation, n int) []string {
	var hosts []string
	for range n {
		hosts = append(hosts, r.next().Host)
	}
	return hosts
}

// byHost is the rotation's URL for host.
func byHost(r *rotation, host string) *url.URL {
	for _, u := range r.urls {
		if u.Host == host {
			return u
		}
	}
	return nil
}

func fail(r *rotation, host string, times int) {
	for range times {
		r.report(byHost(r, host), false)
	}
}

func TestRotationOrder(t *testing.T) {
	t.Parallel()
	r, _ := newTestRotation(t, "https://a", "https://b/base", "http://c:8080")
	want := []string{"a", "b", "c:8080", "a", "b", "c:8080", "a"}
	if diff := cmp.Diff(want, take(r, 7)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := r.next().String(); got != "https://b/base" {
		t.Errorf("url = %q", got)
	}
}

func TestRotationEjection(t *testing.T) {
	t.Parallel()
	r, clock := newTestRotation(t, "https://a", "https://b", "https://c")

	fail(r, "b", 2)
	if diff := cmp.Diff([]string{"a", "b", "c"}, take(r, 3)); diff != "" {
		t.Errorf("two failures eject: (-want +got):\n%s", diff)
	}
	fail(r, "b", 1)
	if diff := cmp.Diff([]string{"a", "c", "c", "a", "c", "c"}, take(r, 6)); diff != "" {
		t.Errorf("after three failures (-want +got):\n%s", diff)
	}

	clock.advance(DefaultEjectFor - time.Nanosecond)
	if diff := cmp.Diff([]string{"a", "c", "c"}, take(r, 3)); diff != "" {
		t.Errorf("before the cool-down ends (-want +got):\n%s", diff)
	}
	clock.advance(time.Nanosecond)
	if diff := cmp.Diff([]string{"a", "b", "c"}, take(r, 3)); diff != "" {
		t.Errorf("after the cool-down (-want +got):\n%s", diff)
	}

	// Back on probation: one more failure ejects it again.
	fail(r, "b", 1)
	if diff := cmp.Diff([]string{"a", "c", "c"}, take(r, 3)); diff != "" {
		t.Errorf("failure after return (-want +got):\n%s", diff)
	}
	// A success puts it back at once and restarts the count.
	r.report(byHost(r, "b"), true)
	fail(r, "b", 2)
	if diff := cmp.Diff([]string{"a", "b", "c"}, take(r, 3)); diff != "" {
		t.Errorf("after a success (-want +got):\n%s", diff)
	}
}

func TestRotationSuccessResetsCount(t *testing.T) {
	t.Parallel()
	r, _ := newTestRotation(t, "https://a", "https://b")
	fail(r, "a", 2)
	r.report(byHost(r, "a"), true)
	fail(r, "a", 2)
	if diff := cmp.Diff([]string{"a", "b", "a", "b"}, take(r, 4)); diff != "" {
		t.Errorf("failures not in a row ejected (-want +got):\n%s", diff)
	}
}

func TestRotationAllEjected(t *testing.T) {
	t.Parallel()
	r, _ := newTestRotation(t, "https://a", "https://b")
	fail(r, "a", 3)
	fail(r, "b", 3)
	if diff := cmp.Diff([]string{"a", "b", "a", "b"}, take(r, 4)); diff != "" {
		t.Errorf("all ejected (-want +got):\n%s", diff)
	}
	single, _ := newTestRotation(t, "https://only")
	fail(single, "only", 10)
	if got := single.next().Host; got != "only" {
		t.Errorf("single url = %q", got)
	}
}

func TestRotationConfig(t *testing.T) {
	t.Parallel()
	r, err := newRotation([]string{"https://a", "https://b"}, 1, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	r.now = clock.now
	r.report(byHost(r, "a"), false)
	if diff := cmp.Diff([]string{"b", "b"}, take(r, 2)); diff != "" {
		t.Errorf("ejectAfter 1 (-want +got):\n%s", diff)
	}
	clock.advance(time.Minute)
	if diff := cmp.Diff([]string{"a", "b"}, take(r, 2)); diff != "" {
		t.Errorf("after ejectFor (-want +got):\n%s", diff)
	}
	// A URL the rotation does not own changes nothing.
	r.report(&url.URL{Host: "a"}, false)
	if diff := cmp.Diff([]string{"a", "b"}, take(r, 2)); diff != "" {
		t.Errorf("foreign report (-want +got):\n%s", diff)
	}

	if _, err := newRotation(nil, 0, 0); err == nil {
		t.Error("no urls: no error")
	}
	if _, err := newRotation([]string{"http://a b"}, 0, 0); err == nil {
		t.Error("bad url: no error")
	}
}

func TestRotationConcurrent(t *testing.T) {
	t.Parallel()
	r, clock := newTestRotation(t, "https://a", "https://b", "https://c")
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 1000 {
				u := r.next()
				r.report(u, (i+j)%4 != 0)
				if j%100 == 0 {
					clock.advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
}
