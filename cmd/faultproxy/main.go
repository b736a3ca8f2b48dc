// Command faultproxy runs faults proxies as a daemon: a drop-in replacement
// for toxiproxy-server, driven by Toxiproxy's clients and toxiproxy-cli over
// its HTTP API, that also offers what the library does and Toxiproxy
// cannot: protocol-aware proxies (HTTP, MySQL, Redis, PostgreSQL), typed
// behaviors as expressions, seeds, events and Prometheus metrics.
//
//	faultproxy [-api 127.0.0.1:8474] [-config FILE]
//	faultproxy -listen ADDR -target ADDR [-protocol NAME] [-behavior EXPR]... [-capture FILE]
//	faultproxy replay [-speed N] [-protocol NAME] [-html FILE] ... -target ADDR FILE
//
// SIGHUP reloads the config file; SIGTERM and SIGINT close every proxy and
// exit 0. The replay subcommand plays a capture against a server and prints
// a summary. See the README's "Daemon" section.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is the whole command: it returns the exit code, 0 after SIGTERM or
// SIGINT, 2 for a bad command line, 1 for a failure to start; the replay
// subcommand's are runReplay's.
func run(args []string, env func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "replay" {
		return runReplay(args[1:], env, stdout, stderr)
	}
	o, err := parseFlags(args, env, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "faultproxy:", err)
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, versionLine())
		return 0
	}
	log, err := newLogger(stderr, o.logFormat, o.logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "faultproxy:", err)
		return 2
	}
	if err := o.checkAPIAddr(); err != nil {
		fmt.Fprintln(stderr, "faultproxy:", err)
		return 2
	}
	if err := serve(o, log); err != nil {
		log.Error("faultproxy stopped", "err", err)
		return 1
	}
	return 0
}

// serve starts the proxies and the API, and runs until SIGTERM or SIGINT.
func serve(o *options, log *slog.Logger) error {
	ctx, stop := notifyStop(context.Background())
	defer stop()
	mt := newMetrics()
	d := newDaemon(log, o.seed, o.dialTimeout, mt)
	defer d.close()

	var reload func() error
	if o.config != "" {
		reload = func() error { return loadInto(d, o.config) }
		if err := reload(); err != nil {
			return err
		}
	}
	if o.target != "" {
		s, err := o.oneProxy()
		if err != nil {
			return err
		}
		if _, err := d.create(s); err != nil {
			return fmt.Errorf("proxy %s: %w", s.name, err)
		}
	}
	srv, err := startAPI(o, log, &api{d: d, metrics: mt})
	if err != nil {
		return err
	}
	reloads := notifyReload()
	defer reloads.stop()
	for {
		select {
		case <-ctx.Done():
			log.Info("stopping", "signal", context.Cause(ctx))
			if srv != nil {
				shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				srv.Shutdown(shutdown)
				cancel()
			}
			return nil
		case <-reloads.c:
			if reload == nil {
				log.Warn("SIGHUP ignored: no -config file")
				continue
			}
			if err := reload(); err != nil {
				log.Error("config not reloaded", "file", o.config, "err", err)
			}
		}
	}
}

// loadInto creates or updates d's proxies from the config file at path,
// as /populate does.
func loadInto(d *daemon, path string) error {
	specs, err := loadConfig(path)
	if err != nil {
		return err
	}
	if _, err := d.populate(specs); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	d.log.Info("config loaded", "file", path, "proxies", len(specs))
	return nil
}

// oneProxy is the proxy -listen and -target ask for.
func (o *options) oneProxy() (spec, error) {
	proto, err := protocolNamed(o.protocol)
	if err != nil {
		return spec{}, err
	}
	bs, err := parseBehaviors(o.behaviors)
	if err != nil {
		return spec{}, err
	}
	return spec{name: o.name, listen: o.listen, upstream: o.target, protocol: proto, behaviors: bs,
		capture: o.capture, hasCapture: true}, nil
}

// startAPI serves a's routes on o.api, behind the browser check and the
// token, if any; nil without an API.
func startAPI(o *options, log *slog.Logger, a *api) (*http.Server, error) {
	if o.api == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", o.api)
	if err != nil {
		return nil, err
	}
	h := refuseBrowsers(a.routes())
	if o.apiToken != "" {
		h = requireToken(o.apiToken, h)
	}
	srv := &http.Server{
		Handler:           logRequests(log, h),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go srv.Serve(ln)
	log.Info("api listening", "addr", ln.Addr().String(), "token", o.apiToken != "")
	return srv, nil
}
