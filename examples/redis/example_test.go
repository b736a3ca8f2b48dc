package rediscache_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	rediscache "github.com/gofaults/faults/examples/redis"
)

// A cache of item names in front of a database. Reads never fail because
// of Redis: a Redis that is down, slow or loading only makes them go to the
// database.
func Example() {
	const timeout = 50 * time.Millisecond // each Redis call's budget
	rdb := redis.NewClient(rediscache.Options("127.0.0.1:6379", timeout))
	defer rdb.Close()

	db := rediscache.SourceFunc(func(ctx context.Context, id string) (string, error) {
		return "item " + id, nil // SELECT name FROM items WHERE id = ?
	})
	cache := rediscache.New(rdb, db, rediscache.Config{
		Prefix:  "item:",
		Timeout: timeout,
		TTL:     10 * time.Minute,
		OnRedisError: func(op string, err error) {
			log.Printf("cache %s: %v (served from the database)", op, err)
		},
	})

	name, err := cache.Get(context.Background(), "42")
	if err != nil {
		log.Fatal(err) // the database failed
	}
	fmt.Println(name)

	names, err := cache.GetMany(context.Background(), []string{"1", "2", "3"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(names)
	s := cache.Stats()
	fmt.Printf("hits %d, misses %d, fallbacks %d\n", s.Hits, s.Misses, s.Fallbacks)
}
