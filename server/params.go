package server

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"

	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/models"
	"github.com/ggufd/ggufd/server/apierror"
)

// Limits on request parameters beyond OpenAI's documented ranges.
const (
	maxStopStrings = 16
	maxChoices     = 16 // further bounded by the model's parallel slots
	// maxEmbeddingInputs is OpenAI's limit. The prompt limit counts bytes
	// of text, and token-id inputs none, so without it an 80 kB body of
	// 20,000 one-token inputs made a 16 MB answer on a 64-dimension model
	// (gigabytes at the default body limit and a real model's width).
	maxEmbeddingInputs = 2048
	maxTopLogprobs     = 20
)

// Sampling defaults for requests and models that set nothing: llama-server's,
// which suit local models better than OpenAI's (temperature 1, nothing else).
const (
	defaultTemperature = 0.8
	defaultTopK        = 40
	defaultTopP        = 0.95
	defaultMinP        = 0.05
)

// genParams are the generation fields shared by /v1/chat/completions and
// /v1/completions. Pointers tell "not set" from zero; fields with two
// possible JSON types are raw and parsed in validate.
type genParams struct {
	Model            string             `json:"model"`
	Temperature      *float64           `json:"temperature"`
	TopP             *float64           `json:"top_p"`
	TopK             *int               `json:"top_k"`
	MinP             *float64           `json:"min_p"`
	RepeatPenalty    *float64           `json:"repeat_penalty"`
	PresencePenalty  *float64           `json:"presence_penalty"`
	FrequencyPenalty *float64           `json:"frequency_penalty"`
	LogitBias        map[string]float64 `json:"logit_bias"`
	Seed             *int64             `json:"seed"`
	Stop             json.RawMessage    `json:"stop"`
	N                *int               `json:"n"`
	MaxTokens        *int               `json:"max_tokens"`
	Stream           *bool              `json:"stream"`
	StreamOptions    *streamOptions     `json:"stream_options"`
	User             *string            `json:"user"`
	ResponseFormat   *responseFormat    `json:"response_format"`
	// Grammar is llama-server's extension: a GBNF grammar the output must
	// follow (checked in Go before llama.cpp sees it: engine/gbnfcheck.go).
	Grammar   *string `json:"grammar"`
	IgnoreEOS *bool   `json:"ignore_eos"` // llama-server extension, for benchmarks
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type responseFormat struct {
	Type       string          `json:"type"`
	JSONSchema *jsonSchemaSpec `json:"json_schema"`
}

type jsonSchemaSpec struct {
	Name   string          `json:"name"`
	Schema json.RawMessage `json:"schema"`
	Strict *bool           `json:"strict"`
}

func (p *genParams) stream() bool { return p.Stream != nil && *p.Stream }

func (p *genParams) includeUsage() bool {
	return p.stream() && p.StreamOptions != nil && p.StreamOptions.IncludeUsage
}

func (p *genParams) choices() int {
	if p.N == nil {
		return 1
	}
	return *p.N
}

// isNull reports whether a raw field is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func checkRange(param string, v *float64, lo, hi float64) error {
	if v != nil && (math.IsNaN(*v) || *v < lo || *v > hi) {
		return apierror.InvalidParam(param, "Invalid '%s': %g is not in [%g, %g].", param, *v, lo, hi)
	}
	return nil
}

// toEngine validates the shared fields and builds the engine request
// (without prompt or max_tokens: see applyMaxTokens), applying the model's
// defaults where the request sets nothing.
func (p *genParams) toEngine(e models.Entry) (engine.GenerateRequest, error) {
	var req engine.GenerateRequest
	for _, c := range []struct {
		name   string
		v      *float64
		lo, hi float64
	}{
		{"temperature", p.Temperature, 0, 2},
		{"top_p", p.TopP, 0, 1},
		{"min_p", p.MinP, 0, 1},
		{"presence_penalty", p.PresencePenalty, -2, 2},
		{"frequency_penalty", p.FrequencyPenalty, -2, 2},
		{"repeat_penalty", p.RepeatPenalty, 0, 10},
	} {
		if err := checkRange(c.name, c.v, c.lo, c.hi); err != nil {
			return req, err
		}
	}
	if p.TopK != nil && *p.TopK < 0 {
		return req, apierror.InvalidParam("top_k", "Invalid 'top_k': %d; expected 0 (off) or more.", *p.TopK)
	}
	if n := p.choices(); n < 1 || n > maxChoices {
		return req, apierror.InvalidParam("n", "Invalid 'n': %d is not in [1, %d].", n, maxChoices)
	}
	d := e.Model.Sampling
	req.Sampling = engine.SamplingParams{
		Temperature:      float32(pick(p.Temperature, d.Temperature, defaultTemperature)),
		TopP:             float32(pick(p.TopP, d.TopP, defaultTopP)),
		TopK:             pick(p.TopK, d.TopK, defaultTopK),
		MinP:             float32(pick(p.MinP, d.MinP, defaultMinP)),
		RepeatPenalty:    float32(pick(p.RepeatPenalty, d.RepeatPenalty, 1)),
		PresencePenalty:  float32(pick(p.PresencePenalty, d.PresencePenalty, 0)),
		FrequencyPenalty: float32(pick(p.FrequencyPenalty, d.FrequencyPenalty, 0)),
	}
	if req.Sampling.TopP == 0 {
		// OpenAI's top_p keeps the smallest set of tokens whose mass
		// reaches it: at 0, the most likely token alone. The engine reads
		// 0 as "off" (the zero value), so say greedy instead.
		req.Sampling.Temperature = 0
	}
	if seed := pickPtr(p.Seed, d.Seed); seed != nil {
		s := uint64(*seed)
		req.Sampling.Seed = &s
	}
	bias, err := parseLogitBias(p.LogitBias)
	if err != nil {
		return req, err
	}
	req.Sampling.LogitBias = bias

	stop, err := parseStop(p.Stop)
	if err != nil {
		return req, err
	}
	if stop == nil {
		stop = e.Model.Stop
	}
	req.Stop = stop
	req.N = p.choices()
	if p.IgnoreEOS != nil {
		req.IgnoreEOS = *p.IgnoreEOS
	}
	if err := p.applyResponseFormat(&req); err != nil {
		return req, err
	}
	return req, nil
}

// applyMaxTokens sets the completion budget from the request's field
// (max_tokens or max_completion_tokens), capped by the model's limit.
func applyMaxTokens(req *engine.GenerateRequest, param string, v *int, e models.Entry) error {
	if v != nil {
		if *v < 1 {
			return apierror.InvalidParam(param, "Invalid '%s': %d; expected at least 1.", param, *v)
		}
		req.MaxTokens = *v
	}
	if limit := e.Model.MaxTokens; limit > 0 && (req.MaxTokens == 0 || req.MaxTokens > limit) {
		req.MaxTokens = limit
	}
	return nil
}

func pick[T any](req, def *T, fallback T) T {
	if req != nil {
		return *req
	}
	if def != nil {
		return *def
	}
	return fallback
}

func pickPtr[T any](req, def *T) *T {
	if req != nil {
		return req
	}
	return def
}

// parseLogitBias turns OpenAI's {"token id": bias} into the engine's map;
// -100 bans the token, as OpenAI documents.
func parseLogitBias(in map[string]float64) (map[int]float32, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make(map[int]float32, len(in))
	for k, v := range in {
		id, err := strconv.Atoi(k)
		if err != nil || id < 0 {
			return nil, apierror.InvalidParam("logit_bias", "Invalid 'logit_bias': key %q is not a token id.", k)
		}
		if math.IsNaN(v) || v < -100 || v > 100 {
			return nil, apierror.InvalidParam("logit_bias", "Invalid 'logit_bias': %g for token %d is not in [-100, 100].", v, id)
		}
		if v <= -100 {
			out[id] = float32(math.Inf(-1))
		} else {
			out[id] = float32(v)
		}
	}
	return out, nil
}

// parseStop accepts a string or an array of strings; nil means "not set".
func parseStop(raw json.RawMessage) ([]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		if one == "" {
			return []string{}, nil
		}
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, apierror.New(400, apierror.TypeInvalidRequest, "invalid_type", "stop",
			"Invalid type for 'stop': expected a string or an array of strings.")
	}
	if len(many) > maxStopStrings {
		return nil, apierror.InvalidParam("stop", "Invalid 'stop': at most %d stop strings are allowed, got %d.", maxStopStrings, len(many))
	}
	out := make([]string, 0, len(many))
	for _, s := range many {
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

func (p *genParams) applyResponseFormat(req *engine.GenerateRequest) error {
	rf := p.ResponseFormat
	if p.Grammar != nil && *p.Grammar != "" {
		if rf != nil && rf.Type != "" && rf.Type != "text" {
			return apierror.InvalidParam("grammar", "'grammar' and a 'response_format' of type %q both shape the output; send one of them.", rf.Type)
		}
		req.Grammar = *p.Grammar
	}
	if rf == nil {
		return nil
	}
	switch rf.Type {
	case "", "text":
	case "json_object":
		req.Grammar = jsonGrammar
	case "json_schema":
		if rf.JSONSchema == nil || isNull(rf.JSONSchema.Schema) {
			return apierror.InvalidParam("response_format.json_schema.schema",
				"Missing required parameter: 'response_format.json_schema.schema'.")
		}
		var obj map[string]any
		if err := json.Unmarshal(rf.JSONSchema.Schema, &obj); err != nil {
			return apierror.InvalidParam("response_format.json_schema.schema",
				"Invalid 'response_format.json_schema.schema': expected a JSON Schema object.")
		}
		req.JSONSchema = []byte(rf.JSONSchema.Schema)
	default:
		return apierror.InvalidParam("response_format.type",
			"Invalid 'response_format.type': %q; expected 'text', 'json_object' or 'json_schema'.", rf.Type)
	}
	return nil
}

// setLogprobs validates the logprob fields (top is 0..20 alternatives).
func setLogprobs(req *engine.GenerateRequest, want bool, top *int, topParam string) error {
	if top != nil {
		if *top < 0 || *top > maxTopLogprobs {
			return apierror.InvalidParam(topParam, "Invalid '%s': %d is not in [0, %d].", topParam, *top, maxTopLogprobs)
		}
		if !want && topParam == "top_logprobs" {
			return apierror.InvalidParam("logprobs", "'logprobs' must be true when 'top_logprobs' is set.")
		}
		req.TopLogprobs = *top
	}
	req.Logprobs = want
	return nil
}

// generativeModel returns the body's user and the model a chat or
// completion request names, refusing embedding-only models.
func (s *Server) generativeModel(r *request, p *genParams) (string, models.Entry, error) {
	e, err := s.lookup(r, p.Model)
	if err != nil {
		return "", models.Entry{}, err
	}
	if e.Embeddings {
		return "", models.Entry{}, apierror.InvalidParam("model", "The model `%s` serves embeddings only; use /v1/embeddings.", e.Name)
	}
	return pick(p.User, nil, ""), e, nil
}
