package delivery

import (
	"errors"
	"net"
	"strconv"
	"syscall"
	"testing"
)

// TestClosedPortReserved: the port closedPort gives stays refused for the
// whole test: no listener, this process's or another's, can take it between its
// choosing and the dial of the "connection refused" cases (a listener on :0 in a
// parallel test, or in another package's test binary under go test ./..., would get a
// connection where the test wants ECONNREFUSED).
func TestClosedPortReserved(t *testing.T) {
	port := closedPort(t)
	if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
		l.Close()
		t.Fatalf("port %d: another listener took it after closedPort chose it", port)
	}
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err == nil {
		c.Close()
		t.Fatalf("port %d: a dial connected", port)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("port %d: dial: %v, want ECONNREFUSED", port, err)
	}
}
