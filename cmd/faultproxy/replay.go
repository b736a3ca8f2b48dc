package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gofaults/faults/faulttest"
)

// replayUsage heads the replay subcommand's help.
const replayUsage = `faultproxy replay plays a capture (such as -capture writes) against a server:
each recorded connection on a connection of its own, its gaps divided by -speed.
It prints a summary: requests, errors, latencies, faults, and the requests whose
outcome differs from the recorded one (mismatches).

  faultproxy replay [-speed N] [-protocol NAME] [-user U -password P] [-loop N]
                    [-copies N] [-html FILE] -target ADDR FILE

Exit status: 0 when every request had its recorded outcome, 1 when any
mismatched, 2 for a bad command line, 3 when the capture cannot be read or
replayed.

`

// replayOptions are the replay subcommand's command line, checked.
type replayOptions struct {
	file, target, html string
	opts               faulttest.ReplayOptions
}

// Exit codes of the replay subcommand.
const (
	replayMatched    = 0
	replayMismatched = 1
	replayBadUsage   = 2
	replayFailed     = 3
)

// runReplay is the replay subcommand: args are those after "replay".
func runReplay(args []string, env func(string) string, stdout, stderr io.Writer) int {
	ro, err := parseReplayFlags(args, env, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return replayMatched
	}
	if err != nil {
		fmt.Fprintln(stderr, "faultproxy replay:", err)
		return replayBadUsage
	}
	rep, err := replayFile(ro)
	if err != nil {
		fmt.Fprintln(stderr, "faultproxy replay:", err)
		return replayFailed
	}
	if err := rep.WriteText(stdout); err != nil {
		fmt.Fprintln(stderr, "faultproxy replay:", err)
		return replayFailed
	}
	if ro.html != "" {
		if err := writeHTML(rep, ro.html); err != nil {
			fmt.Fprintln(stderr, "faultproxy replay:", err)
			return replayFailed
		}
	}
	if len(rep.Mismatches()) > 0 {
		return replayMismatched
	}
	return replayMatched
}

// parseReplayFlags reads the replay subcommand's command line. env looks
// up FAULTPROXY_REPLAY_PASSWORD, the default of -password.
func parseReplayFlags(args []string, env func(string) string, out io.Writer) (*replayOptions, error) {
	ro := &replayOptions{}
	fs := newFlagSet("faultproxy replay", replayUsage, out)
	fs.StringVar(&ro.target, "target", "", "replay against `host:port` (required)")
	fs.Float64Var(&ro.opts.Speed, "speed", 1, "divide the recorded gaps by `N`: 1 is real time, 4 four times as fast")
	protocol := fs.String("protocol", "", "frame the capture as `name`: tcp (default: chunks as captured), http, mysql, redis, postgres or memcached")
	fs.StringVar(&ro.opts.User, "user", "", "log in as `user` where the recorded login cannot be replayed (default: the recorded one)")
	fs.StringVar(&ro.opts.Password, "password", env("FAULTPROXY_REPLAY_PASSWORD"), "log in with `password` where the recorded login cannot be replayed (default $FAULTPROXY_REPLAY_PASSWORD)")
	fs.IntVar(&ro.opts.Loop, "loop", 1, "play the capture `N` times, one after the other")
	fs.IntVar(&ro.opts.Copies, "copies", 1, "play `N` copies of each connection side by side")
	fs.DurationVar(&ro.opts.Timeout, "timeout", faulttest.DefaultReplayTimeout, "bound each dial, login step and answer")
	fs.StringVar(&ro.html, "html", "", "also write the report as an HTML page to `FILE`")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() != 1:
		return nil, errors.New("want one capture FILE after the flags")
	case ro.target == "":
		return nil, errors.New("-target is required")
	case !(ro.opts.Speed > 0 && ro.opts.Speed <= faulttest.MaxReplaySpeed):
		return nil, fmt.Errorf("-speed %v: want more than 0 and at most %d", ro.opts.Speed, faulttest.MaxReplaySpeed)
	case ro.opts.Loop < 1 || ro.opts.Copies < 1 || ro.opts.Loop*ro.opts.Copies > faulttest.MaxReplayCopies:
		return nil, fmt.Errorf("-loop %d -copies %d: want each at least 1, and at most %d plays in all", ro.opts.Loop, ro.opts.Copies, faulttest.MaxReplayCopies)
	case ro.opts.Timeout <= 0:
		return nil, fmt.Errorf("-timeout %v: must be positive", ro.opts.Timeout)
	}
	proto, err := protocolNamed(*protocol)
	if err != nil {
		return nil, fmt.Errorf("-protocol: %w", err)
	}
	ro.opts.Protocol = proto
	ro.file = fs.Arg(0)
	ro.opts.Name = "replay of " + filepath.Base(ro.file)
	return ro, nil
}

// replayFile replays ro's capture until it ends or SIGTERM or SIGINT
// stops it.
func replayFile(ro *replayOptions) (*faulttest.Report, error) {
	f, err := os.Open(ro.file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ctx, stop := notifyStop(context.Background())
	defer stop()
	rep, err := faulttest.ReplayCapture(ctx, f, ro.target, ro.opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ro.file, err)
	}
	return rep, nil
}

// writeHTML writes rep's HTML page to path.
func writeHTML(rep *faulttest.Report, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.WriteHTML(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
