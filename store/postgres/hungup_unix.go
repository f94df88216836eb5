//go:build unix

package postgres

import "syscall"

// peek reads nothing: how many bytes wait on the socket (at most one), 0 when the server
// hung up, syscall.EAGAIN when none arrived.
func peek(fd uintptr) (int, error) {
	var b [1]byte
	n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n, err
}
