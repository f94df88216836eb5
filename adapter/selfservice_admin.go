package adapter

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/lifecycle"
)

var errSelfServiceDisabled = &lifecycle.Error{Kind: lifecycle.Conflict, Code: "self_service_disabled", Msg: "selfService.enabled is false: there is no page to link to"}

// routeActivationLinks serves POST /admin/v1/users/{name}/activation-link: a new
// single-use link to the self-service page, e-mailed to the user, or returned to the
// caller with {"deliver": false} (a ticketing system hands it on). Its x-scope is
// helpdesk, which may have a link sent to the user's own address; a link returned could
// go to anyone, so that needs write.
func (s *Server) routeActivationLinks(e *echo.Echo, m *lifecycle.Manager, ss *lifecycle.SelfService) {
	api := adminAPI{s: s, m: m}
	api.route(e, http.MethodPost, AdminPrefix+"/users/:user/activation-link", func(c echo.Context) error {
		in := struct {
			Deliver *bool `json:"deliver"`
		}{}
		if err := optionalBody(c, &in); err != nil {
			return err
		}
		deliver := in.Deliver == nil || *in.Deliver
		if !deliver {
			if err := api.needScope(c, lifecycle.ScopeWrite); err != nil {
				return err
			}
		}
		if ss == nil {
			return errSelfServiceDisabled
		}
		l, err := ss.IssueLink(c.Request().Context(), actor(c), param(c, "user"), deliver)
		if err != nil {
			return err
		}
		c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
		return c.JSON(http.StatusCreated, l)
	})
}
