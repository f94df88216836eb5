package lifecycle_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// directoryCSV is an export of n users with a pre-provisioned SMS factor each; edition
// changes every display name.
func directoryCSV(n, edition int) []byte {
	var b bytes.Buffer
	b.WriteString("username,email,phone,displayName,groups,factors\n")
	for i := range n {
		fmt.Fprintf(&b, "user%05d,user%05d@example.com,+1555%07d,User %d%s,staff;site-%d,smsotp\n", i, i, i, i, strings.Repeat("'", edition), i%10)
	}
	return b.Bytes()
}

func importOnce(b *testing.B, m *lifecycle.Manager, data []byte) lifecycle.ImportReport {
	b.Helper()
	rows, bad, err := lifecycle.ParseImport(bytes.NewReader(data), lifecycle.FormatCSV)
	if err != nil {
		b.Fatal(err)
	}
	rep, err := m.Import(context.Background(), "bench", rows, bad, lifecycle.ImportOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return rep
}

// BenchmarkImport10k imports 10,000 new users (each iteration into an empty store), the
// same file again, which changes nothing, and files that change every user's display
// name.
func BenchmarkImport10k(b *testing.B) {
	data := directoryCSV(10_000, 0)
	for _, backend := range []struct {
		name string
		open func(testing.TB) store.Store
	}{{"sqlite", testdb.SQLite}, {"postgres", testdb.Postgres}} {
		b.Run(backend.name+"/new", func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				m, _ := newManager(b, backend.open(b))
				b.StartTimer()
				if rep := importOnce(b, m, data); rep.Created != 10_000 {
					b.Fatalf("created %d", rep.Created)
				}
			}
		})
		b.Run(backend.name+"/unchanged", func(b *testing.B) {
			m, _ := newManager(b, backend.open(b))
			importOnce(b, m, data)
			for b.Loop() {
				if rep := importOnce(b, m, data); rep.Unchanged != 10_000 {
					b.Fatalf("unchanged %d", rep.Unchanged)
				}
			}
		})
		b.Run(backend.name+"/changed", func(b *testing.B) {
			m, _ := newManager(b, backend.open(b))
			importOnce(b, m, data)
			edition := 0
			for b.Loop() {
				edition = 1 + edition%2
				if rep := importOnce(b, m, directoryCSV(10_000, edition)); rep.Updated != 10_000 {
					b.Fatalf("updated %d", rep.Updated)
				}
			}
		})
	}
}
