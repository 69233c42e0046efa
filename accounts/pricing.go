package accounts

import "time"

// Pricing is one model's price. The config package maps its YAML onto it
// (MoneyFromFloat or ParseMoney). Token and time prices add up when both are
// set; a zero Pricing makes the model free.
type Pricing struct {
	InputPer1K  Money // per 1000 prompt tokens
	OutputPer1K Money // per 1000 completion tokens
	// CachedInputPer1K prices prompt tokens served from the KV cache; nil
	// means the same as InputPer1K.
	CachedInputPer1K *Money
	// PerSecond prices processing time: the request's share of the model's
	// compute (see engine.Usage.ComputeDuration), never model loading or
	// queueing.
	PerSecond Money
	// MaxSeconds caps the billed processing time of a per-second priced
	// request, and its reservation; 0 means no cap. The server stops a
	// generation that reaches it.
	MaxSeconds float64
}

// Speed is a model's compute per token (measured by the engine, or
// estimated before the first measurement): what the reservation of a
// per-second priced request is reckoned from.
type Speed struct {
	PromptToken time.Duration
	GenToken    time.Duration
}

// Known reports whether s says anything.
func (s Speed) Known() bool { return s.GenToken > 0 }

// Work bounds what a request may do: what its reservation covers.
type Work struct {
	// PromptTokens is the most prompt tokens it evaluates.
	PromptTokens int
	// MaxTokens is the most tokens it generates, over every choice. It
	// must bound the completion of a token-priced model.
	MaxTokens int
	// Speed is the model's; zero: unknown (see UnknownSpeedSeconds).
	Speed Speed
}

// reserveMargin covers a request running slower than the model's measured
// speed: the measurement is an average, and other processes competing for
// the cores slow a step down.
const reserveMargin = 1.5

// UnknownSpeedSeconds is the processing time reserved for a per-second
// priced request when the model's speed is not known and its price sets no
// max_seconds.
const UnknownSpeedSeconds = 600

// NewPricing maps the config's float prices (per 1K tokens and per second,
// in currency units) to a Pricing. A nil cachedInputPer1K (not configured)
// bills cached prompt tokens as input; 0 makes them free.
func NewPricing(inputPer1K, outputPer1K float64, cachedInputPer1K *float64, perSecond, maxSeconds float64) Pricing {
	p := Pricing{
		InputPer1K:  MoneyFromFloat(inputPer1K),
		OutputPer1K: MoneyFromFloat(outputPer1K),
		PerSecond:   MoneyFromFloat(perSecond),
		MaxSeconds:  maxSeconds,
	}
	if cachedInputPer1K != nil {
		c := MoneyFromFloat(*cachedInputPer1K)
		p.CachedInputPer1K = &c
	}
	return p
}

// IsFree reports whether nothing is ever charged for the model.
func (p Pricing) IsFree() bool {
	return p.InputPer1K == 0 && p.OutputPer1K == 0 && p.PerSecond == 0 &&
		(p.CachedInputPer1K == nil || *p.CachedInputPer1K == 0)
}

// CachedPer1K is what 1000 cached prompt tokens cost.
func (p Pricing) CachedPer1K() Money {
	if p.CachedInputPer1K != nil {
		return *p.CachedInputPer1K
	}
	return p.InputPer1K
}

// MaxDuration is the processing time after which billing stops; 0: never.
func (p Pricing) MaxDuration() time.Duration {
	if !(p.MaxSeconds > 0) {
		return 0
	}
	// Billing counts whole milliseconds; a positive cap below one would
	// otherwise become 0, which means no cap.
	return max(time.Duration(p.MaxSeconds*float64(time.Second)), time.Millisecond)
}

// ReserveDuration is the processing time reserved for w: its tokens at the
// model's speed with a margin, or UnknownSpeedSeconds without a speed,
// capped by MaxSeconds. A request may run longer (and is billed for it, up
// to MaxSeconds); the reservation only has to make a refusal likely when
// the balance cannot pay.
func (p Pricing) ReserveDuration(w Work) time.Duration {
	d := time.Duration(UnknownSpeedSeconds) * time.Second
	if w.Speed.Known() {
		est := time.Duration(max(w.PromptTokens, 0))*w.Speed.PromptToken + time.Duration(max(w.MaxTokens, 0))*w.Speed.GenToken
		d = time.Duration(float64(est) * reserveMargin)
	}
	if limit := p.MaxDuration(); limit > 0 {
		d = min(d, limit)
	}
	return d
}

// Cost is the exact price of a finished request. Token terms are summed before
// the single division by 1000 so per-token prices below one micro-unit still
// add up; the result rounds half up to a micro-unit.
func (p Pricing) Cost(u Usage) Money {
	cached := clamp(u.CachedTokens, 0, u.PromptTokens)
	uncached := max(u.PromptTokens, 0) - cached
	var tokens perThousand
	tokens.add(int64(uncached), p.InputPer1K)
	tokens.add(int64(cached), p.CachedPer1K())
	tokens.add(int64(max(u.CompletionTokens, 0)), p.OutputPer1K)
	cost := tokens.round()
	if p.PerSecond != 0 {
		d := max(u.Processing, 0)
		if limit := p.MaxDuration(); limit > 0 {
			d = min(d, limit)
		}
		var secs perThousand
		secs.add(d.Milliseconds(), p.PerSecond)
		cost += secs.round()
	}
	return Money(cost)
}

// Reservation is what Reserve holds for w: every prompt token uncached (or
// cached, if that is dearer), MaxTokens generated, and the ReserveDuration
// of processing.
func (p Pricing) Reservation(w Work) Money {
	var tokens perThousand
	tokens.add(int64(max(w.PromptTokens, 0)), max(p.InputPer1K, p.CachedPer1K()))
	tokens.add(int64(max(w.MaxTokens, 0)), p.OutputPer1K)
	cost := tokens.round()
	if p.PerSecond != 0 {
		var secs perThousand
		secs.add(p.ReserveDuration(w).Milliseconds(), p.PerSecond)
		cost += secs.round()
	}
	return Money(cost)
}

// perThousand sums counts × prices-per-1000 (tokens at a price per 1K,
// milliseconds at a price per second) exactly, keeping the whole thousands
// apart from the remainders: n×price for a million tokens at the largest
// configurable price (1e6 units, 1e12 micro-units per 1K) would overflow
// int64, n/1000×price does not until billions of tokens. The remainders add
// up to under 1000×price per term and are divided once, so the total is
// what one division of the whole sum gives.
type perThousand struct{ whole, rem int64 }

func (a *perThousand) add(n int64, price Money) {
	a.whole += n / 1000 * int64(price)
	a.rem += n % 1000 * int64(price)
}

func (a perThousand) round() int64 { return a.whole + roundDiv(a.rem, 1000) }

// roundDiv divides rounding half away from zero.
func roundDiv(n, d int64) int64 {
	if n < 0 {
		return -((-n + d/2) / d)
	}
	return (n + d/2) / d
}

func clamp(v, lo, hi int) int { return min(max(v, lo), hi) }
