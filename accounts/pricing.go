package accounts

import "time"

// DefaultMaxSeconds bounds the reservation of a per-second priced model whose
// config gives no max_seconds: without a bound the worst case is infinite.
const DefaultMaxSeconds = 600

// Pricing is one model's price. The config package maps its YAML onto it
// (MoneyFromFloat or ParseMoney). Token and time prices add up when both are
// set; a zero Pricing makes the model free.
type Pricing struct {
	InputPer1K  Money // per 1000 prompt tokens
	OutputPer1K Money // per 1000 completion tokens
	// CachedInputPer1K prices prompt tokens served from the KV cache; nil
	// means the same as InputPer1K.
	CachedInputPer1K *Money
	// PerSecond prices processing time: prompt evaluation plus generation,
	// never model loading or queueing.
	PerSecond Money
	// MaxSeconds caps the billed (and reserved) processing time of a
	// per-second priced request; 0 means DefaultMaxSeconds. The server should
	// stop a generation that reaches it.
	MaxSeconds float64
}

// NewPricing maps the config's float prices (per 1K tokens and per second,
// in currency units) to a Pricing. The config cannot tell an unset
// cached_input_per_1k from 0, so 0 means "same as input", the usual intent.
func NewPricing(inputPer1K, outputPer1K, cachedInputPer1K, perSecond, maxSeconds float64) Pricing {
	p := Pricing{
		InputPer1K:  MoneyFromFloat(inputPer1K),
		OutputPer1K: MoneyFromFloat(outputPer1K),
		PerSecond:   MoneyFromFloat(perSecond),
		MaxSeconds:  maxSeconds,
	}
	if cachedInputPer1K > 0 {
		c := MoneyFromFloat(cachedInputPer1K)
		p.CachedInputPer1K = &c
	}
	return p
}

// IsFree reports whether nothing is ever charged for the model.
func (p Pricing) IsFree() bool {
	return p.InputPer1K == 0 && p.OutputPer1K == 0 && p.PerSecond == 0 &&
		(p.CachedInputPer1K == nil || *p.CachedInputPer1K == 0)
}

func (p Pricing) cachedPer1K() Money {
	if p.CachedInputPer1K != nil {
		return *p.CachedInputPer1K
	}
	return p.InputPer1K
}

// MaxDuration is the processing time after which billing stops.
func (p Pricing) MaxDuration() time.Duration {
	s := p.MaxSeconds
	if s <= 0 {
		s = DefaultMaxSeconds
	}
	return time.Duration(s * float64(time.Second))
}

// Cost is the exact price of a finished request. Token terms are summed before
// the single division by 1000 so per-token prices below one micro-unit still
// add up; the result rounds half up to a micro-unit.
func (p Pricing) Cost(u Usage) Money {
	cached := clamp(u.CachedTokens, 0, u.PromptTokens)
	uncached := max(u.PromptTokens, 0) - cached
	tokenMicros := int64(uncached)*int64(p.InputPer1K) +
		int64(cached)*int64(p.cachedPer1K()) +
		int64(max(u.CompletionTokens, 0))*int64(p.OutputPer1K)
	cost := roundDiv(tokenMicros, 1000)
	if p.PerSecond != 0 {
		d := min(max(u.Processing, 0), p.MaxDuration())
		cost += roundDiv(int64(p.PerSecond)*d.Milliseconds(), 1000)
	}
	return Money(cost)
}

// WorstCase is the most a request can cost: every prompt token uncached (or
// cached, if that is dearer), maxTokens generated, and the full time cap.
func (p Pricing) WorstCase(promptTokens, maxTokens int) Money {
	in := max(p.InputPer1K, p.cachedPer1K())
	tokenMicros := int64(max(promptTokens, 0))*int64(in) + int64(max(maxTokens, 0))*int64(p.OutputPer1K)
	cost := roundDiv(tokenMicros, 1000)
	if p.PerSecond != 0 {
		cost += roundDiv(int64(p.PerSecond)*p.MaxDuration().Milliseconds(), 1000)
	}
	return Money(cost)
}

// roundDiv divides rounding half away from zero.
func roundDiv(n, d int64) int64 {
	if n < 0 {
		return -((-n + d/2) / d)
	}
	return (n + d/2) / d
}

func clamp(v, lo, hi int) int { return min(max(v, lo), hi) }
