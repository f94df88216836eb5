package delivery

import (
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// testCert is a self-signed certificate for 127.0.0.1 and localhost, and a pool trusting it.
// silentServer accepts connections and never says a word: a relay that hangs. closed
// receives once for every connection the client has closed.
func silentServer(tb testing.TB) (host string, port int, closed <-chan struct{}) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ch := make(chan struct{}, 16)
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				// Reads until the client closes its end (or the test closes ours).
				io.Copy(io.Discard, c)
				ch <- struct{}{}
			}()
		}
	}()
	tb.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	h, p, _ := net.SplitHostPort(l.Addr().String())
	port, _ = strconv.Atoi(p)
	return h, port, ch
}

// closedPort is a loopback port nothing listens on, for the test's whole length: a
// socket bound to it without listening, closed when the test ends, so that a dial is
// refused (RST) and no listener on :0 (a parallel test's, another test binary's) can be
// given it meanwhile. A port merely listened on and closed again was free for any of
// them between its choosing and the dial.
func closedPort(tb testing.TB) int {
	tb.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { syscall.Close(fd) })
	// Not SO_REUSEADDR: with it on both sockets, Linux lets another bind the port.
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		tb.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		tb.Fatal(err)
	}
	return sa.(*syscall.SockaddrInet4).Port
}
