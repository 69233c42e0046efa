package accountsapi

import (
	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/config"
)

// PolicyFromConfig builds Options.Policy from the models section of the
// config: pricing, rate_limit and the context the model will be loaded with
// (its own, else the defaults' cap, an upper bound of the real one). Models
// found in the models folder but absent from the config are free and
// unlimited.
func PolicyFromConfig(cfg *config.Config) func(model string) (ModelPolicy, bool) {
	policies := make(map[string]ModelPolicy, len(cfg.Models))
	for _, m := range cfg.Models {
		pr := m.Pricing
		policies[m.Name] = ModelPolicy{
			Pricing:   accounts.NewPricing(pr.InputPer1K, pr.OutputPer1K, pr.CachedInputPer1K, pr.PerSecond, pr.MaxSeconds),
			RateLimit: m.RateLimit,
			Context:   cfg.ContextFor(m, 0),
		}
	}
	return func(model string) (ModelPolicy, bool) {
		p, ok := policies[model]
		return p, ok
	}
}
