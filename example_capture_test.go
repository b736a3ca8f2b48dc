package faults_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/gofaults/faults"
)

// A proxy writes everything it carries to a pcapng file, which Wireshark
// and tshark open; here with the credentials left out. faulttest.Replay
// plays such a file back against a server.
func ExampleWithCapture() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer api.Close()
	dir, err := os.MkdirTemp("", "capture")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	f, err := os.Create(filepath.Join(dir, "api.pcapng"))
	if err != nil {
		panic(err)
	}
	p, err := faults.NewProxy(api.Listener.Addr().String(), faults.WithProtocol(faults.HTTP()),
		faults.WithCapture(f, faults.RedactSecrets()))
	if err != nil {
		panic(err)
	}

	req, _ := http.NewRequest("GET", "http://"+p.Addr()+"/account", nil)
	req.Header.Set("Authorization", "Bearer s3cret-t0ken")
	client := &http.Client{Transport: &http.Transport{}}
	resp, err := client.Do(req)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	client.CloseIdleConnections()

	if err := p.Close(); err != nil { // writes the rest of the capture
		panic(err)
	}
	if err := f.Close(); err != nil { // the file is the caller's again
		panic(err)
	}
	b, _ := os.ReadFile(f.Name())
	fmt.Println("pcapng:", bytes.HasPrefix(b, []byte{0x0a, 0x0d, 0x0d, 0x0a}))
	fmt.Println("holds the token:", bytes.Contains(b, []byte("s3cret-t0ken")))
	fmt.Println("holds the request:", bytes.Contains(b, []byte("GET /account HTTP/1.1\r\n")))
	// Then: tshark -r api.pcapng -d tcp.port==PORT,http (the server's port).

	// Output:
	// pcapng: true
	// holds the token: false
	// holds the request: true
}
