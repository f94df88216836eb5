package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/emfa/emfa/lifecycle"
)

// usersShowCmd prints one user as the admin API's GET /admin/v1/users/{user} gives it:
// the profile an operator otherwise sees only through the API.
func (d *deps) usersShowCmd() *cobra.Command {
	var asJSON bool
	c := d.managerCmd(&cobra.Command{
		Use: "show NAME", Short: "show a user's state and profile",
		Example: "  emfa users show alice --config emfa.yaml\n  emfa users show alice --json --config emfa.yaml",
		Args:    exactly(1, "exactly one NAME"),
	}, func(ctx context.Context, _ *env, m *lifecycle.Manager, args []string) error {
		u, err := m.GetUser(ctx, args[0])
		if err != nil {
			return userErr(args[0], err)
		}
		if asJSON {
			return encodeJSON(d.stdout, u)
		}
		return writeUser(d.stdout, u)
	})
	c.Flags().BoolVar(&asJSON, "json", false, "one JSON object, as GET /admin/v1/users/{user}'s")
	return c
}

// usersListCmd lists users as the admin API's GET /admin/v1/users pages them: the same
// order and filters, every page; a table, or with --json each user with its profile.
func (d *deps) usersListCmd() *cobra.Command {
	var asJSON bool
	var q lifecycle.UserQuery
	c := d.managerCmd(&cobra.Command{
		Use: "list", Short: "list users, all or those of a group, a state or a name prefix",
		Example: "  emfa users list --config emfa.yaml\n" +
			"  emfa users list --state disabled --config emfa.yaml\n" +
			"  emfa users list --group sms-allowed --json --config emfa.yaml",
		Args: func(c *cobra.Command, args []string) error {
			if err := noArgs(c, args); err != nil {
				return err
			}
			// A state outside the two is a typo: a usage error, before anything opens.
			if q.State != "" && q.State != lifecycle.StateActive && q.State != lifecycle.StateDisabled {
				return usageError{fmt.Sprintf("--state: must be active or disabled, not %q", q.State)}
			}
			return nil
		},
	}, func(ctx context.Context, _ *env, m *lifecycle.Manager, _ []string) error {
		tw := tabwriter.NewWriter(d.stdout, 0, 4, 2, ' ', 0)
		if !asJSON {
			fmt.Fprintln(tw, "NAME\tSTATE\tCREATED")
		}
		q.Limit = 1000
		for {
			page, err := m.ListUsers(ctx, q)
			if err != nil {
				return profileFlagError(err)
			}
			for _, u := range page.Users {
				if asJSON {
					err = encodeJSON(d.stdout, u)
				} else {
					_, err = fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, u.State, u.Created.UTC().Format(time.RFC3339))
				}
				if err != nil {
					return err
				}
			}
			// The table is aligned, and printed, a page at a time: aligned over every
			// row, it held the whole directory until the last page was read.
			if err := tw.Flush(); err != nil {
				return err
			}
			if page.Next == "" {
				return nil
			}
			q.Cursor = page.Next
		}
	})
	fl := c.Flags()
	fl.BoolVar(&asJSON, "json", false, "one JSON object per line, with the profile: as GET /admin/v1/users's users")
	fl.StringVar(&q.Group, "group", "", "only the users in `GROUP`")
	fl.StringVar(&q.State, "state", "", "only the users in `STATE`: active or disabled")
	fl.StringVar(&q.Prefix, "prefix", "", "only the users whose names start with `PREFIX` (in any letter case)")
	return c
}

// writeUser is u for a person to read: a line per field, "-" for one not set.
func writeUser(w io.Writer, u lifecycle.User) error {
	or := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	attrs := make([]string, 0, len(u.Attributes))
	for _, k := range slices.Sorted(maps.Keys(u.Attributes)) {
		attrs = append(attrs, k+"="+u.Attributes[k])
	}
	updated := "-"
	if u.Updated != nil {
		updated = u.Updated.UTC().Format(lifecycle.AuditTimeFormat)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range [][2]string{
		{"name", u.Name}, {"state", u.State}, {"email", or(u.Email)}, {"phone", or(u.Phone)},
		{"country", or(u.Country)}, {"display name", or(u.DisplayName)},
		{"groups", or(strings.Join(u.Groups, ", "))}, {"attributes", or(strings.Join(attrs, ", "))},
		{"created", u.Created.UTC().Format(lifecycle.AuditTimeFormat)}, {"updated", updated},
	} {
		// As stored: lifecycle refuses a control character anywhere in a profile
		// (checkText), so no value can break a line or move the terminal's cursor.
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], f[1])
	}
	return tw.Flush()
}

// encodeJSON writes v as one line of JSON, as the admin API would give it.
func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// usersSetCmd changes the profile fields its flags name, as the admin API's PATCH
// /admin/v1/users/{user} does: the same checks, the change, its record (users.update) and
// its propagations to the vendors in one commit. A flag given empty clears its field.
func (d *deps) usersSetCmd() *cobra.Command {
	var f struct {
		email, phone, country, displayName string
		groups, addGroups, removeGroups    []string
	}
	var c *cobra.Command
	c = d.userWriteCmd(&cobra.Command{
		Use: "set NAME", Short: "change a user's profile: e-mail, phone, country, display name, groups",
		Example: "  emfa users set alice --phone '+44 20 7946 0018' --config emfa.yaml\n" +
			"  emfa users set alice --country DE --phone '030 901820' --config emfa.yaml\n" +
			"  emfa users set alice --add-group sms-allowed --remove-group contractors --config emfa.yaml\n" +
			"  emfa users set alice --email '' --config emfa.yaml   # clear the e-mail address",
		Args: func(c *cobra.Command, args []string) error {
			if err := exactly(1, "exactly one NAME")(c, args); err != nil {
				return err
			}
			fl := c.Flags()
			if fl.Changed("group") && (fl.Changed("add-group") || fl.Changed("remove-group")) {
				return usageError{"users set takes --group (the user's groups, all of them) or --add-group and --remove-group, not both"}
			}
			for _, g := range f.addGroups {
				if slices.Contains(f.removeGroups, g) {
					// Which was meant? Removed then added, it stayed; better asked than guessed.
					return usageError{fmt.Sprintf("users set: group %q is both in --add-group and in --remove-group", g)}
				}
			}
			for _, n := range []string{"email", "phone", "country", "display-name", "group", "add-group", "remove-group"} {
				if fl.Changed(n) {
					return nil
				}
			}
			return usageError{"users set needs a change: --email, --phone, --country, --display-name, --group, --add-group or --remove-group"}
		},
	}, func(ctx context.Context, _ *env, m *lifecycle.Manager, args []string) error {
		fl := c.Flags()
		in := lifecycle.UserInput{}
		for _, s := range []struct {
			flag string
			to   **string
			v    string
		}{{"email", &in.Email, f.email}, {"phone", &in.Phone, f.phone}, {"country", &in.Country, f.country}, {"display-name", &in.DisplayName, f.displayName}} {
			if fl.Changed(s.flag) {
				*s.to = &s.v
			}
		}
		var before int64
		u, err := m.EditUser(ctx, cliActor, args[0], func(u lifecycle.User) *lifecycle.UserInput {
			before = u.Revision
			edit := in
			switch {
			case fl.Changed("group"):
				groups := slices.Clone(f.groups)
				if len(groups) == 1 && groups[0] == "" {
					groups = []string{} // --group '': in no group, as an empty flag clears its field
				}
				edit.Groups = &groups
			case fl.Changed("add-group") || fl.Changed("remove-group"):
				// Against the user as read: EditUser reads it again if another change
				// came between, so a membership given meanwhile is kept.
				groups := slices.DeleteFunc(slices.Clone(u.Groups), func(g string) bool { return slices.Contains(f.removeGroups, g) })
				groups = append(groups, f.addGroups...)
				edit.Groups = &groups
			}
			return &edit
		})
		if err != nil {
			if notFound(err) {
				return fmt.Errorf("no user %q", args[0])
			}
			return profileFlagError(err)
		}
		if u.Revision == before {
			fmt.Fprintf(d.stdout, "user %s unchanged\n", u.Name)
			return nil
		}
		fmt.Fprintf(d.stdout, "updated user %s\n", u.Name)
		return nil
	})
	fl := c.Flags()
	fl.StringVar(&f.email, "email", "", "the user's e-mail `ADDRESS` ('' clears it)")
	fl.StringVar(&f.phone, "phone", "", "the user's phone `NUMBER`: E.164, or national with --country, the user's country or lifecycle.defaultCountry ('' clears it)")
	fl.StringVar(&f.country, "country", "", "the user's `COUNTRY` (ISO 3166-1 alpha-2), whose national phone numbers the user's are ('' clears it)")
	fl.StringVar(&f.displayName, "display-name", "", "the user's display `NAME` ('' clears it)")
	fl.StringArrayVar(&f.groups, "group", nil, "a `GROUP` the user is in: the groups given replace the user's (repeat for more; '' alone: in none)")
	fl.StringArrayVar(&f.addGroups, "add-group", nil, "add the user to `GROUP` (repeat for more)")
	fl.StringArrayVar(&f.removeGroups, "remove-group", nil, "remove the user from `GROUP` (repeat for more)")
	return c
}

// profileFlagError is a refusal of a user's profile worded for the command line: the
// flag of the field refused, or the refusal as cliError words it.
func profileFlagError(err error) error {
	le := (*lifecycle.Error)(nil)
	if !errors.As(err, &le) || le.Field == "" || le.Kind != lifecycle.Invalid {
		return cliError(err)
	}
	flag := map[string]string{"displayName": "display-name", "groups": "group"}[le.Field]
	if flag == "" {
		flag = le.Field
	}
	return fmt.Errorf("--%s: %s", flag, le.Msg)
}
