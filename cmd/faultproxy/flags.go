package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// options are the command line's, checked.
type options struct {
	api         string // "" serves no API
	apiToken    string
	apiInsecure bool
	config      string
	seed        *int64
	dialTimeout time.Duration
	logFormat   string
	logLevel    string
	version     bool

	// One-proxy mode: -listen and -target.
	listen, target, protocol, name string
	behaviors                      []string
	capture                        string
}

// usage heads the flags' help.
const usage = `faultproxy runs faults proxies as a daemon, driven over HTTP: Toxiproxy 2.12's
API (its clients and toxiproxy-cli work unchanged) and a native one.

  faultproxy [-api 127.0.0.1:8474] [-config FILE]
  faultproxy -listen ADDR -target ADDR [-protocol NAME] [-behavior EXPR]... [-capture FILE]
  faultproxy replay [-speed N] [-protocol NAME] ... -target ADDR FILE   (faultproxy replay -h)

`

// parseFlags reads the command line. env looks up environment variables
// (FAULTPROXY_API_TOKEN, FAULTPROXY_API_INSECURE, LOG_LEVEL).
func parseFlags(args []string, env func(string) string, out io.Writer) (*options, error) {
	o := &options{}
	fs := newFlagSet("faultproxy", usage, out)
	fs.StringVar(&o.api, "api", "127.0.0.1:8474", "serve the control API on `host:port` (empty: no API)")
	host := fs.String("host", "localhost", "Toxiproxy's flag: the API's host (with -port, in place of -api)")
	port := fs.String("port", "8474", "Toxiproxy's flag: the API's port (with -host, in place of -api)")
	fs.StringVar(&o.apiToken, "api-token", env("FAULTPROXY_API_TOKEN"), "require `Authorization: Bearer TOKEN` on every API request but GET /version (default $FAULTPROXY_API_TOKEN)")
	insecure := env("FAULTPROXY_API_INSECURE")
	defInsecure, _ := strconv.ParseBool(insecure)
	fs.BoolVar(&o.apiInsecure, "api-insecure", defInsecure, "allow an API on a non-loopback address without a token (default $FAULTPROXY_API_INSECURE)")
	fs.StringVar(&o.config, "config", "", "create the proxies of `FILE`: Toxiproxy's JSON or the native YAML; SIGHUP reloads it")
	seed := fs.String("seed", "", "seed the random decisions of proxies that give no seed of their own (default random)")
	fs.DurationVar(&o.dialTimeout, "dial-timeout", 0, "bound upstream dials of proxies that give no dial timeout of their own (default 5s)")
	fs.StringVar(&o.logFormat, "log-format", "text", "log as `text` or json")
	fs.StringVar(&o.logLevel, "log-level", cmp.Or(env("LOG_LEVEL"), "info"), "log at `level` debug, info, warn or error (default $LOG_LEVEL, else info)")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.StringVar(&o.listen, "listen", "", "one-proxy mode: listen on `host:port`")
	fs.StringVar(&o.target, "target", "", "one-proxy mode: forward to `host:port`")
	fs.StringVar(&o.protocol, "protocol", "", "one-proxy mode: speak `name`: tcp (default), http, mysql, redis, postgres or memcached")
	fs.StringVar(&o.name, "name", "default", "one-proxy mode: the proxy's name in the API")
	fs.Func("behavior", "one-proxy mode: install behavior `EXPR`, such as 'Latency(100ms).Downstream()' (repeatable)", func(s string) error {
		o.behaviors = append(o.behaviors, s)
		return nil
	})
	fs.StringVar(&o.capture, "capture", "", "one-proxy mode: record the proxy's traffic to `FILE` as pcapng (created or truncated), for Wireshark, tshark and faultproxy replay")
	fs.Bool("proxy-metrics", false, "Toxiproxy's flag, accepted: /metrics is always served")
	fs.Bool("runtime-metrics", false, "Toxiproxy's flag, accepted: /metrics is always served")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if given["host"] || given["port"] {
		if given["api"] {
			return nil, errors.New("give -api or Toxiproxy's -host and -port, not both")
		}
		o.api = net.JoinHostPort(*host, *port)
	}
	if *seed != "" {
		n, err := strconv.ParseInt(*seed, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("-seed %q: want an integer", *seed)
		}
		o.seed = &n
	}
	if o.dialTimeout < 0 {
		return nil, fmt.Errorf("-dial-timeout %v: must not be negative", o.dialTimeout)
	}
	if (o.listen == "") != (o.target == "") {
		return nil, errors.New("one-proxy mode needs both -listen and -target")
	}
	if o.target == "" && (given["protocol"] || len(o.behaviors) > 0 || given["capture"]) {
		return nil, errors.New("-protocol, -behavior and -capture apply to the one-proxy mode: give -listen and -target")
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return nil, fmt.Errorf("-log-format %q: want text or json", o.logFormat)
	}
	return o, nil
}

// newFlagSet returns a flag set that reports its errors, and its help
// (usage, then the flags), to out.
func newFlagSet(name, usage string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, usage)
		fs.PrintDefaults()
	}
	return fs
}

// checkAPIAddr refuses an API reachable from other machines unless a token
// guards it or -api-insecure says so.
func (o *options) checkAPIAddr() error {
	if o.api == "" || o.apiToken != "" || o.apiInsecure {
		return nil
	}
	host, _, err := net.SplitHostPort(o.api)
	if err != nil {
		return fmt.Errorf("-api %q: %w", o.api, err)
	}
	if !loopbackHost(host) {
		return fmt.Errorf("-api %s: not a loopback address; give -api-token (or $FAULTPROXY_API_TOKEN) to require a bearer token, or -api-insecure to serve it unguarded", o.api)
	}
	return nil
}

// loopbackHost reports whether every address host names is a loopback one.
func loopbackHost(host string) bool {
	if ip := net.ParseIP(host); ip != nil {
		return ip.IsLoopback()
	}
	if host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return false
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return false
		}
	}
	return true
}
