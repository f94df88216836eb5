package sqlite

import (
	"strings"
	"testing"
)

// TestAuditPlans plans each query the store runs on the audit trail (as
// sqlstore's ListAudit, QueryAudit and DeleteAuditBefore write them) and checks that
// none scans the table, and which index each uses: every index of the audit table serves
// at least one of them, so none is left to drop for the rows' sake. The filters on the
// outcome, the actor or the request ID alone walk audit_time newest first and stop once
// the page is full: a walk in the order asked for, not a search.
func TestAuditPlans(t *testing.T) {
	db, plan := planner(t)
	const (
		cols   = `SELECT id, time, request_id, provider, username, capability, factor_id, resource, outcome, reason, webhook_id, actor FROM audit`
		order  = ` ORDER BY time DESC, id DESC LIMIT $9`
		before = `(time < $7 OR (time = $7 AND id < $8))`
	)
	used := map[string]bool{}
	for _, tc := range []struct{ q, want string }{
		// ListAudit, QueryAudit without a filter, and a page after the first.
		{cols + order, "SCAN audit USING INDEX audit_time"},
		{cols + ` WHERE ` + before + order, "SEARCH audit USING INDEX audit_time (time<?)"},
		// By user (ListAudit, QueryAudit's user).
		{cols + ` WHERE lower(username) = $1` + order, "SEARCH audit USING INDEX audit_username_time (<expr>=?)"},
		{cols + ` WHERE lower(username) = $1 AND ` + before + order, "SEARCH audit USING INDEX audit_username_time (<expr>=? AND time<?)"},
		{cols + ` WHERE lower(username) = $1 AND resource = $2 AND time >= $3` + order, "SEARCH audit USING INDEX audit_username_time (<expr>=? AND time>?)"},
		// By action (QueryAudit's resource).
		{cols + ` WHERE resource = $1` + order, "SEARCH audit USING INDEX audit_resource_time (resource=?)"},
		{cols + ` WHERE resource = $1 AND time >= $2 AND time < $3 AND ` + before + order, "SEARCH audit USING INDEX audit_resource_time (resource=? AND time>? AND time<?)"},
		// By time.
		{cols + ` WHERE time >= $1 AND time < $2` + order, "SEARCH audit USING INDEX audit_time (time>? AND time<?)"},
		{cols + ` WHERE outcome = $1 AND time >= $2` + order, "SEARCH audit USING INDEX audit_time (time>?)"},
		// The filters no index has: a walk newest first.
		{cols + ` WHERE outcome = $1` + order, "SCAN audit USING INDEX audit_time"},
		{cols + ` WHERE actor = $1` + order, "SCAN audit USING INDEX audit_time"},
		{cols + ` WHERE request_id = $1` + order, "SCAN audit USING INDEX audit_time"},
		// DeleteAuditBefore (retention).
		{dialect{}.DeleteOldest("audit", "id", "time < $1", "time"), "SEARCH audit USING COVERING INDEX audit_time (time<?)"},
	} {
		p := plan(tc.q)
		if !strings.Contains(p, tc.want) {
			t.Errorf("%s:\n%s\nwant %s", tc.q, p, tc.want)
		}
		for _, line := range strings.Split(p, "\n") {
			if line == "SCAN audit" || strings.Contains(line, "TEMP B-TREE") {
				t.Errorf("%s: %s", tc.q, line)
			}
			if _, index, ok := strings.Cut(line, " INDEX "); ok {
				used[strings.Fields(index)[0]] = true
			}
		}
	}
	rows, err := db.QueryContext(t.Context(), `SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'audit'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		if !used[name] {
			t.Errorf("index %s serves none of the audit trail's queries", name)
		}
	}
}
