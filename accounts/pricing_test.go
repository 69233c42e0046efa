package accounts

import (
	"testing"
	"time"
)

func TestPricingCost(t *testing.T) {
	cached := MoneyFromFloat(0.001)
	tests := []struct {
		name string
		p    Pricing
		u    Usage
		want Money
	}{
		{"free", Pricing{}, Usage{PromptTokens: 1000, CompletionTokens: 1000}, 0},
		{"tokens in and out", Pricing{InputPer1K: MoneyFromFloat(0.01), OutputPer1K: MoneyFromFloat(0.03)},
			Usage{PromptTokens: 1500, CompletionTokens: 500}, MoneyFromFloat(0.015 + 0.015)},
		{"cached defaults to input price", Pricing{InputPer1K: MoneyFromFloat(0.01)},
			Usage{PromptTokens: 1000, CachedTokens: 600}, MoneyFromFloat(0.01)},
		{"cached tokens own price", Pricing{InputPer1K: MoneyFromFloat(0.01), CachedInputPer1K: &cached},
			Usage{PromptTokens: 1000, CachedTokens: 600}, MoneyFromFloat(0.004 + 0.0006)},
		{"cached beyond prompt is clamped", Pricing{InputPer1K: MoneyFromFloat(0.01), CachedInputPer1K: &cached},
			Usage{PromptTokens: 100, CachedTokens: 600}, MoneyFromFloat(0.0001)},
		{"sub-micro token prices add up before rounding", Pricing{InputPer1K: 1}, // 0.001 micro per token
			Usage{PromptTokens: 2500}, 3}, // 2.5 rounds half up
		{"per second", Pricing{PerSecond: MoneyFromFloat(0.02)},
			Usage{Processing: 2500 * time.Millisecond}, MoneyFromFloat(0.05)},
		{"per second capped at MaxSeconds", Pricing{PerSecond: MoneyFromFloat(0.02), MaxSeconds: 10},
			Usage{Processing: time.Minute}, MoneyFromFloat(0.2)},
		{"per second without max_seconds is not capped", Pricing{PerSecond: MicrosPerUnit},
			Usage{Processing: time.Hour}, 3600 * MicrosPerUnit},
		{"tokens plus seconds", Pricing{OutputPer1K: MicrosPerUnit, PerSecond: MicrosPerUnit},
			Usage{CompletionTokens: 1000, Processing: time.Second}, 2 * MicrosPerUnit},
		// At the largest configurable price (config.MaxPrice, 1e12 micro-units
		// per 1K) tokens × price passes int64 from 9.2 million tokens on.
		{"largest price, ten million tokens", Pricing{InputPer1K: 1e12, OutputPer1K: 1e12},
			Usage{PromptTokens: 2_000_000, CompletionTokens: 8_000_001}, 10_000_001 * 1e9},
		{"largest price, sub-thousand remainders round once", Pricing{InputPer1K: 1e12 + 1, OutputPer1K: 1},
			Usage{PromptTokens: 10_000_499, CompletionTokens: 1}, 10_000_499*(1e9) + 10_001}, // …+10,000.5 rounds up
		{"largest per-second price, a day", Pricing{PerSecond: 1e12},
			Usage{Processing: 24*time.Hour + 1500*time.Millisecond}, (86_400 + 1.5) * 1e12},
		// A cap under a millisecond was 0, which means no cap.
		{"max_seconds under a millisecond still caps", Pricing{PerSecond: MicrosPerUnit, MaxSeconds: 1e-10},
			Usage{Processing: time.Hour}, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Cost(tt.u); got != tt.want {
				t.Fatalf("Cost = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestPricingReservation(t *testing.T) {
	dear := MoneyFromFloat(0.05)
	measured := Speed{PromptToken: 10 * time.Millisecond, GenToken: 100 * time.Millisecond}
	tests := []struct {
		name string
		p    Pricing
		w    Work
		want Money
	}{
		{"tokens", Pricing{InputPer1K: MoneyFromFloat(0.01), OutputPer1K: MoneyFromFloat(0.03)},
			Work{PromptTokens: 1000, MaxTokens: 2000}, MoneyFromFloat(0.07)},
		{"dearer cached price counts", Pricing{InputPer1K: MoneyFromFloat(0.01), CachedInputPer1K: &dear},
			Work{PromptTokens: 1000}, dear},
		// 100 prompt tokens × 10ms + 8 generated × 100ms = 1.8s, × 1.5 margin = 2.7s.
		{"per second from the measured speed", Pricing{PerSecond: MoneyFromFloat(1.9)},
			Work{PromptTokens: 100, MaxTokens: 8, Speed: measured}, MoneyFromFloat(1.9 * 2.7)},
		{"measured speed capped by max_seconds", Pricing{PerSecond: MoneyFromFloat(0.5), MaxSeconds: 2},
			Work{PromptTokens: 100, MaxTokens: 8, Speed: measured}, MoneyFromFloat(1)},
		{"unknown speed reserves max_seconds", Pricing{PerSecond: MoneyFromFloat(0.5), MaxSeconds: 30},
			Work{PromptTokens: 10, MaxTokens: 10}, MoneyFromFloat(15)},
		{"unknown speed without max_seconds", Pricing{PerSecond: MoneyFromFloat(0.01)},
			Work{PromptTokens: 10, MaxTokens: 10}, MoneyFromFloat(0.01 * UnknownSpeedSeconds)},
		{"largest price, eleven million tokens", Pricing{InputPer1K: 1e12, OutputPer1K: 1e12},
			Work{PromptTokens: 1_000_000, MaxTokens: 10_000_000}, 11_000_000 * 1e9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Reservation(tt.w); got != tt.want {
				t.Fatalf("Reservation = %s, want %s", got, tt.want)
			}
			// A request within the token bounds that runs at its measured
			// speed costs no more than its reservation.
			d := time.Duration(tt.w.PromptTokens)*tt.w.Speed.PromptToken + time.Duration(tt.w.MaxTokens)*tt.w.Speed.GenToken
			u := Usage{PromptTokens: tt.w.PromptTokens, CompletionTokens: tt.w.MaxTokens, Processing: d}
			if c := tt.p.Cost(u); c > tt.p.Reservation(tt.w) {
				t.Fatalf("cost %s exceeds the reservation", c)
			}
		})
	}
}

// TestPerSecondReservationFitsSmallAccounts is the case of the issue: a
// per-second model asked for max_tokens 8 reserved 600 s (11.4 元) and
// refused a 10 元 account. From the measured speed it reserves seconds.
func TestPerSecondReservationFitsSmallAccounts(t *testing.T) {
	p := Pricing{PerSecond: MoneyFromFloat(0.019)}
	w := Work{PromptTokens: 200, MaxTokens: 8, Speed: Speed{PromptToken: 2 * time.Millisecond, GenToken: 60 * time.Millisecond}}
	if got := p.Reservation(w); got > MoneyFromFloat(0.1) {
		t.Fatalf("reserved %s for 8 tokens", got)
	}
}

func TestNewPricing(t *testing.T) {
	p := NewPricing(0.01, 0.03, nil, 0.5, 2.5)
	if p.InputPer1K != 10_000 || p.OutputPer1K != 30_000 || p.CachedInputPer1K != nil || p.PerSecond != 500_000 {
		t.Fatalf("pricing = %+v", p)
	}
	if p.MaxDuration() != 2500*time.Millisecond || p.CachedPer1K() != p.InputPer1K {
		t.Fatalf("max duration = %s, cached %s", p.MaxDuration(), p.CachedPer1K())
	}
	cached, free := 0.002, 0.0
	if c := NewPricing(0.01, 0, &cached, 0, 0); c.CachedPer1K() != 2_000 || c.MaxDuration() != 0 {
		t.Fatalf("cached = %+v", c)
	}
	if c := NewPricing(0.01, 0, &free, 0, 0); c.CachedPer1K() != 0 {
		t.Fatalf("cached tokens priced 0 billed at %s", c.CachedPer1K())
	}
}
