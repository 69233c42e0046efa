// Package config reads ggufd's YAML configuration file and validates it,
// reporting every problem with the file, line and field it comes from.
//
// A missing file is not an error the daemon has to stop on: Default returns
// a configuration that serves every GGUF file found in ./data/models.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is the whole configuration file.
type Config struct {
	// Listen is the HTTP listen address, host:port.
	Listen string `yaml:"listen"`
	// ModelsDir holds the GGUF files. Parse makes it absolute, relative
	// paths resolving against the config file's folder.
	ModelsDir string `yaml:"models_dir"`
	// DataDir holds ggufd's own state (SQLite database...).
	DataDir string `yaml:"data_dir"`
	// Database is where accounts, keys, balances and the ledger live: ""
	// for the SQLite file in DataDir, or a postgres:// URL that several
	// daemons share.
	Database string `yaml:"database"`
	// ReservationTTL is how long a daemon's reservations and concurrency
	// slots outlive it (it renews them every third of this while it runs);
	// 0 means 30s.
	ReservationTTL Duration `yaml:"reservation_ttl"`
	// KeepAlive is how long a model stays loaded after its last request
	// ends. 0 unloads as soon as it is idle; negative (-1) never unloads.
	KeepAlive Duration `yaml:"keep_alive"`
	// MaxKeepAlive caps every keep_alive (configured or asked for by
	// clients); 0 means no cap.
	MaxKeepAlive Duration `yaml:"max_keep_alive"`
	// MaxLoadedModels is the most models loaded at once; 0 means no limit.
	MaxLoadedModels int `yaml:"max_loaded_models"`
	// MemoryHeadroom is system memory kept free for the rest of the system
	// when a load is admitted.
	MemoryHeadroom ByteSize `yaml:"memory_headroom"`
	// GPUMemoryHeadroom is kept free on each GPU: the driver, other
	// programs and allocations llama.cpp makes beyond its buffers.
	GPUMemoryHeadroom ByteSize `yaml:"gpu_memory_headroom"`
	// MemoryLimit is a system-memory budget for all loaded models together
	// (GPU memory is not counted); 0 means the memory the system reports
	// available.
	MemoryLimit ByteSize `yaml:"memory_limit"`
	// QueueDepth is how many requests may wait for a slot, per model.
	QueueDepth int `yaml:"queue_depth"`
	// BodyLimit caps the size of a request body.
	BodyLimit ByteSize `yaml:"body_limit"`
	// BodyTimeout bounds the time a client may take to send a request
	// body; a client that trickles or goes silent gets a 408 and its
	// connection is closed.
	BodyTimeout Duration `yaml:"body_timeout"`
	// PromptLimit caps the text one request asks the server to tokenize:
	// a completion's prompts, a chat's messages and tools, embedding
	// inputs, /tokenize content. Tokenizing costs tens of bytes of memory
	// per byte of text, so this bounds a request's memory far below
	// BodyLimit allows.
	PromptLimit ByteSize `yaml:"prompt_limit"`
	// MaxConnections caps open client connections; one more is answered
	// with a 503 and closed. 0 means no limit.
	MaxConnections int `yaml:"max_connections"`
	// ShutdownTimeout is how long shutdown waits for in-flight requests.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	Auth            Auth     `yaml:"auth"`
	// Images limits image input to vision models (see vision.go).
	Images Images `yaml:"images"`
	// Defaults apply to every model that does not set the field itself,
	// including the models discovered in ModelsDir.
	Defaults ModelDefaults `yaml:"defaults"`
	// ConfiguredOnly serves only the models named in Models: other GGUF
	// files in ModelsDir are not discovered. With auth on, a file dropped
	// into the folder is then never served (unpriced) by accident.
	ConfiguredOnly bool `yaml:"configured_only"`
	// Models are the configured models, in file order. In YAML this is a
	// mapping keyed by model name.
	Models []Model `yaml:"-"`

	// Path is the file the configuration was read from ("" for Default).
	Path string `yaml:"-"`
	// Dir is the folder relative paths resolve against.
	Dir string `yaml:"-"`
	// Warnings are problems that do not stop the configuration from being
	// used (e.g. a keep_alive above max_keep_alive).
	Warnings []*Error `yaml:"-"`

	src *source // nil for Default()
}

// Auth selects how clients authenticate.
type Auth struct {
	// Mode is "none", "key" (API keys) or "openid". Empty picks "none" when
	// Listen is a loopback address and "key" otherwise.
	Mode string `yaml:"mode"`
	// AllowUnauthenticated permits mode "none" on a non-loopback address.
	AllowUnauthenticated bool `yaml:"allow_unauthenticated"`
	// AdminKey is a bootstrap key with admin rights.
	AdminKey string `yaml:"admin_key"`
	// MetricsPublic serves /metrics without the admin key: a Prometheus
	// scrape config usually holds no secret.
	MetricsPublic bool `yaml:"metrics_public"`
	// Currency is the unit prices and balances are shown in, e.g. "元".
	Currency string `yaml:"currency"`
}

// ModelDefaults are the load settings of models that do not set their own.
type ModelDefaults struct {
	Context        int        `yaml:"context"`
	Parallel       int        `yaml:"parallel"`
	Threads        int        `yaml:"threads"`
	GPULayers      *GPULayers `yaml:"gpu_layers"` // nil: auto
	KVCacheType    string     `yaml:"kv_cache_type"`
	FlashAttention string     `yaml:"flash_attention"`
	// Pricing is the price of every model whose entry sets no pricing of
	// its own, the models discovered in ModelsDir included.
	Pricing Pricing `yaml:"pricing"`
}

// Model is one served model.
type Model struct {
	// Name is what clients ask for (the YAML key).
	Name string `yaml:"-"`
	// Base makes this entry a variant of the model it names: the same
	// loaded instance (one load, one memory charge, one set of slots, one
	// prompt cache) under another name with its own price, rate limit,
	// sampling defaults, stop strings, max_tokens cap, system prompt,
	// description and tags. Parse copies the base's load settings (file,
	// context, parallel...) into a variant, which may not set them itself,
	// and the base's other settings where the variant sets none.
	Base string `yaml:"base"`
	// File is the GGUF file. Parse makes it absolute; relative paths
	// resolve against ModelsDir, and it defaults to NAME.gguf there.
	File        string   `yaml:"file"`
	Aliases     []string `yaml:"aliases"`
	DisplayName string   `yaml:"display_name"`
	Description string   `yaml:"description"`
	// Context is tokens per sequence; 0: the file's trained length capped
	// at defaults.context (see ContextFor).
	Context        int        `yaml:"context"`
	Parallel       int        `yaml:"parallel"`
	Threads        int        `yaml:"threads"`
	GPULayers      *GPULayers `yaml:"gpu_layers"`
	KVCacheType    string     `yaml:"kv_cache_type"`
	FlashAttention string     `yaml:"flash_attention"`
	KeepAlive      *Duration  `yaml:"keep_alive"`
	Preload        bool       `yaml:"preload"`
	Embeddings     bool       `yaml:"embeddings"`
	MMProj         string     `yaml:"mmproj"` // vision projector file; see ProjectorFile
	// ChatTemplate is inline Jinja or the path of a .jinja file; see
	// ChatTemplateSource.
	ChatTemplate string `yaml:"chat_template"`
	// ToolFormat names how the model writes tool calls (see
	// toolformat.Names); empty: detected from the chat template.
	ToolFormat string           `yaml:"tool_format"`
	Sampling   SamplingDefaults `yaml:"sampling"`
	Stop       []string         `yaml:"stop"`
	// MaxTokens caps a request's max_tokens; 0: no cap.
	MaxTokens int `yaml:"max_tokens"`
	// SystemPrompt is the system message of chat requests that send none.
	SystemPrompt string  `yaml:"system_prompt"`
	Pricing      Pricing `yaml:"pricing"`
	// RateLimit is requests per minute for this model; 0: none.
	RateLimit int      `yaml:"rate_limit"`
	Tags      []string `yaml:"tags"`

	// dir is where a relative chat_template path resolves.
	dir string
}

// SamplingDefaults are a model's default sampling values; nil: not set.
type SamplingDefaults struct {
	Temperature      *float64 `yaml:"temperature"`
	TopP             *float64 `yaml:"top_p"`
	TopK             *int     `yaml:"top_k"`
	MinP             *float64 `yaml:"min_p"`
	RepeatPenalty    *float64 `yaml:"repeat_penalty"`
	PresencePenalty  *float64 `yaml:"presence_penalty"`
	FrequencyPenalty *float64 `yaml:"frequency_penalty"`
	Seed             *int64   `yaml:"seed"`
}

// Bounds of a price. MaxPrice (currency units per 1K tokens or per second)
// leaves room in the accounts package's int64 micro-units for requests of
// billions of tokens or months of processing, and is far above any real
// price in any currency. max_seconds is billed in whole milliseconds, and
// MaxMaxSeconds (about 11.6 days) keeps it inside a time.Duration.
const (
	MaxPrice      = 1e6
	MinMaxSeconds = 0.001
	MaxMaxSeconds = 1e6
)

// Pricing is what a model costs, in Auth.Currency.
type Pricing struct {
	InputPer1K  float64 `yaml:"input_per_1k"`
	OutputPer1K float64 `yaml:"output_per_1k"`
	// CachedInputPer1K prices prompt tokens served from the KV cache; nil
	// (not set): the same as InputPer1K; 0: cache hits are free.
	CachedInputPer1K *float64 `yaml:"cached_input_per_1k"`
	// PerSecond is charged for processing time: the request's share of the
	// model's compute (prompt, images and generation), never queueing or
	// loading.
	PerSecond float64 `yaml:"per_second"`
	// MaxSeconds caps the billed processing time of one request, and stops
	// its generation there; 0: no cap.
	MaxSeconds float64 `yaml:"max_seconds"`
}

// IsZero reports whether the model is free.
func (p Pricing) IsZero() bool {
	return p.InputPer1K == 0 && p.OutputPer1K == 0 && p.PerSecond == 0 &&
		(p.CachedInputPer1K == nil || *p.CachedInputPer1K == 0)
}

// CachedPer1K is the price billed per 1000 cached prompt tokens.
func (p Pricing) CachedPer1K() float64 {
	if p.CachedInputPer1K != nil {
		return *p.CachedInputPer1K
	}
	return p.InputPer1K
}

// Built-in defaults.
const (
	DefaultListen         = "127.0.0.1:8080"
	DefaultModelsDir      = "./data/models"
	DefaultDataDir        = "./data"
	DefaultKeepAlive      = Duration(5 * time.Minute)
	DefaultMemoryHeadroom = ByteSize(1 << 30)
	// DefaultGPUMemoryHeadroom is about what Ollama reserves per CUDA
	// device beyond its estimate (457MiB) plus a margin for cuBLAS
	// workspaces, which are allocated outside the compute buffers.
	DefaultGPUMemoryHeadroom = ByteSize(512 << 20)
	DefaultQueueDepth        = 64
	// MaxQueueDepth bounds queue_depth: each model allocates its queues
	// at load (a pointer per place, twice), outside the memory estimate,
	// and a value past what make accepts would panic in the load.
	MaxQueueDepth      = 65536
	DefaultBodyLimit   = ByteSize(16 << 20)
	DefaultBodyTimeout = Duration(60 * time.Second)
	// DefaultPromptLimit holds a 128k-token context at 8 bytes a token;
	// tokenizing it peaks at about 65 MB (measured with the Llama-2
	// vocabulary: ~50 bytes of memory per byte of text).
	DefaultPromptLimit = ByteSize(1 << 20)
	// DefaultMaxConnections stays far below the file descriptors a
	// process gets while leaving room for many streams and idle
	// keep-alive connections.
	DefaultMaxConnections  = 1024
	DefaultShutdownTimeout = Duration(30 * time.Second)
	// DefaultContext caps the context of models that do not set one: a
	// model trained on 128k tokens would otherwise reserve a huge KV cache.
	DefaultContext  = 4096
	DefaultParallel = 4
)

// Default returns the configuration used when there is no config file:
// serve every GGUF in ./data/models on loopback. Paths are relative to the
// working directory.
func Default() *Config {
	return &Config{
		Listen:            DefaultListen,
		ModelsDir:         DefaultModelsDir,
		DataDir:           DefaultDataDir,
		KeepAlive:         DefaultKeepAlive,
		MemoryHeadroom:    DefaultMemoryHeadroom,
		GPUMemoryHeadroom: DefaultGPUMemoryHeadroom,
		QueueDepth:        DefaultQueueDepth,
		BodyLimit:         DefaultBodyLimit,
		BodyTimeout:       DefaultBodyTimeout,
		PromptLimit:       DefaultPromptLimit,
		MaxConnections:    DefaultMaxConnections,
		ShutdownTimeout:   DefaultShutdownTimeout,
		Auth:              Auth{Mode: "none"},
		Images:            DefaultImages(),
	}
}

// Load reads and validates the file at path. A missing file returns an error
// that matches fs.ErrNotExist, so callers can fall back to Default.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path)
}

// Parse parses and validates a configuration: its syntax, every field, and
// that the folders and files it names exist. It opens no model file and
// asks nothing of the machine; CheckMemory does that part. name is the file
// the data came from: errors cite it, and relative paths resolve against
// its folder (the working directory when name is "").
func Parse(data []byte, name string) (*Config, error) {
	return parse(data, name)
}

// IsVariant reports whether m shares the loaded instance of its Base.
func (m Model) IsVariant() bool { return m.Base != "" }

// Model returns the configured model called name, or false.
func (c *Config) Model(name string) (Model, bool) {
	for _, m := range c.Models {
		if m.Name == name {
			return m, true
		}
	}
	return Model{}, false
}

// KeepAliveFor is the effective keep_alive of m: its own, else the global
// one, capped by MaxKeepAlive.
func (c *Config) KeepAliveFor(m Model) Duration {
	d := c.KeepAlive
	if m.KeepAlive != nil {
		d = *m.KeepAlive
	}
	return c.CapKeepAlive(d)
}

// CapKeepAlive applies MaxKeepAlive to d (e.g. a keep_alive a client asked
// for).
func (c *Config) CapKeepAlive(d Duration) Duration {
	if c.MaxKeepAlive > 0 && (d.IsNever() || d > c.MaxKeepAlive) {
		return c.MaxKeepAlive
	}
	return d
}

// WithDefaults returns m with every unset load setting taken from
// c.Defaults (parallel, threads, gpu layers, KV type, flash attention).
// GPULayers is never nil afterwards: unset everywhere, it is auto.
// Context stays as set: defaults.context is a cap on the trained length,
// applied by ContextFor.
func (c *Config) WithDefaults(m Model) Model {
	d := c.Defaults
	if m.Parallel == 0 {
		m.Parallel = d.Parallel
	}
	if m.Parallel == 0 {
		m.Parallel = DefaultParallel
	}
	if m.Threads == 0 {
		m.Threads = d.Threads
	}
	if m.GPULayers == nil {
		v := GPULayersAuto
		if d.GPULayers != nil {
			v = *d.GPULayers
		}
		m.GPULayers = &v
	}
	if m.KVCacheType == "" {
		m.KVCacheType = d.KVCacheType
	}
	if m.FlashAttention == "" {
		m.FlashAttention = d.FlashAttention
	}
	return m
}

// RealPath is path with its symlinks resolved, or path itself when it
// cannot be resolved (a missing file is reported where it is opened). Two
// model files with one real path are the same weights: they must share one
// load, never load twice.
func RealPath(path string) string {
	if r, err := filepath.EvalSymlinks(path); err == nil {
		return r
	}
	return path
}

// DiscoveredModel is the configuration of a GGUF file found in ModelsDir
// that the config file does not name: served under its file stem with the
// defaults.
func (c *Config) DiscoveredModel(path string) Model {
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return c.WithDefaults(Model{Name: name, File: path, dir: c.Dir, Pricing: c.Defaults.Pricing})
}

// ChatTemplateSource returns the chat template override of m: the contents
// of the file when ChatTemplate names a .jinja file (relative to the config
// file's folder), else ChatTemplate itself ("" when not set).
func (m Model) ChatTemplateSource() (string, error) {
	p, ok := m.chatTemplatePath()
	if !ok {
		return m.ChatTemplate, nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("model %s: read chat template: %w", m.Name, err)
	}
	return string(b), nil
}

// chatTemplatePath reports whether ChatTemplate is a file reference and
// returns its absolute path. Inline templates contain Jinja markup or
// newlines; a single line ending in .jinja/.j2 is a path.
func (m Model) chatTemplatePath() (string, bool) {
	t := strings.TrimSpace(m.ChatTemplate)
	if t == "" || strings.ContainsAny(t, "\n{}") {
		return "", false
	}
	ext := strings.ToLower(filepath.Ext(t))
	if ext != ".jinja" && ext != ".j2" && ext != ".jinja2" {
		return "", false
	}
	if !filepath.IsAbs(t) {
		t = filepath.Join(m.dir, t)
	}
	return t, true
}

// Error is one problem in a configuration file.
type Error struct {
	File   string
	Line   int // 1-based; 0 when unknown
	Column int
	Field  string // dotted path, e.g. "models.tiny.context"
	Msg    string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	} else {
		b.WriteString("config")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ValidationError lists every problem found in a configuration.
type ValidationError struct {
	Errors []*Error
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, err := range e.Errors {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap lets errors.As find the individual *Error values.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Errors))
	for i, err := range e.Errors {
		errs[i] = err
	}
	return errs
}

var errNotExist = errors.New("does not exist")
