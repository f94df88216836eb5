package config

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// TestReviewS66AdminListenLocalhostOverlaps: Go listens on localhost:PORT at 127.0.0.1
// (the first IPv4 address the name has), so admin.listen localhost:8080 beside
// server.listen 127.0.0.1:8080 could not listen: emfa check said ok and serve failed,
// "address already in use". It is refused as 127.0.0.1:8080 is; beside [::1]:8080 both
// listen, and it is taken.
func TestReviewS66AdminListenLocalhostOverlaps(t *testing.T) {
	// The premise, on this machine.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback:", err)
	}
	defer l.Close()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	if l2, err := net.Listen("tcp", "localhost:"+port); err == nil {
		l2.Close()
		t.Skip("localhost is not 127.0.0.1 here")
	}
	for _, tc := range []struct {
		server, admin string
		refused       bool
	}{
		{"127.0.0.1:8080", "localhost:8080", true},
		{"LocalHost:8080", "127.0.0.1:8080", true},
		{"localhost:8080", "[::ffff:127.0.0.1]:8080", true},
		{"localhost:8080", "[::1]:8080", false},
		{"localhost:8080", "127.0.0.2:8080", false},
		{"localhost:8080", "127.0.0.1:9090", false},
	} {
		y := strings.Replace(minimalYAML, "server:\n", "server:\n  listen: \""+tc.server+"\"\n", 1) + "admin: {listen: \"" + tc.admin + "\"}\n"
		_, err := Parse([]byte(y), "yaml", env(nil))
		got := err != nil && strings.Contains(err.Error(), "admin.listen: ")
		if got != tc.refused {
			t.Errorf("server.listen %s, admin.listen %s: %v, want refused %v", tc.server, tc.admin, err, tc.refused)
		}
	}
}
