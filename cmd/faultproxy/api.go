package main

import (
	"net/http"
	"slices"
	"strings"
)

// api is the daemon's HTTP API: Toxiproxy 2.12's endpoints and the
// native ones.
type api struct {
	d       *daemon
	metrics *metrics
}

// routes returns the API's handler. Every path answers its methods only;
// any other method is a 405 and any other path a 404, both in Toxiproxy's
// JSON error shape (Toxiproxy answers those two in plain text, which its
// Go client fails to decode).
func (a *api) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/version", methods{"GET": a.version})
	mux.Handle("/proxies", methods{"GET": a.proxyIndex, "POST": a.proxyCreate})
	mux.Handle("/proxies/{proxy}", methods{"GET": a.proxyShow, "POST": a.proxyUpdate, "PATCH": a.proxyUpdate, "DELETE": a.proxyDelete})
	mux.Handle("/proxies/{proxy}/toxics", methods{"GET": a.toxicIndex, "POST": a.toxicCreate})
	mux.Handle("/proxies/{proxy}/toxics/{toxic}", methods{"GET": a.toxicShow, "POST": a.toxicUpdate, "PATCH": a.toxicUpdate, "DELETE": a.toxicDelete})
	mux.Handle("/populate", methods{"POST": a.populate})
	mux.Handle("/reset", methods{"POST": a.reset})
	mux.Handle("/proxies/{proxy}/behaviors", methods{"GET": a.behaviorsShow, "PUT": a.behaviorsSet, "DELETE": a.behaviorsDelete})
	mux.Handle("/proxies/{proxy}/events", methods{"GET": a.events})
	mux.Handle("/proxies/{proxy}/stats", methods{"GET": a.stats})
	mux.Handle("/metrics", methods{"GET": a.metrics.handler().ServeHTTP})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusNotFound, "no such endpoint: %s", r.URL.Path))
	})
	return mux
}

// methods serves one path: a handler per method.
type methods map[string]http.HandlerFunc

func (ms methods) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := ms[r.Method]; h != nil {
		h(w, r)
		return
	}
	allowed := make([]string, 0, len(ms))
	for m := range ms {
		allowed = append(allowed, m)
	}
	slices.Sort(allowed)
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	writeError(w, errorf(http.StatusMethodNotAllowed, "method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allowed, ", ")))
}

// reply is what a handler answers: a status and a body to write as JSON
// (none for 204).
type reply struct {
	status int
	body   any
}

func (rp reply) write(w http.ResponseWriter) {
	if rp.status == http.StatusNoContent {
		w.WriteHeader(rp.status)
		return
	}
	writeJSON(w, rp.status, rp.body)
}

// withProxy runs fn on the proxy the path names, locked, and writes its
// reply once the lock is released (so that a slow reader of the reply
// holds up nobody), or answers 404.
func (a *api) withProxy(w http.ResponseWriter, r *http.Request, fn func(m *managed) (reply, error)) {
	m, err := a.d.get(r.PathValue("proxy"))
	if err != nil {
		writeError(w, err)
		return
	}
	m.mu.Lock()
	var rp reply
	if m.gone {
		err = errProxyNotFound
	} else {
		rp, err = fn(m)
	}
	m.mu.Unlock()
	if err != nil {
		writeError(w, err)
		return
	}
	rp.write(w)
}
