package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxBody bounds every request body the API reads.
const maxBody = 1 << 20

// apiError is an error with the HTTP status it is answered with. Its body
// has Toxiproxy's shape: {"error":"proxy not found","status":404}.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) *apiError {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

// The errors Toxiproxy's clients know by their text.
var (
	errProxyNotFound = errorf(http.StatusNotFound, "proxy not found")
	errProxyExists   = errorf(http.StatusConflict, "proxy already exists")
	errToxicNotFound = errorf(http.StatusNotFound, "toxic not found")
	errToxicExists   = errorf(http.StatusConflict, "toxic already exists")
	errInvalidType   = errorf(http.StatusBadRequest, "invalid toxic type")
	errInvalidStream = errorf(http.StatusBadRequest, "stream was invalid, can be either upstream or downstream")
)

// statusOf returns the status to answer err with: an apiError's own, 500
// for anything else.
func statusOf(err error) int {
	if ae, ok := errors.AsType[*apiError](err); ok {
		return ae.status
	}
	return http.StatusInternalServerError
}

// writeJSON answers with v as compact JSON, as Toxiproxy does (no trailing
// newline).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// writeError answers with err in Toxiproxy's error shape, followed by a
// newline as Toxiproxy's are. Unlike Toxiproxy, whose error bodies are
// labelled text/plain, the body is labelled JSON, which it is.
func writeError(w http.ResponseWriter, err error) {
	status := statusOf(err)
	b, _ := json.Marshal(struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
	}{err.Error(), status})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// decodeBody decodes r's JSON body into v. An empty, malformed or
// oversized body is a 400 (413 for oversized) naming the problem, as
// "bad request body: …".
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(v)
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return errorf(http.StatusRequestEntityTooLarge, "bad request body: larger than %d bytes", maxBody)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errorf(http.StatusBadRequest, "bad request body: truncated JSON")
	}
	return errorf(http.StatusBadRequest, "bad request body: %v", err)
}
