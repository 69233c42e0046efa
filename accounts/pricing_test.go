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
		{"per second default cap", Pricing{PerSecond: MicrosPerUnit},
			Usage{Processing: time.Hour}, DefaultMaxSeconds * MicrosPerUnit},
		{"tokens plus seconds", Pricing{OutputPer1K: MicrosPerUnit, PerSecond: MicrosPerUnit},
			Usage{CompletionTokens: 1000, Processing: time.Second}, 2 * MicrosPerUnit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Cost(tt.u); got != tt.want {
				t.Fatalf("Cost = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestPricingWorstCase(t *testing.T) {
	dear := MoneyFromFloat(0.05)
	tests := []struct {
		name          string
		p             Pricing
		prompt, maxTk int
		want          Money
	}{
		{"tokens", Pricing{InputPer1K: MoneyFromFloat(0.01), OutputPer1K: MoneyFromFloat(0.03)}, 1000, 2000, MoneyFromFloat(0.07)},
		{"dearer cached price counts", Pricing{InputPer1K: MoneyFromFloat(0.01), CachedInputPer1K: &dear}, 1000, 0, dear},
		{"per second uses the cap", Pricing{PerSecond: MoneyFromFloat(0.5), MaxSeconds: 30}, 10, 10, MoneyFromFloat(15)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.WorstCase(tt.prompt, tt.maxTk); got != tt.want {
				t.Fatalf("WorstCase = %s, want %s", got, tt.want)
			}
			// The worst case bounds every cost within the request's limits.
			u := Usage{PromptTokens: tt.prompt, CompletionTokens: tt.maxTk, Processing: 2 * time.Hour}
			if c := tt.p.Cost(u); c > tt.p.WorstCase(tt.prompt, tt.maxTk) {
				t.Fatalf("cost %s exceeds worst case", c)
			}
		})
	}
}

func TestNewPricing(t *testing.T) {
	p := NewPricing(0.01, 0.03, 0, 0.5, 2.5)
	if p.InputPer1K != 10_000 || p.OutputPer1K != 30_000 || p.CachedInputPer1K != nil || p.PerSecond != 500_000 {
		t.Fatalf("pricing = %+v", p)
	}
	if p.MaxDuration() != 2500*time.Millisecond {
		t.Fatalf("max duration = %s", p.MaxDuration())
	}
	if c := NewPricing(0.01, 0, 0.002, 0, 0); c.CachedInputPer1K == nil || *c.CachedInputPer1K != 2_000 {
		t.Fatalf("cached = %+v", c)
	}
}
