package adapter

import (
	"os"
	"os/exec"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/lifecycle"
)

// TestAdminRoutingBuildsNoDocument: routing the admin API (every `emfa serve` with
// one, the default) must not build the served OpenAPI document, a decode of its 60 KiB
// into maps and an indented encode, on the start-up's critical path: the query
// parameters, bodies and scopes that routing reads are in the embedded file as they are
// in the served document. Run in a process of its own, as start-up is: the document is
// built once per process.
func TestAdminRoutingBuildsNoDocument(t *testing.T) {
	if os.Getenv("EMFA_REVIEW_ROUTE_ADMIN") == "1" {
		New(Options{Admin: &lifecycle.Manager{}})
		if adminOpenAPIBuilt.Load() {
			os.Exit(3)
		}
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAdminRoutingBuildsNoDocument$", "-test.count=1")
	cmd.Env = append(os.Environ(), "EMFA_REVIEW_ROUTE_ADMIN=1")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 3 {
		t.Fatal("routing the admin API built the served OpenAPI document")
	}
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// TestAdminRoutingReadsFileAsServed: what routing reads from the embedded file is
// what the served document says.
func TestAdminRoutingReadsFileAsServed(t *testing.T) {
	served := adminOpenAPI()
	q1, err := queryParamsOf(adminOpenAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	q2, err := queryParamsOf(served)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(q2, q1, cmp.AllowUnexported(queryParam{})); d != "" {
		t.Errorf("query parameters (-served +file):\n%s", d)
	}
	s1, err := scopesOf(adminOpenAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := scopesOf(served)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(s2, s1); d != "" {
		t.Errorf("scopes (-served +file):\n%s", d)
	}
	if d := cmp.Diff(bodiesOf(served), bodiesOf(adminOpenAPIFile)); d != "" {
		t.Errorf("bodies (-served +file):\n%s", d)
	}
}
