package config

import "testing"

// TestAdminListenLocalhostOverlaps: Go listens on localhost:PORT at 127.0.0.1
// (the first IPv4 address the name has), so admin.listen localhost:8080 beside
// server.listen 127.0.0.1:8080 could not listen: emfa check said ok and serve failed,
// "address already in use". It is refused as 127.0.0.1:8080 is; beside [::1]:8080 both
// listen, and it is taken.
func TestAdminListenLocalhostOverlaps(t *testing.T) {
	listenCases(t, "localhost", []listenCase{
		{"127.0.0.1:8080", "localhost:8080", true},
		{"LocalHost:8080", "127.0.0.1:8080", true},
		{"localhost:8080", "[::ffff:127.0.0.1]:8080", true},
		{"localhost:8080", "[::1]:8080", false},
		{"localhost:8080", "127.0.0.2:8080", false},
		{"localhost:8080", "127.0.0.1:9090", false},
	})
}
