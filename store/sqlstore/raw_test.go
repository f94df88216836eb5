package sqlstore

import (
	"database/sql/driver"
	"fmt"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
	"github.com/google/go-cmp/cmp"
)

// TestRawAssign: a value the writer's driver connection reads is stored as
// database/sql's Scan stores it, for the destinations the store's units scan into.
func TestRawAssign(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_000).UTC()
	s := "x"
	tests := []struct {
		name string
		v    driver.Value
		dest func() any // a new destination
		want any        // what it points at after, nil: an error
	}{
		{"string", "a", func() any { return new(string) }, "a"},
		{"bytes into string", []byte("a"), func() any { return new(string) }, "a"},
		{"int into string", int64(7), func() any { return new(string) }, "7"},
		{"NULL into string", nil, func() any { return new(string) }, nil},
		{"bytes", []byte("a"), func() any { return new([]byte) }, []byte("a")},
		{"string into bytes", "a", func() any { return new([]byte) }, []byte("a")},
		{"NULL into bytes", nil, func() any { return new([]byte) }, []byte(nil)},
		{"int64", int64(-3), func() any { return new(int64) }, int64(-3)},
		{"int", int64(5), func() any { return new(int) }, 5},
		{"text into int", "a", func() any { return new(int64) }, nil},
		{"bool from 1", int64(1), func() any { return new(bool) }, true},
		{"bool from 0", int64(0), func() any { return new(bool) }, false},
		{"bool from 2", int64(2), func() any { return new(bool) }, nil},
		{"NULL into bool", nil, func() any { return new(bool) }, nil},
		{"named string", "active", func() any { return new(store.FactorState) }, store.FactorActive},
		{"NULL into a pointer", nil, func() any { p := &s; return &p }, (*string)(nil)},
		{"into a pointer", "b", func() any { return new(*string) }, ptr("b")},
		{"float", 1.5, func() any { return new(float64) }, 1.5},
		{"time", at, func() any { return new(time.Time) }, at},
		{"any", []byte("a"), func() any { return new(any) }, any([]byte("a"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.dest()
			err := assign(d, tt.v)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("assign(%T, %#v) = nil, want an error", d, tt.v)
				}
				return
			}
			if err != nil {
				t.Fatalf("assign(%T, %#v): %v", d, tt.v, err)
			}
			if diff := cmp.Diff(tt.want, deref(d)); diff != "" {
				t.Errorf("assign(%T, %#v) (-want +got):\n%s", d, tt.v, diff)
			}
		})
	}
	// The bytes are the destination's own, as database/sql's are: the driver may reuse
	// its buffer for the next row.
	src := []byte("abc")
	var got []byte
	if err := assign(&got, src); err != nil {
		t.Fatal(err)
	}
	src[0] = 'z'
	if string(got) != "abc" {
		t.Errorf("the bytes scanned changed with the driver's: %q", got)
	}
}

func ptr[T any](v T) *T { return &v }

// deref is what d, a pointer, points at.
func deref(d any) any {
	switch d := d.(type) {
	case *string:
		return *d
	case *[]byte:
		return *d
	case *int64:
		return *d
	case *int:
		return *d
	case *bool:
		return *d
	case *store.FactorState:
		return *d
	case **string:
		return *d
	case *float64:
		return *d
	case *time.Time:
		return *d
	case *any:
		return *d
	}
	panic(fmt.Sprintf("deref: %T", d))
}
