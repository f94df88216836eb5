package duoadminfake

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/duosign"
)

// do signs and sends one call the way DUO's clients do.
func do(t *testing.T, s *Server, skey, method, path string, params url.Values) int {
	t.Helper()
	date := time.Now().Format(time.RFC1123Z)
	u, _ := url.Parse(s.URL())
	mac := hmac.New(sha1.New, []byte(skey))
	mac.Write([]byte(duosign.Canonical(date, method, u.Host, path, params)))
	target := s.URL() + path
	var body *strings.Reader
	if method == http.MethodPost {
		body = strings.NewReader(params.Encode())
	} else {
		body = strings.NewReader("")
		if len(params) > 0 {
			target += "?" + params.Encode()
		}
	}
	req, _ := http.NewRequest(method, target, body)
	req.Header.Set("Date", date)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("IKEY:"+hex.EncodeToString(mac.Sum(nil)))))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestSignedCallsChangeState(t *testing.T) {
	s := New(t, Options{IntegrationKey: "IKEY", SecretKey: "SKEY"})
	if got := do(t, s, "SKEY", "POST", "/admin/v1/users", url.Values{"username": {"ann lee"}, "email": {"a@x"}}); got != 200 {
		t.Fatalf("create = %d", got)
	}
	u, ok := s.User("ann lee")
	if !ok || u.Email != "a@x" || u.Status != "active" {
		t.Fatalf("user = %+v, %v", u, ok)
	}
	if got := do(t, s, "SKEY", "POST", "/admin/v1/users/"+u.UserID, url.Values{"status": {"disabled"}}); got != 200 {
		t.Fatalf("disable = %d", got)
	}
	if u, _ := s.User("ann lee"); u.Status != "disabled" {
		t.Fatalf("status = %q", u.Status)
	}
	if got := do(t, s, "SKEY", "DELETE", "/admin/v1/users/"+u.UserID, nil); got != 200 {
		t.Fatalf("delete = %d", got)
	}
	if _, ok := s.User("ann lee"); ok {
		t.Fatal("user survived delete")
	}
	if got := do(t, s, "SKEY", "GET", "/admin/v1/users/DUNOSUCHUSER", nil); got != 404 {
		t.Fatalf("unknown user = %d, want 404", got)
	}
}

func TestRefusesBadSignatures(t *testing.T) {
	s := New(t, Options{IntegrationKey: "IKEY", SecretKey: "SKEY"})
	if got := do(t, s, "WRONG", "POST", "/admin/v1/users", url.Values{"username": {"bob"}}); got != 401 {
		t.Fatalf("wrong key = %d, want 401", got)
	}
	if _, ok := s.User("bob"); ok {
		t.Fatal("an unsigned call changed state")
	}
	s.opts.Clock = func() time.Time { return time.Now().Add(time.Hour) }
	if got := do(t, s, "SKEY", "GET", "/admin/v1/users", nil); got != 401 {
		t.Fatalf("stale date = %d, want 401", got)
	}
}
