package accountsapi

import (
	"testing"

	"github.com/ggufd/ggufd/config"
)

func TestPolicyFromConfig(t *testing.T) {
	cfg := config.Default()
	cfg.Models = []config.Model{
		{Name: "paid", Context: 8192, RateLimit: 60, Pricing: config.Pricing{InputPer1K: 0.01, OutputPer1K: 0.03, CachedInputPer1K: 0.005}},
		{Name: "timed", Pricing: config.Pricing{PerSecond: 0.2, MaxSeconds: 30}},
	}
	pol := PolicyFromConfig(cfg)
	p, ok := pol("paid")
	if !ok || p.RateLimit != 60 || p.Context != 8192 || p.Pricing.InputPer1K != 10_000 || p.Pricing.OutputPer1K != 30_000 ||
		p.Pricing.CachedInputPer1K == nil || *p.Pricing.CachedInputPer1K != 5_000 {
		t.Fatalf("paid: %+v", p)
	}
	p, ok = pol("timed")
	if !ok || p.Pricing.PerSecond != 200_000 || p.Pricing.MaxSeconds != 30 || p.Context != config.DefaultContext {
		t.Fatalf("timed: %+v", p)
	}
	if _, ok := pol("other"); ok {
		t.Fatal("unconfigured model has a policy")
	}
}
