package adapter

import (
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/provider"
)

// maxLoggedPath bounds the request path in a log line: a caller chooses it, up to the
// header limit.
const maxLoggedPath = 512

// linkRoute is the activation link's route, which a log line says for its path.
const linkRoute = "/self-service/link/:token"

// loggedPath is the request's path as a log line may carry it: escaped and bounded, and
// with a secret in it (an activation link's token, which opening does not spend) as its
// route names it. A path shaped like a link is one whatever route it matched, if any: a
// replica without the page (a rolling change that turns it on) or a doubled slash is no
// route, and the token in it is a link's all the same.
func loggedPath(c echo.Context) string {
	if strings.Contains(c.Path(), ":token") || isLinkPath(c.Request().URL.Path) {
		return linkRoute
	}
	return provider.Printable(c.Request().URL.Path, maxLoggedPath)
}

// isLinkPath reports whether p, cleaned and in any case, is under the link's route.
func isLinkPath(p string) bool {
	const prefix = "/self-service/link/"
	if !containsLink(p) {
		return false // cleaning makes no letters: no path without "link" is one (path.Clean, ~800 instructions a log line)
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	p = path.Clean(p) // "/"+p with p's own slash was never clean: two allocations a log line
	return len(p) > len(prefix) && strings.EqualFold(p[:len(prefix)], prefix)
}

// containsLink reports whether p holds "link" in any case.
func containsLink(p string) bool {
	for i := 0; i+4 <= len(p); i++ {
		if p[i]|0x20 == 'l' && p[i+1]|0x20 == 'i' && p[i+2]|0x20 == 'n' && p[i+3]|0x20 == 'k' {
			return true
		}
	}
	return false
}
