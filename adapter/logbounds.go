package adapter

import (
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/provider"
)

// maxLoggedPath bounds the request path in a log line: a caller chooses it, up to the
// header limit.
const maxLoggedPath = 512

// loggedPath is the request's path as a log line may carry it: escaped and bounded, and
// with a secret in it (an activation link's token, which opening does not spend) as its
// route names it.
func loggedPath(c echo.Context) string {
	if strings.Contains(c.Path(), ":token") {
		return c.Path()
	}
	return provider.Printable(c.Request().URL.Path, maxLoggedPath)
}
