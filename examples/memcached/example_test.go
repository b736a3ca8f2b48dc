package mccache_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	mccache "github.com/gofaults/faults/examples/memcached"
)

// A cache of item names in front of a database. However many readers miss
// an id at once, the database loads it once.
func Example() {
	mc := memcache.New("127.0.0.1:11211")
	mc.Timeout = 50 * time.Millisecond // each memcached call's budget
	defer mc.Close()

	db := mccache.SourceFunc(func(ctx context.Context, id string) (string, error) {
		return "item " + id, nil // SELECT name FROM items WHERE id = ?
	})
	cache := mccache.New(mc, db, mccache.Config{Prefix: "item:", TTL: 10 * time.Minute})

	name, err := cache.Get(context.Background(), "42")
	if err != nil {
		log.Fatal(err) // the database failed
	}
	fmt.Println(name)
	s := cache.Stats()
	fmt.Printf("hits %d, misses %d, database loads %d\n", s.Hits, s.Misses, s.Loads)
}
