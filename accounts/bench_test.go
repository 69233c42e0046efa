package accounts

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ggufd/ggufd/internal/pgtest"
)

// BenchmarkAdmission measures the accounting of one request on each
// backend: admit (rate windows, concurrency slot), reserve, then at the end
// release the slot and settle (ledger row, balance, hold deleted): four
// transactions, each committed durably (SQLite synchronous=FULL; PostgreSQL
// synchronous_commit=on). "serial" is one request after another; "parallel"
// runs GOMAXPROCS×4 goroutines on one account, which serialize on its lock.
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
		for _, parallel := range []bool{false, true} {
			name := be.name + "/serial"
			if parallel {
				name = be.name + "/parallel"
			}
			b.Run(name, func(b *testing.B) {
				store := be.open(b)
				defer store.Close()
				svc := NewService(store, Config{Mode: ModeKey})
				ctx := context.Background()
				if _, err := svc.CreateAccount(ctx, Account{OpenID: "acme", Balance: 1 << 50, Limits: Limits{RequestsPerMinute: 1 << 30, TokensPerMinute: 1 << 30, MaxConcurrent: 1 << 20}}); err != nil {
					b.Fatal(err)
				}
				id := Identity{OpenID: "acme", UserID: "u", Limits: Limits{RequestsPerMinute: 1 << 30, TokensPerMinute: 1 << 30, MaxConcurrent: 1 << 20}}
				p := Pricing{InputPer1K: 1000, OutputPer1K: 2000}
				one := func() error {
					permit, err := svc.Admit(ctx, id, "m", 1<<30, 1000)
					if err != nil {
						return err
					}
					res, err := svc.Reserve(ctx, id, "m", p, 500, 500)
					if err != nil {
						return err
					}
					permit.Done(600)
					_, err = svc.Settle(ctx, res, Usage{PromptTokens: 500, CompletionTokens: 100})
					return err
				}
				b.ResetTimer()
				if !parallel {
					for b.Loop() {
						if err := one(); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := one(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
