package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A second SIGTERM (or Ctrl-C) while serve drains its connections stops it at once, as
// an operator who presses Ctrl-C again expects: before, it was ignored, and serve waited
// out every slow connection up to server.shutdownTimeout. Nothing answered is lost by
// it: no call is answered before its writes are durable.
func TestSecondSignalStopsServeAtOnce(t *testing.T) {
	cfg := writeConfig(t, "")
	cmd := selfCommand(t, "serve", "--config", cfg)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	await := func(re *regexp.Regexp) []string {
		t.Helper()
		timeout := time.After(60 * time.Second)
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("serve ended before logging %s", re)
				}
				if m := re.FindStringSubmatch(line); m != nil {
					return m
				}
			case <-timeout:
				t.Fatalf("serve never logged %s", re)
			}
		}
	}
	addr := await(regexp.MustCompile(`"msg":"emfa serving","addr":"([^"]+)"`))[1]
	// A call whose body has not all arrived holds its connection until the read times out
	// (requestTimeout + 5 s): a graceful shutdown waits for it.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Expect: 100-continue has the server say when its handler starts reading the body:
	// from then on the call is in flight.
	fmt.Fprintf(conn, "POST /v1/providers/emfa/validate HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic dmVyaWZ5OnNpbS1wYXNzd29yZC0wMTIz\r\n"+
		"Content-Type: application/json\r\nContent-Length: 200\r\nExpect: 100-continue\r\n\r\n", addr)
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, " 100 ") {
		t.Fatalf("the call was not taken: %q %v", status, err)
	}
	fmt.Fprint(conn, `{"username"`)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	await(regexp.MustCompile(`"msg":"shutting down"`))
	// Again, until serve ends: the first signal's handling and the log line above are
	// not ordered, so a second signal sent at once may still be the first's.
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for err = nil; ; {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err = <-done:
		case <-tick.C:
			continue
		}
		break
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !strings.Contains(exit.String(), "terminated") {
		t.Fatalf("serve after a second SIGTERM: %v, want it ended by the signal (graceful shutdown ignored it)", err)
	}
}
