package engine

import (
	"math"

	"github.com/ggufd/ggufd/engine/internal/llamacpp"
)

// tokenLogprob computes the log-probability of tok under the model's raw
// distribution (log-softmax of the logits, before sampling adjustments, as
// OpenAI reports it) and the top alternatives.
func tokenLogprob(lm *llamacpp.Model, logits []float32, tok int32, top int, special bool) TokenLogprob {
	maxv := float32(math.Inf(-1))
	for _, v := range logits {
		if v > maxv {
			maxv = v
		}
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v - maxv))
	}
	lse := float64(maxv) + math.Log(sum)
	piece := lm.AppendPiece(nil, tok, special)
	out := TokenLogprob{Token: int(tok), Text: string(piece), Bytes: piece, Logprob: float32(float64(logits[tok]) - lse)}
	if top <= 0 {
		return out
	}
	// Keep the best `top` indices in a small descending list: top <= 20, so
	// an insertion sort beats a heap over a 32k+ vocabulary.
	best := make([]int32, 0, top)
	for i, v := range logits {
		if len(best) == top && v <= logits[best[top-1]] {
			continue
		}
		pos := len(best)
		if len(best) < top {
			best = append(best, 0)
		} else {
			pos = top - 1
		}
		for pos > 0 && logits[best[pos-1]] < v {
			best[pos] = best[pos-1]
			pos--
		}
		best[pos] = int32(i)
	}
	out.Top = make([]TopLogprob, len(best))
	for i, t := range best {
		p := lm.AppendPiece(nil, t, special)
		out.Top[i] = TopLogprob{Token: int(t), Text: string(p), Bytes: p, Logprob: float32(float64(logits[t]) - lse)}
	}
	return out
}
