package lifecycle_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store/sqlite"
)

// TestUnsealedSignInRecordStartsAgain: a replica of an emfa from before the
// sign-in form's once-record was sealed (3b0a881) keeps the sign-in's cookie as it is.
// In a rolling upgrade the same form posted again on a new replica (a double click the
// load balancer sends to both) found a record it cannot open and failed ("Something went
// wrong"), and so did every post of that form until the record's end (onceTTL: half a
// minute past the request's deadline, minutes). A record this replica cannot open starts
// the sign-in again, as a form without a record does.
func TestUnsealedSignInRecordStartsAgain(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "emfa.db")
	st, err := sqlite.Open(ctx, "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m, _ := newManager(t, st)
	addAlice(t, m)
	ss := selfService(t, m, "totp", "push")

	form, err := ss.NewSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	starts := 0
	start := func(ctx context.Context) (string, error) {
		starts++
		sess := form
		if err := ss.StartSignIn(ctx, &sess, "alice", lifecycle.MethodPush); err != nil {
			return "", err
		}
		return sess.Cookie, nil
	}
	cookie, _, err := ss.StartSignInOnce(ctx, form.Cookie, "alice", lifecycle.MethodPush, start)
	if err != nil {
		t.Fatal(err)
	}
	// The record as an older replica wrote it: the cookie itself.
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.ExecContext(ctx, `UPDATE idempotency SET body = ? WHERE provider LIKE 'selfservice:%'`, []byte(cookie))
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("rewrote %d records, %v; want 1", n, err)
	}
	again, replayed, err := ss.StartSignInOnce(ctx, form.Cookie, "alice", lifecycle.MethodPush, start)
	if err != nil || replayed || starts != 2 {
		t.Fatalf("the form again on an older replica's record: replayed %v, %v, %d starts; want started again", replayed, err, starts)
	}
	if sess, err := ss.Session(ctx, again); err != nil || sess.User != "alice" {
		t.Errorf("the sign-in started again: %+v %v", sess, err)
	}
}
