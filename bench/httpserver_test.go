package bench

import (
	"net"
	"net/http"
	"strconv"
	"time"
)

// helloBody is what the hello-world server answers on "/", as wrk's own
// examples do.
const helloBody = "Hello, World!\n"

// helloServer is the HTTP server of TestCompareHTTP. It runs in a child
// process of its own (kind "http-hello"), like the proxies, so that neither
// wrk nor the test binary shares its CPU:
//
//	GET /          → 200, "Hello, World!\n" with Content-Length
//	GET /bytes/{n} → 200, n bytes with Content-Length, written 1 MiB at a time
type helloServer struct {
	ln  net.Listener
	srv *http.Server
}

func startHelloServer() (*helloServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 7)
	}
	hello := []byte(helloBody)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"text/plain"}
		h["Content-Length"] = []string{strconv.Itoa(len(hello))}
		w.Write(hello)
	})
	mux.HandleFunc("GET /bytes/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
		if err != nil || n < 0 || n > 1<<34 {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		for n > 0 {
			m, err := w.Write(chunk[:min(n, int64(len(chunk)))])
			if err != nil {
				return
			}
			n -= int64(m)
		}
	})
	s := &helloServer{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *helloServer) Addr() string { return s.ln.Addr().String() }

// Close closes the listener and every connection.
func (s *helloServer) Close() error { return s.srv.Close() }
