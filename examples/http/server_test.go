package apiclient

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// api is the in-process server the client talks to, through a proxy. It
// counts what reached it, which is what the tests check against what the
// client saw:
//
//	GET  /items/{id}  → 200 {"id":…,"name":…,"price":…}
//	POST /orders      → 201 the order with a new ID; with an Idempotency-Key
//	                    seen before, 201 the order made for that key, and
//	                    no new one
type api struct {
	srv *httptest.Server

	mu        sync.Mutex
	itemHits  map[string]int   // GET /items/{id} requests, per id
	posts     int              // POST /orders requests
	keyPosts  map[string]int   // of which with each Idempotency-Key
	orders    []Order          // orders created, in order
	byKey     map[string]Order // the order created for each key
	itemPosts map[string]int   // POST /orders requests per item ID
	faultHdrs int              // requests that arrived with an X-Faults header
}

// startAPI starts the server; it is closed at the end of the test.
func startAPI(t *testing.T) *api {
	a := &api{}
	a.reset()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", a.getItem)
	mux.HandleFunc("POST /orders", a.createOrder)
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header["X-Faults"]; ok {
			a.mu.Lock()
			a.faultHdrs++
			a.mu.Unlock()
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// addr is the server's host:port, the proxy's target.
func (a *api) addr() string { return strings.TrimPrefix(a.srv.URL, "http://") }

// reset forgets every count and order.
func (a *api) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.itemHits = map[string]int{}
	a.posts = 0
	a.keyPosts = map[string]int{}
	a.orders = nil
	a.byKey = map[string]Order{}
	a.itemPosts = map[string]int{}
	a.faultHdrs = 0
}

func (a *api) getItem(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a.mu.Lock()
	a.itemHits[id]++
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, Item{ID: id, Name: "item " + id, Price: 100})
}

func (a *api) createOrder(w http.ResponseWriter, r *http.Request) {
	var o Order
	if err := json.NewDecoder(r.Body).Decode(&o); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	a.mu.Lock()
	a.posts++
	a.itemPosts[o.ItemID]++
	if key != "" {
		a.keyPosts[key]++
		if prev, ok := a.byKey[key]; ok {
			a.mu.Unlock()
			writeJSON(w, http.StatusCreated, prev)
			return
		}
	}
	o.ID = "order-" + strconv.Itoa(len(a.orders)+1)
	a.orders = append(a.orders, o)
	if key != "" {
		a.byKey[key] = o
	}
	a.mu.Unlock()
	writeJSON(w, http.StatusCreated, o)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// counts is a snapshot of what reached the server.
type counts struct {
	itemHits  map[string]int
	posts     int
	keyPosts  map[string]int
	itemPosts map[string]int
	orders    []Order
	faultHdrs int
}

func (a *api) counts() counts {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := counts{itemHits: map[string]int{}, posts: a.posts, keyPosts: map[string]int{}, itemPosts: map[string]int{},
		orders: append([]Order(nil), a.orders...), faultHdrs: a.faultHdrs}
	for k, v := range a.itemHits {
		c.itemHits[k] = v
	}
	for k, v := range a.keyPosts {
		c.keyPosts[k] = v
	}
	for k, v := range a.itemPosts {
		c.itemPosts[k] = v
	}
	return c
}
