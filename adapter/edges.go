package adapter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
)

// MaxHeaderBytes is the header limit emfa serves with (http.Server.MaxHeaderBytes; Go
// allows 4 KiB more before answering 431). Verify's headers — Basic or a bearer token,
// X-Webhook-ID, a request id — are far below it.
const MaxHeaderBytes = 32 << 10

// refuseOptions answers OPTIONS like any other method a route does not take: 405 JSON.
// echo would answer 204 with an Allow header, without authentication; emfa configures no
// CORS, so a preflight has nothing to allow. Another wrong method's 405 lists the route's
// methods without OPTIONS too: echo's Allow names it.
func (s *Server) refuseOptions(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method != http.MethodOptions {
			err := next(c)
			if err == nil {
				return nil // he below escapes: an allocation on every call that answered
			}
			var he *echo.HTTPError
			if errors.As(err, &he) && he.Code == http.StatusMethodNotAllowed {
				if allow, routed := allowed(c); routed {
					c.Response().Header().Set(echo.HeaderAllow, allow)
				}
			}
			return err
		}
		allow, routed := allowed(c)
		if !routed {
			return next(c) // no such route: 404, as for any method
		}
		c.Response().Header().Set(echo.HeaderAllow, allow)
		return &Error{Status: http.StatusMethodNotAllowed, ID: idFor(http.StatusMethodNotAllowed), Msg: http.StatusText(http.StatusMethodNotAllowed)}
	}
}

// allowed is the Allow header of the route the request's path matched (false: none),
// without OPTIONS, which emfa refuses (refuseOptions); echo lists it on every route.
func allowed(c echo.Context) (string, bool) {
	allow, routed := c.Get(echo.ContextKeyHeaderAllow).(string)
	if !routed {
		return "", false
	}
	var methods []string
	for m := range strings.SplitSeq(allow, ",") {
		if m = strings.TrimSpace(m); m != "" && m != http.MethodOptions {
			methods = append(methods, m)
		}
	}
	return strings.Join(methods, ", "), true
}

// JSONErrors wraps a listener so that the answers net/http writes itself, before any
// handler runs, are JSON like every other emfa error: 431 for headers over
// MaxHeaderBytes, 400 for a request it cannot parse, 501 for an unknown transfer
// encoding. net/http writes each of them as one plain-text write on the connection (see
// net/http's conn.serve), which is what the wrapped connection recognises and replaces;
// everything else passes through unchanged.
func JSONErrors(ln net.Listener) net.Listener { return jsonErrorListener{ln} }

type jsonErrorListener struct{ net.Listener }

func (l jsonErrorListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrorConn{Conn: c}, nil
}

type jsonErrorConn struct{ net.Conn }

// NetConn is the wrapped connection, for the hooks that look through wrappers (the idle
// parking's ConnState, internal/connpark).
func (c *jsonErrorConn) NetConn() net.Conn { return c.Conn }

// plainErrorHeaders is what net/http puts between the status line and the text of the
// errors it answers itself. A handler's answer always carries a Date header as well.
const plainErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *jsonErrorConn) Write(p []byte) (int, error) {
	if out, ok := jsonForPlainError(p); ok {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// CloseWrite keeps net/http's half-close after a 431 (the client reads the answer rather
// than a reset).
func (c *jsonErrorConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// jsonForPlainError rewrites one of net/http's own plain-text error answers as JSON.
func jsonForPlainError(p []byte) ([]byte, bool) {
	rest, ok := bytes.CutPrefix(p, []byte("HTTP/1.1 "))
	if !ok {
		return nil, false
	}
	eol := bytes.IndexByte(rest, '\r')
	if eol < 3 || !bytes.HasPrefix(rest[eol:], []byte(plainErrorHeaders)) {
		return nil, false
	}
	status, text := string(rest[:eol]), string(rest[eol+len(plainErrorHeaders):])
	code, err := strconv.Atoi(status[:3])
	if err != nil || code < 400 || code > 599 {
		return nil, false
	}
	msg := strings.TrimSpace(strings.TrimPrefix(text, status[:3]))
	if msg == "" {
		msg = http.StatusText(code)
	}
	id := idFor(code)
	if code == http.StatusRequestHeaderFieldsTooLarge {
		id = "header_too_large"
		msg = fmt.Sprintf("request headers exceed %d bytes", MaxHeaderBytes)
	}
	body, _ := json.Marshal(errorBody{MessageID: id, MessageDescription: msg})
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		code, http.StatusText(code), len(body), body), true
}
