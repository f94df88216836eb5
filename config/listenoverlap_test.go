package config

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

// TestAdminListenOverlapsServer: admin.listen on server.listen's port at an
// address that overlaps it (either on every address, or the same address written
// otherwise) is refused at load, as the same text was: emfa check said ok, and serve
// failed to bind the second listener ("address already in use"), as if another process
// held the port.
func TestAdminListenOverlapsServer(t *testing.T) {
	// The premise, on this machine: a port held on one address cannot be bound on every address.
	listenCases(t, "0.0.0.0", []listenCase{
		{"0.0.0.0:8080", "127.0.0.1:8080", true},
		{"127.0.0.1:8080", ":8080", true},
		{"[::]:8080", "10.0.0.5:8080", true},
		{"127.0.0.1:8080", "127.000.000.001:8080", false}, // not an IP as Go reads it: another check's
		{"LOCALHOST:8080", "localhost:8080", true},
		{"[::1]:8080", "[0:0:0:0:0:0:0:1]:8080", true},
		{"127.0.0.1:8080", "127.0.0.2:8080", false},
		{"0.0.0.0:8080", "127.0.0.1:9090", false},
		{"0.0.0.0:0", "127.0.0.1:0", false}, // each its own free port
	})
}

// listenCase is a server.listen and an admin.listen, and whether load refuses the pair.
type listenCase struct {
	server, admin string
	refused       bool
}

// listenCases checks each case's refusal, once the premise holds on this machine: a port
// held at 127.0.0.1 cannot be bound again at host.
func listenCases(t *testing.T, host string, cases []listenCase) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback:", err)
	}
	defer l.Close()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	if l2, err := net.Listen("tcp", net.JoinHostPort(host, port)); err == nil {
		l2.Close()
		t.Skipf("this machine binds 127.0.0.1 and %s on one port", host)
	}
	for _, tc := range cases {
		y := strings.Replace(minimalYAML, "server:\n", "server:\n  listen: \""+tc.server+"\"\n", 1) + "admin: {listen: \"" + tc.admin + "\"}\n"
		_, err := Parse([]byte(y), "yaml", env(nil))
		got := err != nil && strings.Contains(err.Error(), "admin.listen: ")
		if got != tc.refused {
			t.Errorf("server.listen %s, admin.listen %s: %v, want refused %v", tc.server, tc.admin, err, tc.refused)
		}
	}
}
