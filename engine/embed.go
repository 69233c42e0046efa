package engine

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/ggufd/ggufd/engine/internal/llamacpp"
)

// Embed embeds all inputs, packing as many as fit into each decode (one
// sequence per input), pools per the model's pooling type (mean when the
// model declares none) and L2-normalises every vector.
func (m *Model) Embed(ctx context.Context, req EmbedRequest) (EmbedResult, error) {
	if !m.opts.Embeddings {
		return EmbedResult{}, ErrNotEmbedding
	}
	j, err := m.enqueueEmbed(ctx, req)
	if err != nil {
		return EmbedResult{}, err
	}
	select {
	case res := <-j.result:
		return res.res, res.err
	case <-ctx.Done():
		// The scheduler notices the cancelled context before decoding; the
		// buffered result channel lets it finish without a reader.
		return EmbedResult{}, ctx.Err()
	}
}

// enqueueEmbed tokenizes and checks req's inputs and hands them to the
// scheduler, all under useModel: tokenizing uses the llama model, which the
// scheduler frees once Close has run.
func (m *Model) enqueueEmbed(ctx context.Context, req EmbedRequest) (*embedJob, error) {
	if err := m.useModel(); err != nil {
		return nil, err
	}
	defer m.doneWithModel()
	var inputs [][]int32
	for _, text := range req.Texts {
		toks, err := m.tokenize(text, true, false)
		if err != nil {
			return nil, &InvalidRequestError{Param: "input", Message: err.Error()}
		}
		inputs = append(inputs, toks)
	}
	for _, t := range req.Tokens {
		toks, err := m.checkTokens("input", t)
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, toks)
	}
	if len(inputs) == 0 {
		return nil, &InvalidRequestError{Param: "input", Message: "no input to embed"}
	}
	for i, in := range inputs {
		if len(in) == 0 {
			return nil, &InvalidRequestError{Param: "input", Message: fmt.Sprintf("input %d is empty", i)}
		}
		if len(in) > m.info.ContextLength {
			return nil, &PromptTooLongError{PromptTokens: len(in), ContextLength: m.info.ContextLength}
		}
	}
	j := &embedJob{ctx: ctx, inputs: inputs, result: make(chan embedResult, 1)}
	select {
	case m.embeds <- j:
		return j, nil
	default:
		return nil, ErrQueueFull
	}
}

// embed runs on the scheduler goroutine.
func (s *scheduler) embed(j *embedJob) {
	res, err := s.embedAll(j)
	j.result <- embedResult{res: res, err: err}
}

func (s *scheduler) embedAll(j *embedJob) (EmbedResult, error) {
	start := time.Now()
	m := s.m
	out := EmbedResult{Vectors: make([][]float32, len(j.inputs))}
	pooled := m.lc.PoolingType() != llamacpp.PoolingNone
	batch := llamacpp.NewBatch(max(m.opts.BatchSize, m.info.ContextLength), m.opts.Parallel)
	defer batch.Free()
	for next := 0; next < len(j.inputs); {
		if err := j.ctx.Err(); err != nil {
			return EmbedResult{}, err
		}
		batch.Clear()
		m.lc.Clear()
		first := next
		lastRow := make([]int, 0, m.opts.Parallel)
		for next < len(j.inputs) && next-first < m.opts.Parallel && batch.Len()+len(j.inputs[next]) <= batch.Cap() {
			seq := next - first
			for pos, t := range j.inputs[next] {
				batch.Add(t, pos, seq, true)
			}
			lastRow = append(lastRow, batch.Len()-1)
			out.PromptTokens += len(j.inputs[next])
			next++
		}
		if rc := m.lc.Decode(batch); rc != 0 {
			m.lc.Clear()
			return EmbedResult{}, fmt.Errorf("embedding decode failed with status %d", rc)
		}
		for i := first; i < next; i++ {
			var v []float32
			if pooled {
				v = m.lc.EmbeddingsSeq(i - first)
			} else {
				v = m.lc.EmbeddingsIth(lastRow[i-first])
			}
			if v == nil {
				m.lc.Clear()
				return EmbedResult{}, fmt.Errorf("llama.cpp returned no embedding for input %d", i)
			}
			out.Vectors[i] = normalize(v)
		}
	}
	m.lc.Clear()
	m.requests.Add(1)
	m.tokensIn.Add(uint64(out.PromptTokens))
	m.lastRequest.Store(time.Now().UnixNano())
	out.Duration = time.Since(start)
	s.m.busyNanos.Add(int64(out.Duration))
	return out, nil
}

func normalize(v []float32) []float32 {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	if sum == 0 {
		return v
	}
	inv := float32(1 / math.Sqrt(sum))
	for i := range v {
		v[i] *= inv
	}
	return v
}
