package provider

import (
	"context"
	"time"
)

// Lifecycle event types: what a directory (SCIM, Okta event hooks, Verify notifications,
// Auth0 log streams) says happened to a user or group, in one vocabulary for every source.
const (
	EventUserCreate        = "user.create"
	EventUserUpdate        = "user.update" // profile: email, phone, displayName, attributes
	EventUserDisable       = "user.disable"
	EventUserEnable        = "user.enable"
	EventUserDelete        = "user.delete"
	EventUserMFAReset      = "user.mfa.reset"
	EventGroupCreate       = "group.create"
	EventGroupRename       = "group.rename"
	EventGroupDelete       = "group.delete"
	EventGroupMemberAdd    = "group.member.add"
	EventGroupMemberRemove = "group.member.remove"
)

// KnownEventType says whether t is one of the Event* types this version applies. Every
// source maps its own events to these before queueing them, so a queued event of another
// type was queued by a newer version of emfa.
func KnownEventType(t string) bool {
	switch t {
	case EventUserCreate, EventUserUpdate, EventUserDisable, EventUserEnable, EventUserDelete, EventUserMFAReset,
		EventGroupCreate, EventGroupRename, EventGroupDelete, EventGroupMemberAdd, EventGroupMemberRemove:
		return true
	}
	return false
}

// EventTypes lists the Event* types, those KnownEventType knows.
func EventTypes() []string {
	return []string{EventUserCreate, EventUserUpdate, EventUserDisable, EventUserEnable, EventUserDelete, EventUserMFAReset,
		EventGroupCreate, EventGroupRename, EventGroupDelete, EventGroupMemberAdd, EventGroupMemberRemove}
}

// ResourceLifecyclePrefix begins the audit resource of an event's propagation to a
// vendor: lifecycle:user.disable.
const ResourceLifecyclePrefix = "lifecycle:"

// A user's states, as a user.update's State says them.
const (
	StateActive   = "active"
	StateDisabled = "disabled"
)

// LifecycleEvent is one directory event, as applied to emfa's store and propagated to the
// remote vendors that declare lifecycle resources. Fields a type does not use are empty.
type LifecycleEvent struct {
	// ID is the source's own id of the event (Okta's uuid, Verify's id, …): applying an
	// event twice changes nothing the second time.
	ID     string
	Type   string // one of the Event* constants
	Source string // scim, okta, verify, auth0, admin, import
	// Time is when the source says it happened; events of one user apply in this order.
	Time     time.Time
	Username string
	// Profile, for user.create and user.update; nil pointers are "not said".
	Email *string
	Phone *string
	// Country is the user's country (ISO 3166-1 alpha-2), whose national phone numbers
	// the user's are.
	Country     *string `json:",omitempty"`
	DisplayName *string
	// Attributes: nil is "not said"; an empty map (JSON {}) is "none left", and clears them.
	Attributes map[string]any
	// Disabled, on user.create: the user is created disabled (SCIM's active false), in the
	// same step, never active in between. Propagated as user.create then user.disable.
	Disabled bool `json:",omitempty"`
	// Exclusive, on user.create and group.create: it creates the user or group or is
	// refused (user_exists, group_exists), never takes one that exists (a SCIM POST: of
	// two at once, one is answered 409). A user that already holds what it says, or the
	// group made under this event's ID, counts as its own creation (applied before a kill).
	Exclusive bool `json:",omitempty"`
	// UserID, on an Exclusive user.create (a SCIM POST's), is the id the user is created
	// under: the POST answers by it the user it created, not another made under its name
	// since, and a replay after a kill knows its own user by it (not by a profile alike).
	UserID string `json:",omitempty"`
	// State, on user.update: the user's state (StateActive or StateDisabled) changes with
	// its profile, in the same commit; empty when the update leaves it. Propagated as
	// user.update, then user.disable or user.enable.
	State string `json:",omitempty"`
	// IfRevision, on user.update, user.disable, user.enable, user.delete and
	// group.member.add|remove: it applies only to the user at this revision, the one it
	// was computed from (a SCIM PUT or PATCH, which says the whole profile; a write
	// conditional on an If-Match; the one whose order the queue checked), and is refused
	// when another change came between rather than undo it.
	IfRevision *int64 `json:",omitempty"`
	// IfUser, on the same events: it applies only to the user of this id (a SCIM write,
	// which names the user by its id), refused when the user of its name is another,
	// deleted and created again since, whose revision may be the one IfRevision names.
	IfUser string `json:",omitempty"`
	// Whole marks the events of one group write (a SCIM POST, PUT, PATCH or DELETE of a
	// group), applied together in one step or not at all; the write's commit records them
	// applied. A worker that finds one of them not applied (its process ended before the
	// write's commit) applies nothing of it on its own and refuses it; one recorded
	// applied it propagates.
	Whole bool `json:",omitempty"`
	// Group, for group events; NewGroup is a rename's new name.
	Group    string
	NewGroup string
	// RequestID is the id of the request that queued the event (its X-Request-ID), which
	// the audit records of its apply carry, however much later a worker applies it.
	RequestID string `json:",omitempty"`
	// Actor, on the propagation of an admin's change (source admin), is who made it: the
	// admin token's name, cli. The vendor's calls are audited with it; without it (a
	// directory's event, a propagation queued by an older emfa) they are audited with
	// sync:SOURCE.
	Actor string `json:",omitempty"`
}

// LifecyclePropagator carries an applied event to a vendor (a remote provider's lifecycle
// resources). An error is retried by the queue that calls it, then dead-lettered.
type LifecyclePropagator interface {
	Propagate(ctx context.Context, ev LifecycleEvent) error
}
