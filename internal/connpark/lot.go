package connpark

import (
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// lot keeps the parked connections. Each waits for its client on a goroutine of its
// own, parked in Go's network poller on a read that takes nothing (peek): a goroutine so
// shallow that it keeps the runtime's smallest stack, 2 KiB, where net/http's waiting
// goroutine keeps 8 KiB and two 4 KiB buffers. Its client's next request wakes it as any
// read would, and it gives the connection back to Accept.
type lot struct {
	l    *Listener
	back chan net.Conn

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func newLot(l *Listener) (*lot, error) {
	if !canPeek {
		return nil, errors.New("connpark: cannot peek at a socket here")
	}
	return &lot{l: l, back: make(chan net.Conn), conns: map[net.Conn]struct{}{}}, nil
}

// park waits for c's client on a new goroutine until it writes or hangs up, or idle
// (net/http's idle timeout; zero: none) passes; false when it cannot (the listener is
// closed, or c is not a socket), and c stays the caller's. A TLS connection waits on its
// socket, and is kept whole.
func (t *lot) park(c net.Conn, idle time.Time) bool {
	raw := c
	if tc, ok := c.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	sc, ok := raw.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil || c.SetReadDeadline(idle) != nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.conns[c] = struct{}{}
	go t.wait(c, rc)
	return true
}

func (t *lot) wait(c net.Conn, rc syscall.RawConn) {
	var sent bool // the client sent something (false: it hung up)
	err := rc.Read(func(fd uintptr) bool {
		n, err := peek(fd)
		for errors.Is(err, syscall.EINTR) {
			n, err = peek(fd)
		}
		if errors.Is(err, syscall.EAGAIN) {
			return false // nothing yet: wait in Go's network poller
		}
		sent = err == nil && n > 0
		return true
	})
	if !t.remove(c) {
		return // the listener closed it
	}
	if err != nil || !sent {
		c.Close() // the idle timeout (os.ErrDeadlineExceeded), a hang-up, or a failed socket
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	select {
	case t.back <- c:
	case <-t.l.done:
		c.Close()
	}
}

// remove forgets c; false when the listener's close took it first.
func (t *lot) remove(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.conns[c]; !ok {
		return false
	}
	delete(t.conns, c)
	return true
}

// close stops parking and closes the parked connections, which ends their goroutines.
func (t *lot) close() {
	t.mu.Lock()
	conns := t.conns
	t.conns, t.closed = map[net.Conn]struct{}{}, true
	t.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

// parkedCount is how many connections are parked.
func (t *lot) parkedCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}
