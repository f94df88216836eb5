package adapter

import "net/http"

// Detach serves each request on a goroutine of its own that ends with the request, while
// the connection's goroutine waits for it.
//
// A goroutine's stack grows to the deepest call it makes and keeps that size until a
// garbage collection finds it mostly unused; a server at rest collects rarely. net/http
// runs a keep-alive connection's requests on the goroutine that then waits, idle, for the
// next one, so every connection Verify keeps open would hold the stack of the deepest
// request it ever served: SQLite's and CEL's calls grow it to 32 KiB and more, which is
// 30 MiB and more at 1,000 connections (issue 16). Served on a goroutine that ends, a
// request's stack goes back to the runtime's pool for the next request; the connection
// keeps only the shallow stack of net/http's reading and writing.
//
// The handoff costs a goroutine start and a channel per request. A panic in h is raised
// again on the connection's goroutine, where net/http handles it as its own (it aborts
// the connection; http.ErrAbortHandler silently).
func Detach(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		done := make(chan any, 1)
		go func() {
			defer func() { done <- recover() }()
			h.ServeHTTP(w, r)
		}()
		if p := <-done; p != nil {
			panic(p)
		}
	})
}
