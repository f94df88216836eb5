package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/emfa/emfa/adapter"
)

// adminBench serves the admin API as serve wires it, on a SQLite file, with a write token.
func adminBench(b *testing.B) (base, token string) {
	b.Helper()
	path := writeTestConfig(b, "", "providers:\n  - {name: b, credentialPrefix: emfa, capabilities: [totp], engine: builtin}\n")
	ctx := context.Background()
	e := openTestEnv(b, path)
	b.Cleanup(func() { e.Close() })
	providers, err := e.providers()
	if err != nil {
		b.Fatal(err)
	}
	m, err := e.wireAdmin(providers, nil)
	if err != nil {
		b.Fatal(err)
	}
	if token, err = m.CreateToken(ctx, "bench", "bench", "write"); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(adapter.New(adapter.Options{Providers: providers, Admin: m, Log: e.log}).Handler())
	b.Cleanup(srv.Close)
	return srv.URL + "/admin/v1", token
}

func post(b *testing.B, url, token, body string, want int) {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("POST %s: %d %s", url, resp.StatusCode, data)
	}
}

// BenchmarkAdminCreateUser: POST /admin/v1/users, one new user per iteration.
func BenchmarkAdminCreateUser(b *testing.B) {
	base, token := adminBench(b)
	i := 0
	for b.Loop() {
		post(b, base+"/users", token, fmt.Sprintf(`{"name":"user%07d","email":"u%d@example.com","groups":["staff"]}`, i, i), 201)
		i++
	}
}

// BenchmarkAdminEnrollTOTP: POST /admin/v1/users/{u}/factors, a TOTP seed (with its QR
// code) per iteration, on users of 10 factors each.
func BenchmarkAdminEnrollTOTP(b *testing.B) {
	base, token := adminBench(b)
	i := 0
	for b.Loop() {
		if i%10 == 0 {
			b.StopTimer()
			post(b, base+"/users", token, fmt.Sprintf(`{"name":"user%07d"}`, i/10), 201)
			b.StartTimer()
		}
		post(b, fmt.Sprintf("%s/users/user%07d/factors", base, i/10), token, `{"type":"totp"}`, 201)
		i++
	}
}

// BenchmarkAdminImport10k: POST /admin/v1/import of 10,000 users into an empty store.
func BenchmarkAdminImport10k(b *testing.B) {
	var csv bytes.Buffer
	csv.WriteString("username,email,phone,displayName,groups,factors\n")
	for i := range 10_000 {
		fmt.Fprintf(&csv, "user%05d,user%05d@example.com,+1555%07d,User %d,staff,smsotp\n", i, i, i, i)
	}
	for b.Loop() {
		b.StopTimer()
		base, token := adminBench(b)
		b.StartTimer()
		req, _ := http.NewRequest(http.MethodPost, base+"/import?format=csv", bytes.NewReader(csv.Bytes()))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(data, []byte(`"created":10000`)) {
			b.Fatalf("import: %d %.300s", resp.StatusCode, data)
		}
	}
}
