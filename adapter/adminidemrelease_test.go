package adapter

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// sealFails is a keyring that cannot seal.
type sealFails struct{ Keyring }

func (sealFails) Seal([]byte, []byte) ([]byte, string, error) { return nil, "", errors.New("hsm down") }

// noRelease is an idempotency store whose records cannot be released.
type noRelease struct{ provider.IdempotencyStore }

func (noRelease) ReleaseIdempotency(context.Context, store.IdempotencyKey, string) error {
	return errors.New("disk full")
}

// TestAdminUnrecordedUnreleasedIsUnavailable: an admin answer that cannot be
// sealed is sent unrecorded only once its key's record is released (the durable write
// that makes the request's own writes durable); when that release fails too, nothing
// is known durable and the answer is 503, as any other store fault, without the
// headers of the answer it replaces.
func TestAdminUnrecordedUnreleasedIsUnavailable(t *testing.T) {
	st := testdb.SQLite(t)
	a := newIdemAdmin(t, st, &fakeClock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}, func(o *Options) {
		o.AnswerKeys = sealFails{o.AnswerKeys}
		o.Idempotency.Store = noRelease{st}
	})
	tok := a.token(t, "idm")
	code, body, hdr := a.post(t, tok, "k-1", AdminPrefix+"/users", `{"name":"ivan"}`)
	if code != http.StatusServiceUnavailable {
		t.Fatalf("answered %d %s, want 503", code, body)
	}
	if hdr.Get("Location") != "" || hdr.Get("ETag") != "" {
		t.Errorf("the 503 carries the headers of the answer not sent: %v", hdr)
	}
}
