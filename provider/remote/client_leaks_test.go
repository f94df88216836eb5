package remote

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testwait"
)

// countedConns counts the connections a client's transport dialed and has not closed.
type countedConns struct{ open atomic.Int64 }

type countedConn struct {
	net.Conn
	n    *countedConns
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.n.open.Add(-1) })
	return c.Conn.Close()
}

// countingClient is the vendor client of a webhook whose transport's connections are
// counted.
func countingClient(t *testing.T, w *Webhook) (*client, *countedConns) {
	t.Helper()
	c, err := newClient(w, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := &countedConns{}
	dial := c.transport.DialContext
	c.transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		n.open.Add(1)
		return &countedConn{Conn: conn, n: n}, nil
	}
	t.Cleanup(c.Close)
	return c, n
}

// TestVendorCallErrorsLeaveNoConnection: every way a vendor call fails once an
// answer came (a 3xx whose Location does not parse, for a POST with a body and without; a
// body announced or found larger than the limit; a gzip body that is not gzip; a body
// cut short; the context ending while the body is read) hands its connection back to the
// transport, to the idle pool or closed: after Close, none is left open. A body left
// unclosed would keep its connection in use, out of Close's reach, for good.
func TestVendorCallErrorsLeaveNoConnection(t *testing.T) {
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/badloc", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Location"] = []string{"http://[::1"}
		w.WriteHeader(http.StatusFound)
		w.Write([]byte("moved, and a body to read"))
	})
	mux.HandleFunc("/badloc307", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Location"] = []string{"http://[::1"}
		w.WriteHeader(http.StatusTemporaryRedirect)
		w.Write([]byte(strings.Repeat("x", 64<<10)))
	})
	mux.HandleFunc("/announced", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		w.Write(make([]byte, 100000))
	})
	mux.HandleFunc("/streamed", func(w http.ResponseWriter, r *http.Request) {
		for range 100 {
			w.Write(make([]byte, 1000))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/notgzip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Write([]byte(strings.Repeat("not gzip at all ", 4096)))
	})
	mux.HandleFunc("/gzipbomb", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write(make([]byte, 1<<20))
		zw.Close()
	})
	mux.HandleFunc("/short", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte("only this"))
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"partial":`))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(release)
	c, n := countingClient(t, &Webhook{Timeout: Duration(time.Minute), MaxResponseBytes: 50000})
	// A deadline within the client's timeout, as the engine's calls have (send): do then
	// makes no context of its own, whose end would have the transport drop a connection
	// whose body was left unclosed, and the calls' context is cancelled only at the end.
	callCtx, endCalls := context.WithTimeout(context.Background(), 50*time.Second)
	defer endCalls()

	for _, tc := range []struct {
		path, body string
		want       string
	}{
		{"/badloc", "", "failed to parse Location header"},
		{"/badloc", "a=1", "failed to parse Location header"},
		{"/badloc307", "a=1", "failed to parse Location header"},
		{"/announced", "a=1", "too large"},
		{"/streamed", "a=1", "too large"},
		{"/notgzip", "", "gzip"},
		{"/gzipbomb", "", "too large"},
		{"/short", "", "unexpected EOF"},
	} {
		for range 3 {
			target, _ := url.Parse(srv.URL + tc.path)
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			req, err := vendorRequest(callCtx, http.MethodPost, target, body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := c.do(callCtx, req)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: %v %v, want an error saying %q", tc.path, resp, err, tc.want)
			}
		}
	}
	// The context ends while the body is read.
	ctx, cancel := context.WithCancel(callCtx)
	target, _ := url.Parse(srv.URL + "/slow")
	req, _ := vendorRequest(ctx, http.MethodGet, target, nil)
	done := make(chan error, 1)
	go func() {
		_, err := c.do(ctx, req)
		done <- err
	}()
	// Dialed; cancel may land before or after the headers.
	testwait.Until(t, "the /slow call to dial the vendor", time.Millisecond, func() bool { return n.open.Load() != 0 })
	cancel()
	if err := testwait.Recv(t, "the cancelled /slow call to end", done); !errors.Is(err, context.Canceled) {
		t.Errorf("/slow cancelled: %v, want context.Canceled", err)
	}

	c.Close()
	for end := time.Now().Add(10 * time.Second); n.open.Load() > 0 && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond) // a body closed unread closes its connection from the transport's read loop
		c.Close()
	}
	if got := n.open.Load(); got != 0 {
		t.Errorf("%d connections still open after every failed call and Close: a body was left unclosed", got)
	}
}

// TestBasicAuthCopiesRequest: userinfo sent as Basic credentials leaves the
// caller's request, header map and body as they were, and the body is sent whole (the
// copy shares it, GetBody included).
func TestBasicAuthCopiesRequest(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		got <- r.Header.Get("Authorization") + " " + b.String()
	}))
	defer srv.Close()
	c, _ := countingClient(t, &Webhook{Timeout: Duration(5 * time.Second)})
	target, _ := url.Parse(srv.URL + "/x")
	target.User = url.UserPassword("u", "")
	req, _ := vendorRequest(context.Background(), http.MethodPost, target, []byte("a=1"))
	req.Header = http.Header{"X-A": {"1"}}
	if _, err := c.do(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != "Basic dTo= a=1" {
		t.Errorf("server saw %q, want Basic dTo= a=1", g)
	}
	if len(req.Header) != 1 || req.Header.Get("Authorization") != "" {
		t.Errorf("the caller's header map was written: %v", req.Header)
	}
}
