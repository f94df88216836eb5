package adapter

import (
	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/provider"
)

// maxLoggedPath bounds the request path in a log line: a caller chooses it, up to the
// header limit.
const maxLoggedPath = 512

// loggedPath is the request's path as a log line may carry it: escaped and bounded.
func loggedPath(c echo.Context) string {
	return provider.Printable(c.Request().URL.Path, maxLoggedPath)
}
