package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/emfa/emfa/internal/localcert"
)

// Child processes: every server runs in a process of its own so that its CPU time and
// memory can be read from /proc, apart from the load generator's.

type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// startProc starts cmd with its output in logPath. The child is killed if the harness dies
// (Pdeathsig), and stop kills it on a normal exit or Ctrl-C.
func startProc(name string, cmd *exec.Cmd, logPath string) (*proc, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	if cmd.Stdout == nil {
		cmd.Stdout = f
	}
	cmd.Stderr = f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop asks the process to end (SIGTERM), then kills it after grace.
func (p *proc) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tail is the end of the process's log, for error messages.
func (p *proc) tail() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return ""
	}
	s := string(b)
	if len(s) > 2000 {
		s = "…" + s[len(s)-2000:]
	}
	return s
}

// startChild re-executes this program in a role (stub or bare) and returns the address it
// listens on, which it prints on its first line.
func startChild(ctx context.Context, role string, args, kv []string, logPath string) (*proc, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(append(os.Environ(), roleEnv+"="+role), kv...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	p, err := startProc(role, cmd, logPath)
	if err != nil {
		return nil, "", err
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			addr <- strings.TrimPrefix(sc.Text(), "listening ")
		}
		close(addr)
		for sc.Scan() {
		}
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			<-p.done
			return nil, "", fmt.Errorf("%s ended before listening: %v\n%s", role, p.err, p.tail())
		}
		return p, a, nil
	case <-time.After(10 * time.Second):
		p.stop(time.Second)
		return nil, "", fmt.Errorf("%s did not listen within 10s\n%s", role, p.tail())
	case <-ctx.Done():
		p.stop(time.Second)
		return nil, "", ctx.Err()
	}
}

// freePort finds a loopback port nobody listens on (emfa takes its address from its
// configuration and does not report an ephemeral one unless it logs at info).
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitReady polls /readyz every 2 ms and returns the time from the process's start to
// the first 200: when an orchestrator would send it traffic, its store opened, migrated
// and answering. (serve listens only once its store is open, so /healthz, which answers
// while the process runs, was 200 at about the same moment; /readyz says it.)
func waitReady(ctx context.Context, p *proc, base string, started time.Time, t *tls.Config) (time.Duration, error) {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: t}}
	deadline := time.After(60 * time.Second)
	for {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(started), nil
			}
		}
		select {
		case <-p.done:
			return 0, fmt.Errorf("%s exited: %v\n%s", p.name, p.err, p.tail())
		case <-deadline:
			return 0, fmt.Errorf("%s: /readyz not 200 within 60s\n%s", p.name, p.tail())
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// rssKiB is VmRSS from /proc/<pid>/status.
func rssKiB(pid int) (int, error) { return statusKiB(pid, "VmRSS") }

// statusKiB is a field of /proc/<pid>/status given in kB (VmRSS, RssFile...).
func statusKiB(pid int, field string) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return 0, errors.New("no " + field + " in /proc/" + strconv.Itoa(pid) + "/status")
}

// idleConns opens n keep-alive connections to addr, each carrying one request (made by
// request, in HTTP/1.1 wire form) whose 200 answer is read, and leaves them open and idle.
// close releases them.
func idleConns(addr string, n int, t *tls.Config, request func() string) (close func(), err error) {
	conns := make([]net.Conn, 0, n)
	closeAll := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	for range n {
		var c net.Conn
		if t != nil {
			c, err = tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, t)
		} else {
			c, err = net.DialTimeout("tcp", addr, 5*time.Second)
		}
		if err != nil {
			closeAll()
			return nil, err
		}
		conns = append(conns, c)
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		req := request()
		if _, err := io.WriteString(c, req); err != nil {
			closeAll()
			return nil, err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			closeAll()
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Close {
			closeAll()
			return nil, fmt.Errorf("%s: HTTP %d, close %v", strings.SplitN(req, " HTTP/", 2)[0], resp.StatusCode, resp.Close)
		}
		_ = c.SetDeadline(time.Time{})
	}
	return closeAll, nil
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key into dir, and is the
// client configuration that trusts it.
func selfSignedCert(dir string) (certFile, keyFile string, client *tls.Config, err error) {
	c, pool, err := localcert.New("emfa bench")
	if err != nil {
		return "", "", nil, err
	}
	if certFile, keyFile, err = localcert.Write(c, dir, "bench-tls"); err != nil {
		return "", "", nil, err
	}
	return certFile, keyFile, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}, nil
}
