package accounts

import (
	"context"
	"testing"
)

// BenchmarkReserveSettle measures the accounting overhead of one request:
// a balance read, then one fsynced transaction (synchronous=FULL).
func BenchmarkReserveSettle(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b, ModeKey)
	if _, err := f.svc.CreateAccount(ctx, Account{OpenID: "acme", Balance: 1 << 50}); err != nil {
		b.Fatal(err)
	}
	id := Identity{OpenID: "acme", UserID: "u"}
	p := Pricing{InputPer1K: 1000, OutputPer1K: 2000}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := f.svc.Reserve(ctx, id, "m", p, 500, 500)
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := f.svc.Settle(ctx, res, Usage{PromptTokens: 500, CompletionTokens: 100}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
