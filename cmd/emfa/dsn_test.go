package main

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// A storage.dsn whose PostgreSQL cannot be reached (a wrong port, a server not started)
// answered `storage (postgres): postgres: open: failed to connect to …: connection
// refused`: neither the key nor where it was set, so the operator looked for the mistake
// in the database rather than in the file. The refusal now names the file's line of
// storage.dsn (or the variable that set it), then PostgreSQL's reason.
func TestUnreachablePostgresNamesTheDSN(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a port nothing listens on
	dsn := fmt.Sprintf("postgres://emfa:pw-not-shown@%s/emfa?sslmode=disable&connect_timeout=5", addr)
	path := writeConfig(t, fmt.Sprintf("driver: postgres\n  dsn: %q", dsn))
	code, _, errOut := emfa(t, "users", "list", "--config", path)
	if code != 1 {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	for _, want := range []string{path + ":8: storage.dsn: cannot connect to PostgreSQL", addr, "refused"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "pw-not-shown") {
		t.Errorf("the refusal shows the DSN's password:\n%s", errOut)
	}
	t.Setenv("EMFA_STORAGE_DSN", dsn)
	_, _, errOut = emfa(t, "users", "list", "--config", path)
	if !strings.Contains(errOut, "EMFA_STORAGE_DSN: storage.dsn: cannot connect to PostgreSQL") {
		t.Errorf("set by EMFA_STORAGE_DSN, the refusal does not name it:\n%s", errOut)
	}
}
