package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// refuseBrowsers answers 403 to requests from web browsers (a User-Agent
// starting with "Mozilla/"), exactly as Toxiproxy does, so that a web page
// cannot reconfigure proxies through a user's browser.
func refuseBrowsers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.UserAgent(), "Mozilla/") {
			http.Error(w, "User agent not allowed", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireToken answers 401 to requests without "Authorization: Bearer
// token", except GET /version, which liveness probes (testcontainers')
// call without credentials. The comparison takes the same time whatever
// the header holds: both sides are hashed first, so not even the token's
// length leaks.
func requireToken(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte("Bearer " + token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 && r.URL.Path != "/version" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="faultproxy"`)
			writeError(w, errorf(http.StatusUnauthorized, "missing or wrong bearer token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// logRequests logs each request at debug level, with its status and how
// long it took.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		log.Debug("api", "method", r.Method, "path", r.URL.Path, "status", sw.status, "took", time.Since(start))
	})
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
