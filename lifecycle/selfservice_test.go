package lifecycle_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// staleLinks is a store whose GetLink shows every link unspent: the moment between a
// Confirm's look at its link and its commit, when another browser's confirmation wins.
type staleLinks struct {
	store.Store
	store.SelfService
}

func (s staleLinks) SpendLink(ctx context.Context, hash string, now time.Time) error {
	return s.SelfService.SpendLink(ctx, hash, now)
}

func (s staleLinks) GetLink(ctx context.Context, hash string) (store.SelfServiceLink, error) {
	l, err := s.SelfService.GetLink(ctx, hash)
	l.SpentAt = time.Time{}
	return l, err
}

// The first code confirmed on a link, the factor's activation and the link spent are one
// commit: a confirmation that loses the race to another browser changes nothing, not
// even the use of its code, and says the link is spent.
func TestConfirmSpendsTheLinkInItsCommit(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, staleLinks{st, st.(store.SelfService)})
		addAlice(t, m)
		ss, err := m.SelfService(lifecycle.SelfServiceOptions{Capabilities: []string{"totp"}, LinkLifetime: time.Hour,
			SessionIdle: time.Hour, PublicURL: "https://mfa.example.com"})
		if err != nil {
			t.Fatal(err)
		}
		link, err := ss.IssueLink(ctx, "test", "alice", false)
		if err != nil {
			t.Fatal(err)
		}
		token := link.URL[strings.LastIndex(link.URL, "/")+1:]
		type browser struct {
			sess lifecycle.Session
			id   string
			code string
		}
		var bs [2]browser
		for i := range bs {
			if bs[i].sess, err = ss.OpenLink(ctx, token); err != nil {
				t.Fatal(err)
			}
			en, err := ss.Enroll(ctx, &bs[i].sess, "totp", "")
			if err != nil {
				t.Fatal(err)
			}
			key, err := otp.NewKeyFromURL(en.Output["otpauthURI"].(string))
			if err != nil {
				t.Fatal(err)
			}
			bs[i].id = en.Factor.ID
			bs[i].code, _ = totp.GenerateCodeCustom(key.Secret(), clk.Now(), totp.ValidateOpts{
				Period: uint(key.Period()), Digits: key.Digits(), Algorithm: key.Algorithm()})
		}
		if _, err := ss.Confirm(ctx, &bs[0].sess, bs[0].code); err != nil {
			t.Fatalf("first confirmation: %v", err)
		}
		if _, err := ss.Confirm(ctx, &bs[1].sess, bs[1].code); !errors.Is(err, lifecycle.ErrLinkSpent) {
			t.Fatalf("second confirmation: %v, want the link spent", err)
		}
		f, err := st.GetFactor(ctx, bs[1].id)
		if err != nil || f.State != store.FactorPending || f.Failures != 0 {
			t.Fatalf("the loser's factor: %+v, %v; want pending, nothing counted", f, err)
		}
		var got []string
		for _, action := range []string{"admin.factors.activate", "admin.selfservice.confirm"} {
			for _, ev := range auditOf(t, m, action).Events {
				got = append(got, ev.Action+" "+ev.Outcome+" "+ev.FactorID)
			}
		}
		want := []string{"admin.factors.activate SUCCESS " + bs[0].id, "admin.selfservice.confirm FAILED " + bs[1].id}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}
