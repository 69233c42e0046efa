// Package engine runs GGUF models through llama.cpp (cgo): it loads a model,
// owns one llama context per model, and serves many concurrent requests
// through a single scheduler goroutine that batches every active sequence into
// one llama_decode per step (continuous batching).
//
// The engine knows nothing of HTTP, accounts or configuration files: callers
// pass LoadOptions and GenerateRequests and read typed events and errors.
package engine

import (
	"errors"
	"fmt"
	"time"
)

// LoadOptions configures one loaded model. Zero values pick sensible defaults
// (see withDefaults).
type LoadOptions struct {
	ContextLength int // tokens per sequence; 0: min(trained length, 4096)
	Parallel      int // sequence slots decoded together; 0: 4
	Threads       int // CPU threads; 0: the physical cores (1 for models under 32M parameters)
	GPULayers     int // layers offloaded to GPUs (llama.cpp's n_gpu_layers); 0: CPU only, -1: all
	// TensorSplit is the share of the offloaded layers each GPU takes, in
	// the order llama.cpp lists its GPUs; nil: split by free memory.
	TensorSplit    []float32
	NoMmap         bool   // read the file into memory instead of mapping it
	KVCacheType    string // "f16" (default), "q8_0" or "q4_0"
	FlashAttention string // "auto" (default), "on" or "off"
	Embeddings     bool   // an embedding model: Embed works, Generate does not
	ChatTemplate   string // Jinja source that replaces the file's template
	Projector      string // multimodal projector (mmproj GGUF) for image input; "" none (vision.go)
	BatchSize      int    // most tokens in one decode step; 0: 512
	QueueDepth     int    // requests waiting for a slot before ErrQueueFull; 0: 64
	// Progress is called with values in [0,1] while the weights load.
	Progress func(float32)
	// ComputeClock times decode steps and sampling for billing
	// (Usage.ComputeDuration); nil: time.Now. Billing tests above the
	// engine inject a deterministic clock: real step times on a shared
	// machine swing with other processes.
	ComputeClock func() time.Time
}

// Info describes a loaded model.
type Info struct {
	Path           string
	Name           string // general.name, if the file has one
	Architecture   string // general.architecture, e.g. "llama"
	ParameterCount uint64
	TrainedContext int
	ContextLength  int // per sequence, as loaded
	Parallel       int
	VocabSize      int
	EmbeddingSize  int
	ChatTemplate   string // the template in use (override or the file's), "" if none
	FileSize       int64
	Embeddings     bool
	// WarmupDuration is the warm-up decode at load (part of load time).
	WarmupDuration time.Duration
	Projector      string // the mmproj file, "" without one
	Vision         bool   // Generate accepts images
	// MemoryBytes is what the model holds now: weights plus KV cache and
	// compute buffers, as llama.cpp reports them.
	MemoryBytes uint64
}

// SamplingParams are per-request sampling settings. Zero values mean "off"
// except where noted; callers apply model defaults before calling.
type SamplingParams struct {
	Temperature      float32 // 0: greedy
	TopP             float32 // 0 or 1: off
	TopK             int     // 0: off
	MinP             float32 // 0: off
	Seed             *uint64 // nil: random
	RepeatPenalty    float32 // 0 or 1: off
	RepeatLastN      int     // 0: 64
	PresencePenalty  float32
	FrequencyPenalty float32
	LogitBias        map[int]float32 // token id → bias; -inf (math.Inf(-1)) bans
}

// GenerateRequest is one completion request. Exactly one of Prompt and
// PromptTokens is set.
type GenerateRequest struct {
	Prompt       string // tokenized with special tokens parsed, BOS added if the model wants it
	PromptTokens []int
	MaxTokens    int // 0: until the context ends
	Sampling     SamplingParams
	Stop         []string // never emitted, not even partially
	IgnoreEOS    bool     // keep generating past end-of-generation tokens (benchmarks)
	Grammar      string   // GBNF; constrains the output
	JSONSchema   []byte   // turned into a grammar; Grammar wins if both are set
	Images       []Image  // go where Prompt has ImageMarker(), the i-th at the i-th (vision.go)
	N            int      // choices, each its own sequence; 0: 1
	Logprobs     bool
	TopLogprobs  int // 0..20 alternatives per token (needs Logprobs)
	// PreservedTokens are the special tokens printed in the text (others
	// are not): tool-call and reasoning markers some vocabularies hold as
	// control tokens ([TOOL_CALLS], <|python_tag|>...), which the caller
	// must see to parse the output. Strings that are not one special token
	// of the model are ignored.
	PreservedTokens []string
}

// FinishReason says why a choice ended.
type FinishReason string

const (
	FinishStop      FinishReason = "stop"      // end-of-generation token or stop string
	FinishLength    FinishReason = "length"    // max_tokens or the context end
	FinishCancelled FinishReason = "cancelled" // the request's context was cancelled
)

// TokenLogprob is one generated token with its log-probability and, when
// asked, the most likely alternatives at that position.
type TokenLogprob struct {
	Token   int
	Text    string // the token's bytes as text (may be a partial UTF-8 sequence)
	Bytes   []byte
	Logprob float32
	Top     []TopLogprob
}

// TopLogprob is one alternative at a position.
type TopLogprob struct {
	Token   int
	Text    string
	Bytes   []byte
	Logprob float32
}

// Usage is what a request consumed, counted by the engine.
type Usage struct {
	PromptTokens       int // prompt tokens of the request (counted once for n > 1)
	CachedTokens       int // of those, served from a slot's KV cache
	ImageTokens        int // of those, positions filled by image embeddings
	CompletionTokens   int // generated tokens over all choices
	PromptDuration     time.Duration
	GenerationDuration time.Duration
	// QueueDuration is the time spent waiting for a slot (not processing).
	QueueDuration time.Duration
	// ComputeDuration is this request's share of the model's decode time:
	// each decode step's time divided among the sequences in it in
	// proportion to the tokens each contributed, plus its own sampling. It
	// does not grow when other requests share the batch, and over all
	// requests it adds up to the model's busy time.
	ComputeDuration time.Duration
}

// ProcessingDuration is what per-second pricing bills: the request's share
// of compute (prompt processing, image encoding and generation), never
// queueing, other requests' work or model loading.
func (u Usage) ProcessingDuration() time.Duration { return u.ComputeDuration }

// Event is one step of a generation stream. A stream delivers any number of
// deltas; each choice ends with an event whose FinishReason is set; the last
// event of the stream has Done set and carries Usage (and Err if the
// generation failed inside the engine).
type Event struct {
	Index int    // choice index, 0..N-1
	Text  string // valid UTF-8, possibly empty
	// Tokens is how many tokens the choice generated since its previous
	// event (Text may hold fewer when a stop string or an incomplete
	// character is held back); they add up to the choice's share of
	// Usage.CompletionTokens.
	Tokens       int
	Logprobs     []TokenLogprob
	FinishReason FinishReason // set on the choice's last event
	Done         bool
	Usage        Usage
	Err          error
}

// EmbedRequest asks for embeddings of several inputs, as text or tokens.
type EmbedRequest struct {
	Texts  []string
	Tokens [][]int
}

// EmbedResult holds one L2-normalised vector per input, in input order.
type EmbedResult struct {
	Vectors      [][]float32
	PromptTokens int
	Duration     time.Duration
}

// ChatMessage is one message as a chat template sees it: "role" and "content"
// plus anything else the template may read (tool_calls with arguments as
// objects, name, tool_call_id, reasoning_content, ...).
type ChatMessage = map[string]any

// ChatRequest is the input of a chat template.
type ChatRequest struct {
	Messages            []ChatMessage
	Tools               []any // OpenAI tool definitions, as decoded JSON; nil: none
	AddGenerationPrompt bool
	// Extra are further template variables (a request's
	// chat_template_kwargs, e.g. enable_thinking); they cannot replace the
	// ones above.
	Extra map[string]any
}

// Stats is a snapshot of the scheduler.
type Stats struct {
	Slots       int
	BusySlots   int
	QueueDepth  int // requests waiting for a slot
	Requests    uint64
	TokensIn    uint64
	TokensOut   uint64
	ImagesIn    uint64 // images run through the vision encoder (not those found in the prompt cache)
	LastRequest time.Time
	// Threads is what the last decode step ran on, MaxThreads the most the
	// model may use; ThreadsReason says why (the tuner lowers the count
	// while another process competes for the cores).
	Threads       int
	MaxThreads    int
	ThreadsReason string
	// DecodeSteps counts llama_decode calls since the load, and
	// FewerThreadSteps those that ran on fewer threads than MaxThreads:
	// their share is how much of the time the tuner saw contention.
	DecodeSteps, FewerThreadSteps uint64
	// Busy is the model's decode time since it loaded: the sum of every
	// request's ComputeDuration.
	Busy time.Duration
	// PromptTokenCost and GenTokenCost are measured compute per prompt
	// token and per generated token of a sequence decoding alone (the most
	// a generated token is billed); zero until measured. Per-second
	// billing reserves from them.
	PromptTokenCost time.Duration
	GenTokenCost    time.Duration
}

// Errors callers can test for with errors.Is / errors.As.
var (
	ErrQueueFull      = errors.New("engine: request queue is full")
	ErrClosed         = errors.New("engine: model is closed")
	ErrNotEmbedding   = errors.New("engine: model was not loaded for embeddings")
	ErrEmbeddingModel = errors.New("engine: model was loaded for embeddings only")
	ErrNoChatTemplate = errors.New("engine: model has no chat template")
	ErrNoVision       = errors.New("engine: model has no vision projector: it cannot take images")
	ErrNoFillInMiddle = errors.New("engine: model has no fill-in-the-middle tokens")
)

// InvalidRequestError is a request the engine cannot serve as asked (bad
// grammar, token id out of range, empty prompt...). Param names the field.
type InvalidRequestError struct {
	Param   string
	Message string
}

func (e *InvalidRequestError) Error() string { return "engine: invalid " + e.Param + ": " + e.Message }

// PromptTooLongError is returned when a prompt does not fit the context of a
// sequence. The prompt is never silently truncated.
type PromptTooLongError struct {
	PromptTokens  int
	ContextLength int
}

func (e *PromptTooLongError) Error() string {
	return fmt.Sprintf("prompt is %d tokens, but the model's context is %d tokens per sequence", e.PromptTokens, e.ContextLength)
}

// LoadError is a model file that cannot be loaded.
type LoadError struct {
	Path string
	Err  error
}

func (e *LoadError) Error() string { return fmt.Sprintf("load %s: %v", e.Path, e.Err) }
func (e *LoadError) Unwrap() error { return e.Err }
