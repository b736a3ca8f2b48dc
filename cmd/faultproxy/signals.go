package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// notifyStop returns a context canceled by SIGTERM or SIGINT, the signal
// as its cause.
func notifyStop(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, syscall.SIGTERM, os.Interrupt)
}

// reloadSignals delivers SIGHUP.
type reloadSignals struct{ c chan os.Signal }

func notifyReload() reloadSignals {
	r := reloadSignals{c: make(chan os.Signal, 1)}
	signal.Notify(r.c, syscall.SIGHUP)
	return r
}

func (r reloadSignals) stop() { signal.Stop(r.c) }
