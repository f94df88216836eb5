package delivery

import (
	"bytes"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// floodServer greets every connection with a reply line that does not end: "220 " and
// then size bytes of 'x', before it waits for the client to close. It reports how much of
// the flood it could write.
func floodServer(tb testing.TB, size int) (host string, port int, written *atomic.Int64) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	written = new(atomic.Int64)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				chunk := bytes.Repeat([]byte("x"), 32<<10)
				copy(chunk, "220 ")
				for sent := 0; sent < size; sent += len(chunk) {
					n, err := c.Write(chunk)
					written.Add(int64(n))
					if err != nil {
						return
					}
					copy(chunk, "xxxx")
				}
				c.Read(make([]byte, 1)) // until the client closes
			}()
		}
	}()
	a := l.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port, written
}

// TestSMTPRepliesBounded: what a relay — or whoever sits on the path before
// STARTTLS — says is read within a bound, as a gateway's HTTP answer is. A greeting that
// never ends was buffered whole by the SMTP client until the timeout, however large; the
// send now fails once the replies pass the bound, saying so.
func TestSMTPRepliesBounded(t *testing.T) {
	t.Parallel()
	host, port, _ := floodServer(t, 16<<20)
	s := newTestSMTP(t, SMTPOptions{Host: host, Port: port, TLS: TLSStartTLS, From: "otp@example.com", Timeout: 10 * time.Second})
	err := s.Send(t.Context(), Message{To: "alice@example.com", Subject: "Your code", Text: "Your code is 123456", Code: "123456"})
	if err == nil {
		t.Fatal("sent")
	}
	if !errors.Is(err, errRepliesTooLong) {
		t.Errorf("error %v, want the replies' bound", err)
	}
	checkErrorHygiene(t, err, "smtp: ", "123456")
}
