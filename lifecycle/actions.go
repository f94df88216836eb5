package lifecycle

import (
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
)

// The administrative actions the audit trail records (AdminEvent), each as resource
// "admin." and the action. They are named here, once, so that GET /audit can refuse an
// action it would never find (an empty page reads as "it never happened"), and a test
// (TestAuditActionsListed) fails when an action is audited without being listed.
const (
	ActionUsersCreate  = "users.create"
	ActionUsersUpdate  = "users.update"
	ActionUsersDelete  = "users.delete"
	ActionUsersDisable = "users.disable"
	ActionUsersEnable  = "users.enable"
	ActionUsersReset   = "users.reset"

	ActionFactorsEnroll   = "factors.enroll"
	ActionFactorsActivate = "factors.activate"
	ActionFactorsResend   = "factors.resend"
	ActionFactorsRename   = "factors.rename"
	ActionFactorsEnable   = "factors.enable"
	ActionFactorsDisable  = "factors.disable"
	ActionFactorsUnlock   = "factors.unlock"
	ActionFactorsResync   = "factors.resync"
	ActionFactorsDelete   = "factors.delete"
	ActionFactorsExpire   = "factors.expire" // the sweeper's, of a pending factor never activated

	ActionTokensCreate    = "tokens.create"
	ActionTokensRevoke    = "tokens.revoke"
	ActionClientsCreate   = "clients.create"
	ActionClientsRevoke   = "clients.revoke"
	ActionSwitchesEnable  = "switches.enable"
	ActionSwitchesDisable = "switches.disable"
	// ActionScopeRefused: a valid token asked for what its scope does not give, or sent a
	// body refused before the rules (Manager.RefuseRequest).
	ActionScopeRefused = "refused"

	ActionImport       = "import" // one per import, with its counts
	ActionImportCreate = "import.create"
	ActionImportUpdate = "import.update"
	ActionImportDelete = "import.delete"

	ActionSyncPause  = "sync.pause"
	ActionSyncResume = "sync.resume"
	ActionSyncRetry  = "sync.retry"
	ActionSyncDrop   = "sync.drop"

	ActionSelfServiceLink        = "selfservice.link"
	ActionSelfServiceOpen        = "selfservice.open"
	ActionSelfServiceSession     = "selfservice.session"
	ActionSelfServiceChoose      = "selfservice.choose"
	ActionSelfServiceEnroll      = "selfservice.enroll"
	ActionSelfServiceResend      = "selfservice.resend"
	ActionSelfServiceConfirm     = "selfservice.confirm"
	ActionSelfServiceSignInStart = "selfservice.signin.start"
	ActionSelfServiceSignIn      = "selfservice.signin" // store.ResourceSelfServiceSignIn without "admin."
)

// AdminActions lists every administrative action, as AdminEvent takes it (without
// "admin."), in the order above.
func AdminActions() []string {
	return []string{
		ActionUsersCreate, ActionUsersUpdate, ActionUsersDelete, ActionUsersDisable, ActionUsersEnable, ActionUsersReset,
		ActionFactorsEnroll, ActionFactorsActivate, ActionFactorsResend, ActionFactorsRename, ActionFactorsEnable,
		ActionFactorsDisable, ActionFactorsUnlock, ActionFactorsResync, ActionFactorsDelete, ActionFactorsExpire,
		ActionTokensCreate, ActionTokensRevoke, ActionClientsCreate, ActionClientsRevoke,
		ActionSwitchesEnable, ActionSwitchesDisable, ActionScopeRefused,
		ActionImport, ActionImportCreate, ActionImportUpdate, ActionImportDelete,
		ActionSyncPause, ActionSyncResume, ActionSyncRetry, ActionSyncDrop,
		ActionSelfServiceLink, ActionSelfServiceOpen, ActionSelfServiceSession, ActionSelfServiceChoose,
		ActionSelfServiceEnroll, ActionSelfServiceResend, ActionSelfServiceConfirm,
		ActionSelfServiceSignInStart, ActionSelfServiceSignIn,
	}
}

// AuditActions lists every action an audit row may record, as GET /audit shows and
// filters it: Verify's calls (enrollments, initiate, validate, result), what the builtin
// engine records of its own (an activation on first use, a device's registration and
// answers), a propagation to a vendor (lifecycle:EVENT), and the administrative actions
// ("admin." and the action).
func AuditActions() []string {
	out := []string{provider.ResourceEnrollments, provider.ResourceInitiate, provider.ResourceValidate, provider.ResourceResult,
		builtin.ResourceActivate, builtin.ResourceDeviceRegister, builtin.ResourceDeviceAnswer}
	for _, t := range provider.EventTypes() {
		out = append(out, provider.ResourceLifecyclePrefix+t)
	}
	for _, a := range AdminActions() {
		out = append(out, AdminResource(a))
	}
	return out
}

// AdminResource is the audit resource of an administrative action: "admin." and it.
func AdminResource(action string) string { return "admin." + action }
