package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofaults/faults"
)

// The child process protocol. The benchmark re-executes its own test binary
// with -test.run=^TestHelperProxyProcess$ and these variables set; the child
// starts one proxy, prints "addr HOST:PORT" on stdout, then answers commands
// read from stdin line by line until stdin closes:
//
//	mem   →  "mem HEAP_AND_STACK_BYTES GOROUTINES" after a runtime.GC
const (
	envChildKind   = "FAULTS_BENCH_CHILD"  // one of the kinds below
	envChildTarget = "FAULTS_BENCH_TARGET" // the upstream host:port
)

// Child proxy kinds.
const (
	kindPlain           = "plain"                // plainProxy: io.Copy, spliced
	kindFaults          = "faults"               // faults.NewProxy, nothing set
	kindFaultsInspect   = "faults-inspect"       // faults.NewProxy + Bandwidth(1<<50)
	kindFaultsHTTP      = "faults-http"          // faults.NewProxy + WithProtocol(HTTP()), nothing set
	kindFaultsMySQL     = "faults-mysql"         // faults.NewProxy + WithProtocol(MySQL()), nothing set
	kindFaultsRedis     = "faults-redis"         // faults.NewProxy + WithProtocol(Redis()), nothing set
	kindFaultsPostgres  = "faults-postgres"      // faults.NewProxy + WithProtocol(Postgres()), nothing set
	kindFaultsMemcached = "faults-memcached"     // faults.NewProxy + WithProtocol(Memcached()), nothing set
	kindHTTPCapture     = "faults-http+capture"  // faults-http + WithCapture to a file
	kindRedisCapture    = "faults-redis+capture" // faults-redis + WithCapture to a file
	kindHTTPHello       = "http-hello"           // not a proxy: the HTTP server of TestCompareHTTP (target unused)
)

// TestHelperProxyProcess is not a test: it is the body of a child proxy
// process and skips unless FAULTS_BENCH_CHILD is set.
func TestHelperProxyProcess(t *testing.T) {
	kind := os.Getenv(envChildKind)
	if kind == "" {
		t.Skip("helper process for the benchmarks: runs only when they re-execute the test binary")
	}
	target := os.Getenv(envChildTarget)
	var (
		p interface {
			Addr() string
			Close() error
		}
		err error
	)
	switch kind {
	case kindPlain:
		p, err = startPlainProxy(target)
	case kindHTTPHello:
		p, err = startHelloServer()
	case kindFaults, kindFaultsInspect, kindFaultsHTTP, kindFaultsMySQL, kindFaultsRedis, kindFaultsPostgres, kindFaultsMemcached, kindHTTPCapture, kindRedisCapture:
		var opts []faults.Option
		switch kind {
		case kindFaultsHTTP, kindHTTPCapture:
			opts = append(opts, faults.WithProtocol(faults.HTTP()))
		case kindFaultsMySQL:
			opts = append(opts, faults.WithProtocol(faults.MySQL()))
		case kindFaultsRedis, kindRedisCapture:
			opts = append(opts, faults.WithProtocol(faults.Redis()))
		case kindFaultsPostgres:
			opts = append(opts, faults.WithProtocol(faults.Postgres()))
		case kindFaultsMemcached:
			opts = append(opts, faults.WithProtocol(faults.Memcached()))
		}
		if kind == kindHTTPCapture || kind == kindRedisCapture {
			f, cerr := newCaptureSink()
			if cerr != nil {
				t.Fatal(cerr)
			}
			defer f.Close()
			opts = append(opts, faults.WithCapture(f))
		}
		var fp *faults.Proxy
		fp, err = faults.NewProxy(target, opts...)
		if err == nil && kind == kindFaultsInspect {
			// A limit no test reaches, but one that must see every byte:
			// it forces the proxy's byte-inspecting copy loop.
			if err = fp.Set(faults.Bandwidth(1 << 50)); err != nil {
				fp.Close()
			}
		}
		p = fp
	default:
		t.Fatalf("unknown %s=%q", envChildKind, kind)
	}
	if err != nil {
		t.Fatalf("start %s proxy to %s: %v", kind, target, err)
	}
	fmt.Printf("addr %s\n", p.Addr())
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		switch sc.Text() {
		case "mem":
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Printf("mem %d %d\n", ms.HeapInuse+ms.StackInuse, runtime.NumGoroutine())
		default:
			fmt.Printf("error unknown command %q\n", sc.Text())
		}
	}
	if err := p.Close(); err != nil {
		t.Errorf("close %s proxy: %v", kind, err)
	}
	if fp, ok := p.(*faults.Proxy); ok && fp.Stats().CaptureDropped > 0 {
		// Bytes left out were never written: the CPU measured is less
		// than capturing everything costs.
		t.Errorf("the capture left out %d bytes: its writer fell behind, so its CPU is understated", fp.Stats().CaptureDropped)
	}
}

// childProxy is a proxy running in a child process: the test binary
// re-executed in TestHelperProxyProcess.
type childProxy struct {
	kind   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *capWriter
	addr   string
	once   sync.Once
	err    error
}

// startChild starts a child proxy of the given kind in front of target and
// waits (at most 10 s) for it to report its address.
func startChild(kind, target string) (*childProxy, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProxyProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envChildKind+"="+kind, envChildTarget+"="+target)
	stderr := &capWriter{max: 64 << 10}
	cmd.Stderr = stderr
	dieWithParent(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &childProxy{kind: kind, cmd: cmd, stdin: stdin, stdout: bufio.NewReader(out), stderr: stderr}
	line, err := c.readLine(10 * time.Second)
	addr, ok := strings.CutPrefix(line, "addr ")
	if err != nil || !ok {
		cerr := c.Close()
		return nil, fmt.Errorf("child %s proxy did not start: first line %q, %v; exit: %v", kind, line, err, cerr)
	}
	c.addr = addr
	return c, nil
}

// readLine reads one line of the child's stdout; if none comes within d the
// child is killed, which ends the read.
func (c *childProxy) readLine(d time.Duration) (string, error) {
	kill := time.AfterFunc(d, func() { c.cmd.Process.Kill() })
	defer kill.Stop()
	line, err := c.stdout.ReadString('\n')
	return strings.TrimSpace(line), err
}

func (c *childProxy) Addr() string { return c.addr }
func (c *childProxy) PID() int     { return c.cmd.Process.Pid }

// mem asks the child for its Go heap+stack in use (after a GC) and its
// goroutine count.
func (c *childProxy) mem() (heapStack int64, goroutines int, err error) {
	if _, err := io.WriteString(c.stdin, "mem\n"); err != nil {
		return 0, 0, err
	}
	line, err := c.readLine(10 * time.Second)
	if err != nil {
		return 0, 0, err
	}
	if _, err := fmt.Sscanf(line, "mem %d %d", &heapStack, &goroutines); err != nil {
		return 0, 0, fmt.Errorf("child answered %q: %v", line, err)
	}
	return heapStack, goroutines, nil
}

// Close closes the child's stdin, which makes it close its proxy and exit,
// and waits (at most 10 s, then kills it). A child that fails its own checks
// (the proxy's Close, goleak) makes Close return an error with its output.
func (c *childProxy) Close() error {
	c.once.Do(func() {
		c.stdin.Close()
		kill := time.AfterFunc(10*time.Second, func() { c.cmd.Process.Kill() })
		defer kill.Stop()
		rest, _ := io.ReadAll(io.LimitReader(c.stdout, 64<<10))
		io.Copy(io.Discard, c.stdout)
		if err := c.cmd.Wait(); err != nil {
			c.err = fmt.Errorf("child %s proxy: %v\nstdout: %s\nstderr: %s", c.kind, err, rest, c.stderr)
		}
	})
	return c.err
}

// capWriter keeps the first max bytes written to it; it is safe for
// concurrent use.
type capWriter struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (w *capWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := w.max - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (w *capWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
