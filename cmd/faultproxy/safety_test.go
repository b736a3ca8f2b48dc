package main

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// An API on an address other machines can reach needs a token, or
// -api-insecure to say that it need not.
func TestNonLoopbackAPINeedsATokenOrInsecure(t *testing.T) {
	for _, args := range [][]string{
		{"-api", "0.0.0.0:0"},
		{"-api", ":0"},
		{"-host", "0.0.0.0", "-port", "0"},
	} {
		code, _, stderr := runBinary(t, nil, args...)
		require.Equal(t, 2, code, "%v", args)
		require.Contains(t, stderr, "not a loopback address; give -api-token", "%v", args)
	}
	code, _, stderr := runBinary(t, nil, "-api", "127.0.0.1:0", "-host", "localhost")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "give -api or Toxiproxy's -host and -port, not both")

	d := startDaemon(t, "-api", "0.0.0.0:0", "-api-insecure")
	d.must("GET", "/proxies", "", 200, nil)
	d = startDaemonEnv(t, []string{"FAULTPROXY_API_INSECURE=true"}, "-api", "0.0.0.0:0")
	d.must("GET", "/proxies", "", 200, nil)
}

// With a token, every request but GET /version needs it as a bearer
// token.
func TestAPIToken(t *testing.T) {
	for _, d := range []*proc{
		startDaemon(t, "-api", "0.0.0.0:0", "-api-token", "s3cret"),
		startDaemonEnv(t, []string{"FAULTPROXY_API_TOKEN=s3cret"}),
	} {
		_, port, _ := net.SplitHostPort(d.api)
		d.api = net.JoinHostPort("127.0.0.1", port)
		st, h, b := d.do("GET", "/proxies", "")
		requireError(t, 401, "missing or wrong bearer token", st, b)
		require.Equal(t, `Bearer realm="faultproxy"`, h.Get("WWW-Authenticate"))
		st, _, b = d.do("POST", "/proxies", `{"name":"x","upstream":"127.0.0.1:9"}`, "Authorization", "Bearer s3cre")
		requireError(t, 401, "missing or wrong bearer token", st, b)
		st, _, _ = d.do("GET", "/proxies", "", "Authorization", "Bearer s3cret")
		require.Equal(t, 200, st)
		st, _, _ = d.do("GET", "/metrics", "", "Authorization", "Bearer s3cret")
		require.Equal(t, 200, st)
		st, _, b = d.do("GET", "/version", "")
		require.Equal(t, 200, st, "liveness probes need no token")
		require.Equal(t, "{\"version\": \"2.12.0\"}\n", string(b))
	}
}
