package lifecycle_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// saidEvents is a lifecycle.Propagation that queues nothing and keeps what each change
// would tell the vendors, as "type field=value …".
type saidEvents struct{ said []string }

func (p *saidEvents) Propagations(_ context.Context, ev provider.LifecycleEvent) ([]store.QueuedEvent, error) {
	s := ev.Type
	for _, f := range []struct {
		name string
		v    *string
	}{{"email", ev.Email}, {"phone", ev.Phone}, {"country", ev.Country}, {"displayName", ev.DisplayName}} {
		if f.v != nil {
			s += " " + f.name + "=" + *f.v
		}
	}
	if ev.Attributes != nil {
		s += fmt.Sprintf(" attributes=%v", ev.Attributes)
	}
	if ev.State != "" {
		s += " state=" + ev.State
	}
	if ev.Group != "" {
		s += " group=" + ev.Group
	}
	p.said = append(p.said, s)
	return nil, nil
}

func (*saidEvents) Marks(provider.LifecycleEvent) []string { return nil }

func (*saidEvents) MarkTime(_ context.Context, t time.Time, _ ...provider.LifecycleEvent) (time.Time, error) {
	return t, nil
}

// TestUpdateSaysWhatChanges: an update that gives the state and the profile
// records, and tells the vendors, what changes of them alone, and answers the user as a
// read after it shows it: the state given with the whole profile as it is (a SCIM PUT
// deactivating a user) is the state's change; the state alone too; the profile with the
// state as it is, the profile's alone, no state said; both changed, both, in one event.
func TestUpdateSaysWhatChanges(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		prop := &saidEvents{}
		m, err := lifecycle.New(lifecycle.Options{Store: st, Now: func() time.Time { return time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC) }, Propagation: prop})
		if err != nil {
			t.Fatal(err)
		}
		groups := []string{"staff"}
		whole := lifecycle.UserInput{Email: ptr("pat@example.com"), DisplayName: ptr("Pat"), Groups: &groups}
		with := func(in lifecycle.UserInput, state string) lifecycle.UserInput {
			in.State = &state
			return in
		}
		none := []string{}
		for i, c := range []struct {
			name           string
			disabled       bool
			in             lifecycle.UserInput
			audit, vendors []string
		}{
			{"the whole profile as it is, disabled", false, with(whole, lifecycle.StateDisabled),
				[]string{"admin.users.disable "}, []string{"user.disable"}},
			{"the whole profile as it is, enabled", true, with(whole, lifecycle.StateActive),
				[]string{"admin.users.enable "}, []string{"user.enable"}},
			{"the state alone", false, with(lifecycle.UserInput{}, lifecycle.StateDisabled),
				[]string{"admin.users.disable "}, []string{"user.disable"}},
			{"the display name, the state as it is", true, with(lifecycle.UserInput{DisplayName: ptr("Pat B")}, lifecycle.StateDisabled),
				[]string{"admin.users.update displayName"}, []string{"user.update displayName=Pat B"}},
			{"the groups, the state as it is", false, with(lifecycle.UserInput{Groups: &none}, lifecycle.StateActive),
				[]string{"admin.users.update groups: -staff"}, []string{"group.member.remove group=staff"}},
			{"the display name and the state", false, with(lifecycle.UserInput{DisplayName: ptr("Pat B")}, lifecycle.StateDisabled),
				[]string{"admin.users.update displayName", "admin.users.disable "}, []string{"user.update displayName=Pat B state=disabled"}},
			{"the groups and the state", true, with(lifecycle.UserInput{Groups: &none}, lifecycle.StateActive),
				[]string{"admin.users.update groups: -staff", "admin.users.enable "}, []string{"user.enable", "group.member.remove group=staff"}},
		} {
			name := fmt.Sprintf("pat%d", i)
			in := whole
			in.Name = name
			if c.disabled {
				in.State = ptr(lifecycle.StateDisabled)
			}
			if _, err := m.CreateUser(ctx, "test", in); err != nil {
				t.Fatal(err)
			}
			prop.said = nil
			got, err := m.UpdateUser(ctx, "test", name, c.in)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if read, err := m.GetUser(ctx, name); err != nil || !sameJSON(t, got, read) || got.Revision != read.Revision {
				t.Errorf("%s: answered %+v, read after %+v (%v)", c.name, got, read, err)
			}
			page, err := m.QueryAudit(ctx, lifecycle.AuditQuery{User: name})
			if err != nil {
				t.Fatal(err)
			}
			var audit []string
			for _, ev := range page.Events {
				if !strings.HasSuffix(ev.Action, ".create") {
					audit = append(audit, ev.Action+" "+ev.Reason)
				}
			}
			slices.Reverse(audit) // oldest first
			if !slices.Equal(audit, c.audit) {
				t.Errorf("%s: recorded %q, want %q", c.name, audit, c.audit)
			}
			if !slices.Equal(prop.said, c.vendors) {
				t.Errorf("%s: told the vendors %q, want %q", c.name, prop.said, c.vendors)
			}
		}
	})
}
