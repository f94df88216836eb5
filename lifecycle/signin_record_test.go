package lifecycle_test

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store/sqlite"
)

// TestSignInRecordOpensNoSignIn: the record that makes a sign-in form posted twice
// start one sign-in (StartSignInOnce) is kept in the store for half a minute and more.
// It held the sign-in's sealed cookie as it was, and that cookie is the sign-in: whoever
// reads the store (a backup, a read replica, a reporting account) sent it to the page,
// read the CSRF token off the approval page, and, once the user approved the push on the
// phone, could post "continue" before the user's own browser and be signed in as them,
// free to enroll a factor of their own. The store keeps no other bearer secret of the
// page (sessions and links by their hash, a set-up's record sealed under the cookie):
// nor may it keep this one.
func TestSignInRecordOpensNoSignIn(t *testing.T) {
	ctx := context.Background()
	ss, form, start, _, db := signInOnce(t)
	cookie, again, err := ss.StartSignInOnce(ctx, form.Cookie, "alice", lifecycle.MethodPush, start)
	if err != nil || again {
		t.Fatalf("start: again %v, %v", again, err)
	}
	if sess, err := ss.Session(ctx, cookie); err != nil || sess.User != "alice" {
		t.Fatalf("the sign-in started: %+v %v", sess, err)
	}
	// The same form again answers the same sign-in, from the record.
	if c, again, err := ss.StartSignInOnce(ctx, form.Cookie, "alice", lifecycle.MethodPush, start); err != nil || !again || c != cookie {
		t.Fatalf("the form again: again %v, %v; same cookie %v", again, err, c == cookie)
	}

	// What a reader of the store finds.
	rows, err := db.QueryContext(ctx, `SELECT body FROM idempotency WHERE provider LIKE 'selfservice:%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var body []byte
		if err := rows.Scan(&body); err != nil {
			t.Fatal(err)
		}
		n++
		if bytes.Contains(body, []byte(cookie)) {
			t.Errorf("a record in the store holds the sign-in's cookie")
		}
		if sess, err := ss.Session(ctx, string(body)); err == nil {
			t.Errorf("a record in the store opens as the sign-in under way: user %q, CSRF token %t", sess.User, sess.CSRF != "")
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no record of the sign-in's start in the store")
	}
}

// signInOnce is alice with a push factor in a SQLite file store, her page, a sign-in
// form's session, a start of a push sign-in from it that counts its calls in *starts,
// and the store's file opened apart, as a reader of the store (a backup, an older
// replica) has it.
func signInOnce(t *testing.T) (ss *lifecycle.SelfService, form lifecycle.Session, start func(context.Context) (string, error), starts *int, db *sql.DB) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "emfa.db")
	st, err := sqlite.Open(ctx, "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m, _ := newManager(t, st)
	addAlice(t, m)
	ss = selfService(t, m, "totp", "push")
	form, err = ss.NewSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	starts = new(int)
	start = func(ctx context.Context) (string, error) {
		*starts++
		sess := form
		if err := ss.StartSignIn(ctx, &sess, "alice", lifecycle.MethodPush); err != nil {
			return "", err
		}
		return sess.Cookie, nil
	}
	db, err = sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return ss, form, start, starts, db
}
