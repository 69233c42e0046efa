package server

import (
	"context"
	"time"

	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/engine"
)

// Catalog is what the HTTP layer needs from the model manager. It is an
// interface so handlers can be tested with fakes; catalogAdapter (see
// models_adapter.go) turns a *models.Manager into one.
type Catalog interface {
	// Lookup resolves a model name or alias without loading it. Unknown
	// names return *UnknownModelError.
	Lookup(name string) (ModelInfo, error)
	// Acquire returns a loaded model, waiting for it to load. A model that
	// cannot be loaded returns *ModelUnavailableError. The lease must be
	// released when the request is done with the model.
	Acquire(ctx context.Context, name string) (Lease, error)
	// Statuses lists every configured model with its state.
	Statuses() []ModelStatus
	// Status reports one model's state (used for loading heartbeats).
	Status(name string) (ModelStatus, bool)
}

// Lease keeps a loaded model from being unloaded while a request uses it.
type Lease interface {
	Model() Model
	Release()
}

// Model is the subset of *engine.Model the handlers call. Generate returns
// an EventStream so fakes need not build engine.Stream values.
type Model interface {
	Generate(ctx context.Context, req engine.GenerateRequest) (EventStream, error)
	Embed(ctx context.Context, req engine.EmbedRequest) (engine.EmbedResult, error)
	Tokenize(text string, addSpecial, parseSpecial bool) ([]int, error)
	Detokenize(tokens []int) (string, error)
	ApplyChatTemplate(req engine.ChatRequest) (string, error)
	Info() engine.Info
}

// EventStream is *engine.Stream: read until an event with Done.
type EventStream interface {
	Next() (engine.Event, bool)
}

// ModelInfo is the configured view of a model: what /v1/models shows and the
// defaults applied to requests that do not set them.
type ModelInfo struct {
	ID            string // canonical name (what responses report as "model")
	DisplayName   string
	Description   string
	Aliases       []string
	Tags          []string
	OwnedBy       string
	Created       time.Time
	ContextLength int            // per sequence; 0 when unknown until loaded
	Embeddings    bool           // an embedding model (no chat/completions)
	Vision        bool           // takes images (has a projector)
	Pricing       config.Pricing // zero: free
	RateLimit     int            // requests per minute per account; 0: none
	Defaults      SamplingDefaults
	Stop          []string // default stop strings
	MaxTokens     int      // cap on max_tokens; 0: no cap
	ToolFormat    string   // tool-call family; "": detected from the chat template
	SystemPrompt  string   // system message of chat requests that send none
}

// SamplingDefaults are a model's configured sampling values; nil: not set.
type SamplingDefaults = config.SamplingDefaults

// Model states as /v1/models reports them.
const (
	StateUnloaded = "unloaded"
	StateLoading  = "loading"
	StateLoaded   = "loaded"
	StateFailed   = "failed"
)

// ModelStatus is a model with its runtime state.
type ModelStatus struct {
	ModelInfo
	State     string
	Progress  float64 // 0..1 while loading
	Error     string  // why the last load failed
	Placement []DevicePlacement
}

// DevicePlacement is what a loaded (or loading) model holds on one device.
type DevicePlacement struct {
	Device string `json:"device"` // "CPU", "CUDA0", ...
	Kind   string `json:"kind"`   // "cpu", "gpu" or "igpu"
	Layers int    `json:"layers"`
	Bytes  uint64 `json:"bytes"`
}

// UnknownModelError is a model name that matches no configured model.
type UnknownModelError struct {
	Name        string
	Suggestions []string
}

func (e *UnknownModelError) Error() string { return "unknown model " + e.Name }

// ModelUnavailableError is a model that cannot be loaded now (not enough
// memory, broken file...). Reason is shown to the client.
type ModelUnavailableError struct {
	Name       string
	Reason     string
	RetryAfter time.Duration
}

func (e *ModelUnavailableError) Error() string {
	return "model " + e.Name + " is unavailable: " + e.Reason
}
