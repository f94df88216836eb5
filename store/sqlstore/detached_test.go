package sqlstore

import (
	"context"
	"testing"
)

type detachedKey struct{}

// TestGroupDetached: a unit's writer context keeps its caller's values and none of
// its cancelation, as context.WithoutCancel's does.
func TestGroupDetached(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), detachedKey{}, "v"))
	u := &unit{ctx: parent}
	u.wctx = detached{u.ctx}
	var ctx context.Context = &u.wctx
	cancel()
	if ctx.Done() != nil || ctx.Err() != nil {
		t.Errorf("Done %v, Err %v after the caller's cancelation; want nil, nil", ctx.Done(), ctx.Err())
	}
	if _, ok := ctx.Deadline(); ok {
		t.Error("a deadline")
	}
	if v := ctx.Value(detachedKey{}); v != "v" {
		t.Errorf("Value = %v, want the caller's", v)
	}
	child, stop := context.WithCancel(ctx)
	defer stop()
	if child.Err() != nil {
		t.Errorf("a context made from it is done: %v", child.Err())
	}
}
