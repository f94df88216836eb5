package lifecycle_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/lifecycle"
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
	ss, form, start, starts, db := signInOnce(t)
	cookie, _, err := ss.StartSignInOnce(ctx, form.Cookie, "alice", lifecycle.MethodPush, start)
	if err != nil {
		t.Fatal(err)
	}
	// The record as an older replica wrote it: the cookie itself.
	res, err := db.ExecContext(ctx, `UPDATE idempotency SET body = ? WHERE provider LIKE 'selfservice:%'`, []byte(cookie))
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("rewrote %d records, %v; want 1", n, err)
	}
	again, replayed, err := ss.StartSignInOnce(ctx, form.Cookie, "alice", lifecycle.MethodPush, start)
	if err != nil || replayed || *starts != 2 {
		t.Fatalf("the form again on an older replica's record: replayed %v, %v, %d starts; want started again", replayed, err, *starts)
	}
	if sess, err := ss.Session(ctx, again); err != nil || sess.User != "alice" {
		t.Errorf("the sign-in started again: %+v %v", sess, err)
	}
}
