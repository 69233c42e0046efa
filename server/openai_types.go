package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"runtime/debug"

	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/models"
)

// Response shapes, field for field as OpenAI sends them (null fields
// included where SDKs expect the key).

// fingerprint is system_fingerprint, as OpenAI means it ("the backend
// configuration that the model runs with"): a short hash of the build and
// of the model's file and load settings, so a client can see that the
// backend behind a model changed and outputs may differ under the same seed.
func (s *Server) fingerprint(e models.Entry) string {
	sum := sha256.Sum256([]byte(s.settings.Version + "\x00" + e.LoadHash))
	return "fp_" + hex.EncodeToString(sum[:5])
}

// buildVersion is the version Go recorded in the binary, with the VCS
// revision of a development build.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, kv := range bi.Settings {
		if kv.Key == "vcs.revision" || kv.Key == "vcs.modified" {
			v += " " + kv.Value
		}
	}
	return v
}

type usageJSON struct {
	PromptTokens            int                    `json:"prompt_tokens"`
	CompletionTokens        int                    `json:"completion_tokens"`
	TotalTokens             int                    `json:"total_tokens"`
	PromptTokensDetails     *promptTokenDetail     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *completionTokenDetail `json:"completion_tokens_details,omitempty"`
}

type promptTokenDetail struct {
	CachedTokens int `json:"cached_tokens"`
	ImageTokens  int `json:"image_tokens,omitempty"` // positions taken by images
}

// completionTokenDetail splits completion tokens; reasoning tokens are
// part of CompletionTokens (and billed as such).
type completionTokenDetail struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

func usageOf(u engine.Usage) *usageJSON {
	return &usageJSON{
		PromptTokens:        u.PromptTokens,
		CompletionTokens:    u.CompletionTokens,
		TotalTokens:         u.PromptTokens + u.CompletionTokens,
		PromptTokensDetails: &promptTokenDetail{CachedTokens: u.CachedTokens, ImageTokens: u.ImageTokens},
	}
}

type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Choices           []chatChoice `json:"choices"`
	Usage             *usageJSON   `json:"usage"`
}

type chatChoice struct {
	Index        int           `json:"index"`
	Message      chatMessage   `json:"message"`
	Logprobs     *chatLogprobs `json:"logprobs"`
	FinishReason string        `json:"finish_reason"`
}

type chatMessage struct {
	Role    string  `json:"role"`
	Content *string `json:"content"` // null when the answer is only tool calls
	// ReasoningContent is the model's thinking (DeepSeek's field).
	ReasoningContent *string        `json:"reasoning_content,omitempty"`
	Refusal          *string        `json:"refusal"`
	ToolCalls        []toolCallJSON `json:"tool_calls,omitempty"`
}

type chatChunk struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	Created           int64             `json:"created"`
	Model             string            `json:"model"`
	SystemFingerprint string            `json:"system_fingerprint"`
	Choices           []chatChunkChoice `json:"choices"`
	Usage             chunkUsage        `json:"usage,omitzero"`
}

// chunkUsage is the usage of a stream chunk (and of a legacy completion,
// whose chunks and answer share a type): the counts in the final chunk
// (include_usage) and in an answer; null in every other chunk when the
// client asked for usage, as OpenAI sends it ("All other chunks will also
// include a usage field, but with a null value"); absent otherwise.
type chunkUsage struct {
	*usageJSON
	null bool
}

func (u chunkUsage) IsZero() bool { return u.usageJSON == nil && !u.null }

func (u chunkUsage) MarshalJSON() ([]byte, error) {
	if u.usageJSON == nil {
		return []byte("null"), nil
	}
	return json.Marshal(u.usageJSON)
}

func (u *chunkUsage) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*u = chunkUsage{null: true}
		return nil
	}
	u.usageJSON, u.null = new(usageJSON), false
	return json.Unmarshal(b, u.usageJSON)
}

type chatChunkChoice struct {
	Index        int           `json:"index"`
	Delta        chatDelta     `json:"delta"`
	Logprobs     *chatLogprobs `json:"logprobs"`
	FinishReason *string       `json:"finish_reason"`
}

type chatDelta struct {
	Role             string          `json:"role,omitempty"`
	Content          *string         `json:"content,omitempty"`
	ReasoningContent *string         `json:"reasoning_content,omitempty"`
	ToolCalls        []toolCallDelta `json:"tool_calls,omitempty"`
}

type chatLogprobs struct {
	Content []chatTokenLogprob `json:"content"`
	Refusal *string            `json:"refusal"`
}

type chatTokenLogprob struct {
	Token       string           `json:"token"`
	Logprob     float32          `json:"logprob"`
	Bytes       []int            `json:"bytes"`
	TopLogprobs []chatTopLogprob `json:"top_logprobs"`
}

type chatTopLogprob struct {
	Token   string  `json:"token"`
	Logprob float32 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

type textCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Choices           []textChoice `json:"choices"`
	Usage             chunkUsage   `json:"usage,omitzero"`
}

type textChoice struct {
	Index        int           `json:"index"`
	Text         string        `json:"text"`
	Logprobs     *textLogprobs `json:"logprobs"`
	FinishReason *string       `json:"finish_reason"`
}

// textLogprobs is the legacy completions logprobs format.
type textLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []float32            `json:"token_logprobs"`
	TopLogprobs   []map[string]float32 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

func bytesJSON(b []byte) []int {
	out := make([]int, len(b))
	for i, c := range b {
		out[i] = int(c)
	}
	return out
}

// unlikelyLogprob is what OpenAI reports for a token too unlikely to have
// a number: JSON has no -Inf, nor NaN, and a chunk that holds one cannot be
// encoded at all. A model whose logits overflow gives NaN, and an answer
// or stream that then failed to encode ended without its finish chunk.
const unlikelyLogprob = -9999

func jsonLogprob(v float32) float32 {
	if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
		return unlikelyLogprob
	}
	return v
}

func toChatLogprobs(lps []engine.TokenLogprob) []chatTokenLogprob {
	out := make([]chatTokenLogprob, 0, len(lps))
	for _, lp := range lps {
		top := make([]chatTopLogprob, 0, len(lp.Top))
		for _, t := range lp.Top {
			top = append(top, chatTopLogprob{Token: t.Text, Logprob: jsonLogprob(t.Logprob), Bytes: bytesJSON(t.Bytes)})
		}
		out = append(out, chatTokenLogprob{Token: lp.Text, Logprob: jsonLogprob(lp.Logprob), Bytes: bytesJSON(lp.Bytes), TopLogprobs: top})
	}
	return out
}

// appendTextLogprobs adds tokens to the legacy format; offset is where the
// first token starts in the choice's text.
func appendTextLogprobs(dst *textLogprobs, lps []engine.TokenLogprob, offset int) int {
	for _, lp := range lps {
		dst.Tokens = append(dst.Tokens, lp.Text)
		dst.TokenLogprobs = append(dst.TokenLogprobs, jsonLogprob(lp.Logprob))
		top := make(map[string]float32, len(lp.Top))
		for _, t := range lp.Top {
			top[t.Text] = jsonLogprob(t.Logprob)
		}
		dst.TopLogprobs = append(dst.TopLogprobs, top)
		dst.TextOffset = append(dst.TextOffset, offset)
		offset += len(lp.Text)
	}
	return offset
}

// finishReason maps the engine's reason to OpenAI's. A cancelled request
// that still gets an answer was stopped on purpose (suspension, shutdown):
// to the client it simply stopped.
func finishReason(r engine.FinishReason) string {
	switch r {
	case engine.FinishLength:
		return "length"
	default:
		return "stop"
	}
}
