module github.com/gofaults/faults

go 1.26.8

require (
	github.com/go-sql-driver/mysql v1.10.1
	go.uber.org/goleak v1.3.0
	golang.org/x/net v0.62.0
)

require filippo.io/edwards25519 v1.2.0 // indirect
