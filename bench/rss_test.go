package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// "Right after the load" is the RSS the DUO emfa had as its own last row ended, read then,
// not after every later row (the stub's, the TOTP ones) had run: by then emfa had been idle
// for a minute and returned its memory, and "after the load" equalled "at rest".
func TestRSSRightAfterTheLoad(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	me := func() int { return os.Getpid() }
	s := &scenario{name: "enrollments · emfa (duo.yaml)", pid: me, check: func(int, []byte) error { return nil },
		build: func(ctx context.Context, _ int) (*http.Request, func(), error) {
			req, err := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
			return req, nil, err
		}}
	m, err := s.run(t.Context(), 1, 0, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if m.rss <= 0 {
		t.Fatalf("the server's RSS as the row ended was not read: %d", m.rss)
	}

	other := func() int { return 1 }
	enr, ini := &scenario{name: "enrollments · emfa (duo.yaml)", pid: me}, &scenario{name: "initiate push · emfa (duo.yaml)", pid: me}
	stub, totp := &scenario{name: "auth async push · DUO stub direct", pid: other}, &scenario{name: "TOTP validate · emfa SQLite", pid: other}
	scenarios := []*scenario{enr, ini, stub, totp}
	results := map[*scenario][]measurement{
		enr: {{rss: 10}, {rss: 20}}, ini: {{rss: 11}, {rss: 21}}, stub: {{rss: 99}, {rss: 98}}, totp: {{rss: 97}, {rss: 96}},
	}
	if kib, row := lastRSS(scenarios, results, os.Getpid()); kib != 21 || row != ini.name {
		t.Errorf("right after the load: %d KiB after %q, want 21 KiB after the last round's initiate row", kib, row)
	}
	if kib, _ := lastRSS([]*scenario{stub, totp}, results, os.Getpid()); kib != 0 {
		t.Errorf("no row of the server ran, yet %d KiB after its load", kib)
	}

	var out bytes.Buffer
	report(options{out: &out, rounds: 1}, machine{}, nil, nil, nil, memReport{loaded: 2048, loadedAfter: ini.name, before: 1024, quietFor: 3 * time.Second}, nil, nil)
	if !strings.Contains(out.String(), "as its last row (initiate push · emfa (duo.yaml)) ended 2.0 MiB") {
		t.Errorf("the report does not say when the loaded RSS was read:\n%s", out.String())
	}
	out.Reset()
	report(options{out: &out, rounds: 1}, machine{}, nil, nil, nil, memReport{before: 1024, quietFor: 3 * time.Second}, nil, nil)
	if !strings.Contains(out.String(), "under load not measured (no row of it ran)") {
		t.Errorf("the report gives an RSS after a load that did not run:\n%s", out.String())
	}
}
