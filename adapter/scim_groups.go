package adapter

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/sync"
)

// SCIM Groups: a group is a record (id, displayName, externalId) in the sync store; its
// members are the users whose profile holds its name, so the policy of a provider sees
// SCIM's groups as user.groups.

type scimGroupResource struct {
	Schemas     []string  `json:"schemas"`
	ID          string    `json:"id"`
	ExternalID  string    `json:"externalId,omitempty"`
	DisplayName string    `json:"displayName"`
	Members     []scimRef `json:"members,omitempty"`
	Meta        scimMeta  `json:"meta"`
}

func errorsIsNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// members lists the group's members (every page).
func (api *syncAPI) members(ctx context.Context, name string) ([]lifecycle.User, error) {
	var out []lifecycle.User
	cursor := ""
	for {
		page, err := api.o.Manager.ListUsers(ctx, lifecycle.UserQuery{Group: name, Cursor: cursor, Limit: 1000})
		if err != nil {
			return nil, err
		}
		out = append(out, page.Users...)
		if cursor = page.Next; cursor == "" {
			return out, nil
		}
	}
}

func (api *syncAPI) groupResource(c echo.Context, g store.Group, withMembers bool) (scimGroupResource, error) {
	ms, err := api.members(c.Request().Context(), g.Name)
	if err != nil {
		return scimGroupResource{}, err
	}
	refs := make([]scimRef, len(ms))
	for i, u := range ms {
		refs[i] = scimRef{Value: u.ID, Display: u.Name}
	}
	return groupResourceOf(c, g, refs, withMembers), nil
}

// groupResourceOf is g as SCIM shows it, its members (in name order) refs: its version is
// of them, shown or not.
func groupResourceOf(c echo.Context, g store.Group, refs []scimRef, withMembers bool) scimGroupResource {
	r := scimGroupResource{Schemas: []string{scimGroupSchema}, ID: g.ID, ExternalID: g.ExternalID, DisplayName: g.Name}
	if len(refs) > 0 {
		r.Members = refs
	}
	r.Meta = scimMeta{ResourceType: "Group", Created: scimTime(g.CreatedAt), LastModified: scimTime(g.UpdatedAt)}
	r.Meta.Version = version(r)
	r.Meta.Location = location(c, "Groups", g.ID)
	if !withMembers {
		r.Members = nil
	}
	return r
}

func excludesMembers(c echo.Context) bool {
	return strings.Contains(strings.ToLower(c.QueryParam("excludedAttributes")), "members")
}

func (api *syncAPI) groupByID(c echo.Context) (store.Group, error) {
	g, err := api.o.Queue.Store.GetGroup(c.Request().Context(), param(c, "id"))
	if errorsIsNotFound(err) {
		return g, scimErr(404, "", "no group with this id")
	}
	return g, err
}

func (api *syncAPI) answerGroup(c echo.Context, status int, g store.Group) error {
	r, err := api.groupResource(c, g, !excludesMembers(c))
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", r.Meta.Version)
	if status == http.StatusCreated {
		c.Response().Header().Set(echo.HeaderLocation, r.Meta.Location)
	}
	return writeSCIM(c, status, r)
}

func (api *syncAPI) getGroup(c echo.Context) error {
	g, err := api.groupByID(c)
	if err != nil {
		return err
	}
	if len(c.Request().Header.Values("If-None-Match")) > 0 {
		r, err := api.groupResource(c, g, true)
		if err != nil {
			return err
		}
		if noneMatch(c, r.Meta.Version) {
			return c.NoContent(http.StatusNotModified)
		}
	}
	return api.answerGroup(c, http.StatusOK, g)
}

// memberNames turns member references (user ids) into user names; unknown ids are
// refused, as SCIM asks.
func (api *syncAPI) memberNames(ctx context.Context, v any) ([]string, error) {
	ids, err := memberIDs(v)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	// One read of them all, not one per member: a directory's group of 50,000.
	byID, err := api.o.Queue.Store.UserNamesByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	return namesOf(ids, byID, false)
}

// memberIDs are the user ids a members value names.
func memberIDs(v any) ([]string, error) {
	var list []any
	switch x := v.(type) {
	case []any:
		list = x
	case map[string]any:
		list = []any{x}
	case nil:
		return nil, nil
	default:
		return nil, scimErr(400, "invalidValue", "members must be an array of {value}")
	}
	ids := make([]string, len(list))
	for i, e := range list {
		obj, ok := e.(map[string]any)
		id, _ := subAttr(obj, "value").(string)
		if !ok || id == "" {
			return nil, scimErr(400, "invalidValue", "a member needs a value (a user id)")
		}
		ids[i] = id
	}
	return ids, nil
}

// namesOf are the names of the users ids name, byID users' names by their ids: an id
// that names no user is refused, the first in ids' order, or with skipUnknown left out
// (what a removal names, where an id no longer a user's is no member, and nothing to
// remove).
func namesOf(ids []string, byID map[string]string, skipUnknown bool) ([]string, error) {
	var names []string
	for _, id := range ids {
		name, ok := byID[id]
		if !ok && skipUnknown {
			continue
		}
		if !ok {
			return nil, scimErr(400, "invalidValue", "no user with id "+id)
		}
		names = append(names, name)
	}
	return names, nil
}

func (api *syncAPI) createGroup(c echo.Context) error {
	obj, err := readSCIM(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	name, ext, membersV, err := groupFields(obj)
	if err != nil {
		return err
	}
	if err := checkGroupName(name); err != nil {
		return err
	}
	if _, err := api.o.Queue.Store.GetGroupByName(ctx, name); err == nil {
		return scimErr(http.StatusConflict, "uniqueness", "a group with this displayName exists")
	}
	members, err := api.memberNames(ctx, membersV)
	if err != nil {
		return err
	}
	// The group, its external id and its members in one step (sync.Queue.ApplyGroupNow,
	// as a PUT's): a member refused (at its limit of groups), a store failing or a
	// process killed part-way creates nothing, so the directory's retry is not a 409; of
	// two POSTs of one name at once, one creates it and the other is a 409.
	evs := append([]provider.LifecycleEvent{{Type: provider.EventGroupCreate, Group: name}}, memberEvents(name, nil, members)...)
	for i := range evs {
		evs[i].Source = "scim"
	}
	id := builtin.NewID()
	if err := api.o.Queue.ApplyGroupNow(ctx, sync.GroupWrite{ID: id, ExternalID: ext, Source: "scim", Events: evs}); err != nil {
		return err
	}
	g, err := api.o.Queue.Store.GetGroup(ctx, id)
	if err != nil {
		return err
	}
	return api.answerGroup(c, http.StatusCreated, g)
}

// checkGroupName refuses a displayName its members' profiles could not hold as a group
// (lifecycle's rule for group names), before the group is made under it.
func checkGroupName(name string) error {
	if err := lifecycle.CheckGroupName(name); err != nil {
		return scimErr(400, "invalidValue", "displayName "+err.Msg)
	}
	return nil
}

// memberEvents are the events that make the members of group want rather than have.
// Each list is looked up in a set of the other: a directory's PATCH of one member of a
// group of 50,000 searched each list through the other, seconds of CPU.
func memberEvents(group string, have, want []string) []provider.LifecycleEvent {
	var evs []provider.LifecycleEvent
	had, wanted := nameSet(have), nameSet(want)
	for _, n := range want {
		if _, ok := had[n]; !ok {
			evs = append(evs, provider.LifecycleEvent{Type: provider.EventGroupMemberAdd, Username: n, Group: group})
		}
	}
	for _, n := range have {
		if _, ok := wanted[n]; !ok {
			evs = append(evs, provider.LifecycleEvent{Type: provider.EventGroupMemberRemove, Username: n, Group: group})
		}
	}
	return evs
}

// nameSet is the set of names.
func nameSet(names []string) map[string]struct{} {
	set := make(map[string]struct{}, len(names))
	for _, n := range names {
		set[n] = struct{}{}
	}
	return set
}

func (api *syncAPI) memberNamesOf(ctx context.Context, group string) ([]string, error) {
	ms, err := api.members(ctx, group)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ms))
	for i, u := range ms {
		names[i] = u.Name
	}
	return names, nil
}

// writeGroup makes the group a PUT or PATCH names what edit makes of it (its name,
// external id and members, from the group as read and its members' names, have), as one
// step on the group's revision as read (sync.Queue.ApplyGroupNow): all of it or nothing,
// so a write refused part-way (a member at its limit of groups) leaves the group as it
// was. When another write came between, a request that named its version (If-Match) is
// answered 412, that version being gone, and one that did not is edited again from the
// group as it is now, until it applies (contention: 503 if it cannot).
func (api *syncAPI) writeGroup(c echo.Context, edit func(g store.Group, have []string) (name, ext string, want []string, err error)) error {
	ctx := c.Request().Context()
	w := newContention(c)
	unlock, err := w.lock(&api.writes, "group:"+param(c, "id"))
	if err != nil {
		return err
	}
	defer unlock()
	var g store.Group
	for {
		var err error
		if g, err = api.groupToWrite(c); err != nil {
			return err
		}
		have, err := api.memberNamesOf(ctx, g.Name)
		if err != nil {
			return err
		}
		name, ext, want, err := edit(g, have)
		if err != nil {
			return err
		}
		var evs []provider.LifecycleEvent
		if name != g.Name {
			if err := checkGroupName(name); err != nil {
				return err
			}
			if _, err := api.o.Queue.Store.GetGroupByName(ctx, name); err == nil {
				return scimErr(http.StatusConflict, "uniqueness", "a group with this displayName exists")
			}
			evs = append(evs, provider.LifecycleEvent{Type: provider.EventGroupRename, Group: g.Name, NewGroup: name})
		}
		evs = append(evs, memberEvents(name, have, want)...)
		for i := range evs {
			evs[i].Source = "scim"
		}
		err = api.o.Queue.ApplyGroupNow(ctx, sync.GroupWrite{ID: g.ID, ExternalID: ext, Source: "scim", IfRevision: g.Revision, Events: evs})
		if !changed(err) {
			if err != nil {
				return err
			}
			break
		}
		if ifMatchSet(c) {
			return errChanged
		}
		if err := w.wait(); err != nil {
			return err
		}
	}
	g, err = api.o.Queue.Store.GetGroup(ctx, g.ID)
	if errorsIsNotFound(err) {
		return scimErr(404, "", "no group with this id") // deleted since it was written
	}
	if err != nil {
		return err
	}
	return api.answerGroup(c, http.StatusOK, g)
}

func (api *syncAPI) replaceGroup(c echo.Context) error {
	obj, err := readSCIM(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	name, ext, membersV, err := groupFields(obj)
	if err != nil {
		return err
	}
	want, err := api.memberNames(ctx, membersV)
	if err != nil {
		return err
	}
	return api.writeGroup(c, func(store.Group, []string) (string, string, []string, error) {
		return name, ext, want, nil
	})
}

// groupToWrite is the group a PUT, PATCH or DELETE names, if its If-Match holds.
func (api *syncAPI) groupToWrite(c echo.Context) (store.Group, error) {
	g, err := api.groupByID(c)
	if err != nil || !ifMatchSet(c) {
		return g, err
	}
	r, err := api.groupResource(c, g, true)
	if err != nil {
		return g, err
	}
	return g, checkIfMatch(c, r.Meta.Version)
}

// groupFields reads a group's displayName, externalId and members from a resource.
func groupFields(obj map[string]any) (name, ext string, members any, err error) {
	for k, v := range obj {
		switch strings.ToLower(k) {
		case "displayname":
			name, _ = v.(string)
		case "externalid":
			if ext, err = externalID(v); err != nil {
				return "", "", nil, err
			}
		case "members":
			members = v
		}
	}
	return name, ext, members, nil
}

// externalID reads a group's externalId: a string, or null for none. Anything else, and
// a string a user's externalId could not be, is refused, as for a user's, rather than
// taken for none.
func externalID(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", scimErr(400, "invalidValue", "externalId must be a string")
	}
	// Checked as a user's is (its attribute scim.externalId): a NUL, which PostgreSQL's
	// text refuses, would otherwise fail the write as a store fault (503, sent again).
	if err := lifecycle.CheckAttributeValue("externalId", s); err != nil {
		return "", scimErr(400, "invalidValue", "externalId "+err.Msg)
	}
	return s, nil
}

func (api *syncAPI) patchGroup(c echo.Context) error {
	ops, err := readPatch(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	return api.writeGroup(c, func(g store.Group, have []string) (string, string, []string, error) {
		return api.patchedGroup(ctx, ops, g, have)
	})
}

// patchedGroup is the name, external id and members ops make of g and its members, have.
// The users the operations name as members are read at once (UserNamesByID, which reads
// in chunks of its own), not an operation at a time: Entra ID sends an operation per
// member, and a PATCH of 50,000 one-member adds was 50,000 reads. Which ids they are is
// known by applying the operations first with no names at all, the same code that then
// applies them: that first pass refuses what the second does but an id that names no
// user, and stops at its first refusal as the second does, so it gathers every id the
// second can reach, and none when an operation is refused before any names a member: a
// store failing is answered as it was, at the first operation that needed the names,
// never in place of a refusal before it.
func (api *syncAPI) patchedGroup(ctx context.Context, ops []patchOp, g store.Group, have []string) (name, ext string, want []string, err error) {
	var ids []string
	_, _, _, _ = groupPatch(ops, g, nil, func(v any, _ bool) ([]string, error) {
		named, err := memberIDs(v)
		ids = append(ids, named...)
		return nil, err
	})
	var byID map[string]string
	if len(ids) > 0 {
		if byID, err = api.o.Queue.Store.UserNamesByID(ctx, ids); err != nil {
			return "", "", nil, err
		}
	}
	return groupPatch(ops, g, have, func(v any, skipUnknown bool) ([]string, error) {
		named, err := memberIDs(v)
		if err != nil {
			return nil, err
		}
		return namesOf(named, byID, skipUnknown)
	})
}

// memberNamer is the names of the users a members value names: an unknown id is refused,
// or left out with skipUnknown.
type memberNamer func(v any, skipUnknown bool) ([]string, error)

// groupPatch is patchedGroup with the names of the members the operations name from
// names.
func groupPatch(ops []patchOp, g store.Group, have []string, names memberNamer) (name, ext string, want []string, err error) {
	name, ext = g.Name, g.ExternalID
	// One set of the members through all the operations: a set made at each (an add of
	// one member each, as directories send them) was 50,000 sets of up to 50,000.
	ms := newMemberList(have)
	set := func(attr string, v any, op string) error {
		switch attr {
		case "displayname":
			s, ok := v.(string)
			if !ok {
				return scimErr(400, "invalidValue", "displayName must be a string")
			}
			name = s
		case "externalid":
			s, err := externalID(v)
			if err != nil {
				return err
			}
			ext = s
		case "members":
			added, err := names(v, false)
			if err != nil {
				return err
			}
			if op == "replace" {
				ms = newMemberList(nil)
			}
			for _, n := range added {
				ms.add(n)
			}
		}
		return nil
	}
	// setPath is an add or replace of path: a value filter or a sub-attribute of a
	// group's attribute (a member's display) names nothing this server keeps apart from
	// the member.
	setPath := func(path string, v any, op string, pathless bool) error {
		p, err := parseSCIMPath(path)
		if err != nil {
			return err
		}
		if !p.ofSchema(scimGroupSchema) {
			return nil // an extension's attribute: not kept
		}
		if err := readOnly(p, scimGroupSchema); err != nil {
			if pathless {
				return nil // the resource as read (Okta's rename sends its id): ignored
			}
			return err
		}
		if p.selAttr != "" || p.sub != "" {
			return scimErr(400, "invalidPath", "path "+strconv.Quote(path)+" names a part of a group this server cannot "+op)
		}
		return set(p.attr, v, op)
	}
	for _, op := range ops {
		if op.path == "" {
			vo, ok := op.value.(map[string]any)
			if !ok {
				return "", "", nil, scimErr(400, "invalidValue", "an operation without a path needs an object value")
			}
			// Each key is a path, as a user's are (scimUser.applyObject): it may name
			// its attribute by the schema's URN. In the keys' sorted order, not the map's, which
			// varies from one pass to the next: the first pass, stopped by a displayName
			// met before the members, gathered none of their ids, and the second, meeting
			// the members first, refused a user that exists as one that does not.
			for _, k := range slices.Sorted(maps.Keys(vo)) {
				if err := setPath(k, vo[k], op.op, true); err != nil {
					return "", "", nil, err
				}
			}
			continue
		}
		if op.op != "remove" {
			if err := setPath(op.path, op.value, op.op, false); err != nil {
				return "", "", nil, err
			}
			continue
		}
		p, err := parseSCIMPath(op.path)
		if err != nil {
			return "", "", nil, err
		}
		switch {
		case !p.ofSchema(scimGroupSchema):
			// an extension's attribute: not kept, nothing to remove
		case p.attr == "members":
			drop, err := membersToRemove(p, op.path, op.value, ms, names)
			if err != nil {
				return "", "", nil, err
			}
			for _, n := range drop {
				ms.remove(n)
			}
		case p.attr == "externalid":
			ext = ""
		default:
			return "", "", nil, scimErr(400, "mutability", "cannot remove "+scimAttrName(p.attr))
		}
	}
	return name, ext, ms.list(), nil
}

// memberList is a group's members in order, as a PATCH's operations change them, each
// change a step whatever their number: a member added is put at the end, unless it is
// there already; one removed leaves its place empty.
type memberList struct {
	names []string       // in order; "" where one was removed
	at    map[string]int // a member's place in names, by folded name (store.FoldName)
}

func newMemberList(names []string) *memberList {
	l := &memberList{at: make(map[string]int, len(names))}
	for _, n := range names {
		l.add(n)
	}
	return l
}

func (l *memberList) add(name string) {
	k := store.FoldName(name)
	if _, ok := l.at[k]; !ok {
		l.at[k] = len(l.names)
		l.names = append(l.names, name)
	}
}

func (l *memberList) remove(name string) {
	k := store.FoldName(name)
	if i, ok := l.at[k]; ok {
		l.names[i] = ""
		delete(l.at, k)
	}
}

// named is the member named name in any case (store.SameName), if one is.
func (l *memberList) named(name string) (string, bool) {
	i, ok := l.at[store.FoldName(name)]
	if !ok {
		return "", false
	}
	return l.names[i], true
}

// list is the members in order.
func (l *memberList) list() []string {
	out := make([]string, 0, len(l.at))
	for _, n := range l.names {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// membersToRemove is which of the members, have, a remove of path p (with value) names:
// those its value filter matches (members[value eq "id"], members[display eq "name"]),
// those its value lists, or, for the path `members` alone without a value, all of them
// (RFC 7644 §3.5.2.2). A filter or sub-attribute it cannot evaluate is refused rather
// than taken for "all": a directory removing one member must never empty the group. An
// id that names no user names no member: nothing to remove.
func membersToRemove(p scimPath, path string, value any, have *memberList, names memberNamer) ([]string, error) {
	switch {
	case p.sub != "":
		return nil, scimErr(400, "invalidPath", "path "+strconv.Quote(path)+": a member is removed whole (members[value eq \"id\"]), not a sub-attribute of it")
	case p.selAttr == "value":
		return names([]any{map[string]any{"value": p.selV}}, true)
	case p.selAttr == "display":
		// A member's display is its user name (groupResource), in any case as userName.
		if n, ok := have.named(p.selV); ok {
			return []string{n}, nil
		}
		return nil, nil
	case p.selAttr != "":
		return nil, scimErr(400, "invalidFilter", "path "+strconv.Quote(path)+": members can be filtered by value or display only")
	case value != nil:
		return names(value, true)
	}
	return have.list(), nil
}

// deleteGroup deletes the group and its members' membership as one step, on the
// group's version as read (as writeGroup writes it): with If-Match, a write that came
// between is 412 and nothing is deleted.
func (api *syncAPI) deleteGroup(c echo.Context) error {
	ctx := c.Request().Context()
	w := newContention(c)
	unlock, err := w.lock(&api.writes, "group:"+param(c, "id"))
	if err != nil {
		return err
	}
	defer unlock()
	for {
		g, err := api.groupToWrite(c)
		if err != nil {
			return err
		}
		ev := provider.LifecycleEvent{Type: provider.EventGroupDelete, Group: g.Name, Source: "scim"}
		err = api.o.Queue.ApplyGroupNow(ctx, sync.GroupWrite{ID: g.ID, Source: "scim", IfRevision: g.Revision, Events: []provider.LifecycleEvent{ev}})
		if !changed(err) {
			if err != nil {
				return err
			}
			return c.NoContent(http.StatusNoContent)
		}
		if ifMatchSet(c) {
			return errChanged
		}
		if err := w.wait(); err != nil {
			return err
		}
	}
}

func (api *syncAPI) listGroups(c echo.Context) error {
	clauses, err := queryFilter(c)
	if err != nil {
		return err
	}
	clauses = unqualified(clauses, scimGroupSchema)
	start, count, err := paging(c)
	if err != nil {
		return err
	}
	// Refused whether or not there is a group to test it on.
	for _, cl := range clauses {
		switch {
		case cl.selAttr != "":
			return scimErr(400, "invalidFilter", "cannot filter groups by a value filter")
		case cl.attr != "displayname" && cl.attr != "externalid" && cl.attr != "id":
			return scimErr(400, "invalidFilter", "cannot filter groups on "+scimAttrName(cl.attr))
		}
		if err := checkLiteral(cl, false); err != nil {
			return err
		}
	}
	ctx := c.Request().Context()
	if len(clauses) == 0 {
		// The store counts the groups and reads the page's alone: an IdP's import pages
		// through all of them, startIndex after startIndex.
		page, total, err := api.o.Queue.Store.GroupPage(ctx, start-1, count)
		if err != nil {
			return err
		}
		return api.writeGroupList(c, total, start, page)
	}
	// With a displayName (Entra ID looks a group up so before it creates one) or an id,
	// the group of it alone, matched on every clause below as every group would be.
	var gs []store.Group
	var one func(context.Context, string) (store.Group, error)
	i := slices.IndexFunc(clauses, func(cl scimClause) bool { return cl.attr == "displayname" })
	if i >= 0 {
		one = api.o.Queue.Store.GetGroupByName
	} else if i = slices.IndexFunc(clauses, func(cl scimClause) bool { return cl.attr == "id" }); i >= 0 {
		one = api.o.Queue.Store.GetGroup
	}
	if one != nil {
		g, err := one(ctx, clauses[i].value)
		switch {
		case err == nil:
			gs = []store.Group{g}
		case !errorsIsNotFound(err):
			return err
		}
	} else if i = slices.IndexFunc(clauses, func(cl scimClause) bool { return cl.attr == "externalid" }); i >= 0 {
		// An IdP matching its group to emfa's: the groups of that externalId alone.
		if gs, err = api.o.Queue.Store.GroupsByExternalID(ctx, clauses[i].value); err != nil {
			return err
		}
	} else if gs, err = api.o.Queue.Store.ListGroups(ctx); err != nil {
		return err
	}
	var matched []store.Group
	for _, g := range gs {
		ok := true
		for _, cl := range clauses {
			switch cl.attr {
			case "displayname":
				ok = ok && g.Name == cl.value // caseExact, as emfa's group names are (/Schemas)
			case "externalid":
				ok = ok && g.ExternalID == cl.value
			case "id":
				ok = ok && g.ID == cl.value
			}
		}
		if ok {
			matched = append(matched, g)
		}
	}
	var page []store.Group
	if start <= len(matched) {
		page = matched[start-1 : min(len(matched), start-1+count)]
	}
	return api.writeGroupList(c, len(matched), start, page)
}

// writeGroupList answers a listing of total groups with page, those from start.
func (api *syncAPI) writeGroupList(c echo.Context, total, start int, page []store.Group) error {
	// The page's members in one read, not one (or more) per group: the version is of
	// them, so they are read with excludedAttributes=members too.
	names := make([]string, len(page))
	for i, g := range page {
		names[i] = g.Name
	}
	members, err := api.o.Queue.Store.GroupMembers(c.Request().Context(), names)
	if err != nil {
		return err
	}
	out := make([]scimGroupResource, len(page))
	for i, g := range page {
		ms := members[g.Name]
		refs := make([]scimRef, len(ms))
		for j, u := range ms {
			refs[j] = scimRef{Value: u.ID, Display: u.Name}
		}
		out[i] = groupResourceOf(c, g, refs, !excludesMembers(c))
	}
	return writeSCIM(c, http.StatusOK, listResponse(total, start, out))
}

// --- discovery ---

func (api *syncAPI) scimConfig(c echo.Context) error {
	return writeSCIM(c, http.StatusOK, map[string]any{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"documentationUri": "https://github.com/emfa/emfa#directory-sync",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": 1000},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": false},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []map[string]any{{"type": "oauthbearertoken", "name": "Bearer token",
			"description": "the token of sync.scim.token", "primary": true}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": location(c, "ServiceProviderConfig", "")},
	})
}

// scimResourceTypeList is what /ResourceTypes serves.
func scimResourceTypeList() []map[string]any {
	return []map[string]any{
		{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"}, "id": "User", "name": "User",
			"endpoint": "/Users", "schema": scimUserSchema, "meta": map[string]any{"resourceType": "ResourceType"}},
		{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"}, "id": "Group", "name": "Group",
			"endpoint": "/Groups", "schema": scimGroupSchema, "meta": map[string]any{"resourceType": "ResourceType"}},
	}
}

func (api *syncAPI) scimResourceTypes(c echo.Context) error {
	rt := scimResourceTypeList()
	return writeSCIM(c, http.StatusOK, listResponse(len(rt), 1, rt))
}

// scimResourceType serves one resource type at its id (RFC 7644 §4).
func (api *syncAPI) scimResourceType(c echo.Context) error {
	return byID(c, scimResourceTypeList(), "resource type")
}

// byID answers the entry of list whose id the path names, or 404.
func byID(c echo.Context, list []map[string]any, what string) error {
	id := param(c, "id")
	for _, e := range list {
		if e["id"] == id {
			return writeSCIM(c, http.StatusOK, e)
		}
	}
	return scimErr(http.StatusNotFound, "", "no "+what+" with this id")
}

func attr(name, typ string, required, multi bool, sub ...map[string]any) map[string]any {
	a := map[string]any{"name": name, "type": typ, "multiValued": multi, "required": required,
		"caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none"}
	if len(sub) > 0 {
		a["subAttributes"] = sub
	}
	return a
}

// readOnlyAttr is a with mutability readOnly, and each of its sub-attributes.
func readOnlyAttr(a map[string]any) map[string]any {
	a["mutability"] = "readOnly"
	if subs, ok := a["subAttributes"].([]map[string]any); ok {
		for _, s := range subs {
			s["mutability"] = "readOnly"
		}
	}
	return a
}

// exact is a with caseExact true: compared as it is, as filters and the store compare it.
func exact(a map[string]any) map[string]any {
	a["caseExact"] = true
	return a
}

// scimSchemaList is what /Schemas serves: what each attribute is as this server keeps it.
// A group's displayName is exact and unique here (emfa's group names are matched exactly,
// in a user's groups and in policies; a second group of the name is 409); a user's
// userName and displayName are matched in any case, externalIds exactly (RFC 7643 §3.1);
// of an address, only the country is kept (the user's country, whose national phone
// numbers the user's are).
func scimSchemaList() []map[string]any {
	user := attr("userName", "string", true, false)
	user["uniqueness"], user["mutability"] = "server", "immutable"
	group := exact(attr("displayName", "string", true, false))
	group["uniqueness"] = "server"
	return []map[string]any{
		{"id": scimUserSchema, "name": "User", "attributes": []map[string]any{user,
			exact(attr("externalId", "string", false, false)), attr("displayName", "string", false, false), attr("active", "boolean", false, false),
			attr("name", "complex", false, false, attr("givenName", "string", false, false), attr("familyName", "string", false, false)),
			attr("emails", "complex", false, true, attr("value", "string", false, false), attr("type", "string", false, false), attr("primary", "boolean", false, false)),
			attr("phoneNumbers", "complex", false, true, attr("value", "string", false, false), attr("type", "string", false, false), attr("primary", "boolean", false, false)),
			attr("addresses", "complex", false, true, attr("country", "string", false, false), attr("type", "string", false, false), attr("primary", "boolean", false, false)),
			// Set by a group's members: shown, and a PATCH of it is 400 mutability.
			readOnlyAttr(attr("groups", "complex", false, true, exact(attr("value", "string", false, false)), attr("display", "string", false, false))),
		}, "meta": map[string]any{"resourceType": "Schema"}},
		{"id": scimGroupSchema, "name": "Group", "attributes": []map[string]any{group,
			exact(attr("externalId", "string", false, false)),
			attr("members", "complex", false, true, exact(attr("value", "string", false, false)), attr("display", "string", false, false)),
		}, "meta": map[string]any{"resourceType": "Schema"}},
	}
}

func (api *syncAPI) scimSchemas(c echo.Context) error {
	s := scimSchemaList()
	return writeSCIM(c, http.StatusOK, listResponse(len(s), 1, s))
}

// scimSchema serves one schema at its id, its URN (RFC 7644 §4).
func (api *syncAPI) scimSchema(c echo.Context) error {
	return byID(c, scimSchemaList(), "schema")
}
