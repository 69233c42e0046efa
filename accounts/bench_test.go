package accounts

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ggufd/ggufd/internal/pgtest"
)

// BenchmarkAdmission measures the accounting of one request on each
// backend, with the account's rate limits on. "admit" is what runs before
// the model sees the request: admit (rate windows, concurrency slot) and
// reserve, two transactions that commit without waiting for the disk.
// "request" adds its end: release the slot and settle (ledger row, balance,
// hold deleted), the settlement committed durably (SQLite synchronous=FULL,
// PostgreSQL synchronous_commit=on). "parallel" runs GOMAXPROCS×4
// goroutines on one account, which take turns on its lock.
//
// The clock advances 100 ms per request: an account at 10 requests a
// second, whose windows hold 600 events each (the rate admission sums them
// in SQL, so a busier account costs more).
//
//	make bench-admission
func BenchmarkAdmission(b *testing.B) {
	backends := []struct {
		name string
		open func(b *testing.B) Store
	}{
		{"sqlite", func(b *testing.B) Store {
			s, err := OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"postgres", func(b *testing.B) Store {
			s, err := OpenPostgres(context.Background(), pgtest.DSNWith(b, pgtest.Options{Durable: true}))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	for _, be := range backends {
		for _, mode := range []string{"admit", "request", "request-parallel"} {
			b.Run(be.name+"/"+mode, func(b *testing.B) {
				store := be.open(b)
				defer store.Close()
				clock := &stepClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), step: 100 * time.Millisecond}
				svc := NewService(store, Config{Mode: ModeKey, Now: clock.Now})
				ctx := context.Background()
				lim := Limits{RequestsPerMinute: 1 << 30, TokensPerMinute: 1 << 30, MaxConcurrent: 1 << 20}
				if _, err := svc.CreateAccount(ctx, Account{OpenID: "acme", Balance: 1 << 50, Limits: lim}); err != nil {
					b.Fatal(err)
				}
				id := Identity{OpenID: "acme", UserID: "u", Limits: lim}
				p := Pricing{InputPer1K: 1000, OutputPer1K: 2000}
				admit := func() (*Permit, *Reservation, error) {
					clock.Tick()
					permit, err := svc.Admit(ctx, id, "m", 1<<30, TokenDemand{Fixed: 1000})
					if err != nil {
						return nil, nil, err
					}
					res, err := svc.Reserve(ctx, id, "m", p, Work{PromptTokens: 500, MaxTokens: 500})
					return permit, res, err
				}
				finish := func(permit *Permit, res *Reservation) error {
					permit.Done(600)
					_, err := svc.Settle(ctx, res, Usage{PromptTokens: 500, CompletionTokens: 100})
					return err
				}
				b.ResetTimer()
				switch mode {
				case "admit":
					for range b.N {
						permit, res, err := admit()
						if err != nil {
							b.Fatal(err)
						}
						b.StopTimer()
						if err := finish(permit, res); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
				case "request":
					for range b.N {
						permit, res, err := admit()
						if err == nil {
							err = finish(permit, res)
						}
						if err != nil {
							b.Fatal(err)
						}
					}
				case "request-parallel":
					b.SetParallelism(4)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							permit, res, err := admit()
							if err == nil {
								err = finish(permit, res)
							}
							if err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
			})
		}
	}
}

// stepClock moves on by step at each Tick, so a benchmark sets the request
// rate its windows see whatever its real speed.
type stepClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *stepClock) Tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
}
