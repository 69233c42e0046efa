package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/models"
)

// New builds the server from the configuration over the model manager.
func New(cfg *config.Config, catalog *models.Manager, logger *slog.Logger, opts ...Option) (*Server, error) {
	if cfg == nil {
		return nil, errors.New("server: nil config")
	}
	if catalog == nil {
		return nil, errors.New("server: nil model manager")
	}
	settings := Settings{
		Listen:          cfg.Listen,
		Limits:          limitsOf(cfg),
		ShutdownTimeout: cfg.ShutdownTimeout.Std(),
		Currency:        cfg.Auth.Currency,
		Images:          cfg.Images,
	}
	s, err := NewWithCatalog(settings, &managerCatalog{m: catalog}, logger, opts...)
	if err != nil {
		return nil, err
	}
	s.registerModelAdmin(catalog)
	s.modelSpeed = catalog.Speed
	// Edits of body_limit, body_timeout, prompt_limit and max_connections
	// apply from the next request; listen and shutdown_timeout keep their
	// values until a restart.
	catalog.OnConfig(func(c *config.Config) { s.SetLimits(limitsOf(c)) })
	return s, nil
}

// managerCatalog adapts *models.Manager to Catalog.
type managerCatalog struct {
	m *models.Manager
}

// unavailableRetry is the Retry-After for models that cannot load now.
const unavailableRetry = 30 * time.Second

func (c *managerCatalog) Lookup(name string) (ModelInfo, error) {
	e, err := c.m.Lookup(name)
	if err != nil {
		return ModelInfo{}, fromModelsError(name, err)
	}
	return c.infoOf(e), nil
}

func (c *managerCatalog) Acquire(ctx context.Context, name string) (Lease, error) {
	l, err := c.m.Acquire(ctx, name)
	if err != nil {
		return nil, fromModelsError(name, err)
	}
	em := l.Model()
	if em == nil {
		l.Release()
		return nil, fmt.Errorf("model %s: loader returned no engine model", name)
	}
	return managerLease{l: l, m: engineModel{em}}, nil
}

func (c *managerCatalog) Statuses() []ModelStatus {
	sts := c.m.Statuses()
	out := make([]ModelStatus, 0, len(sts))
	for _, st := range sts {
		out = append(out, c.statusOf(st))
	}
	return out
}

func (c *managerCatalog) Status(name string) (ModelStatus, bool) {
	st, err := c.m.Status(name)
	if err != nil {
		return ModelStatus{}, false
	}
	return c.statusOf(st), true
}

func (c *managerCatalog) statusOf(st models.Status) ModelStatus {
	state := string(st.State)
	if st.State == models.StateUnloading {
		state = StateUnloaded
	}
	return ModelStatus{ModelInfo: c.infoOf(st.Entry), State: state, Progress: float64(st.Progress), Error: st.Error,
		Placement: placementOf(st)}
}

// placementOf is where a loaded or loading model is; nil otherwise.
func placementOf(st models.Status) []DevicePlacement {
	if st.State != models.StateLoaded && st.State != models.StateLoading {
		return nil
	}
	var out []DevicePlacement
	for _, u := range st.Placement {
		out = append(out, DevicePlacement{Device: u.Device, Kind: u.Kind, Layers: u.Layers, Bytes: u.Bytes})
	}
	return out
}

func (c *managerCatalog) infoOf(e models.Entry) ModelInfo {
	m := e.Model
	info := ModelInfo{
		ID: e.Name, DisplayName: m.DisplayName, Description: m.Description, Aliases: m.Aliases, Tags: m.Tags,
		OwnedBy: defaultOwner, Created: e.Created, ContextLength: e.ContextLength, Embeddings: e.Embeddings,
		Defaults: m.Sampling, Stop: m.Stop, MaxTokens: m.MaxTokens, ToolFormat: m.ToolFormat, SystemPrompt: m.SystemPrompt,
		Pricing: m.Pricing, RateLimit: m.RateLimit, Vision: e.Projector != "",
	}
	return info
}

// fromModelsError maps the manager's errors to the ones toAPIError knows.
func fromModelsError(name string, err error) error {
	var (
		nf   *models.NotFoundError
		mem  *models.InsufficientMemoryError
		fail *models.LoadFailedError
	)
	switch {
	case errors.As(err, &nf):
		return &UnknownModelError{Name: nf.Name, Suggestions: nf.Suggestions}
	case errors.As(err, &mem):
		return &ModelUnavailableError{Name: name, Reason: mem.Error(), RetryAfter: unavailableRetry}
	case errors.As(err, &fail):
		return &ModelUnavailableError{Name: name, Reason: fmt.Sprintf("loading failed: %v", fail.Err), RetryAfter: unavailableRetry}
	case errors.Is(err, models.ErrClosed):
		return &ModelUnavailableError{Name: name, Reason: "the server is shutting down"}
	}
	return fmt.Errorf("acquire model %s: %w", name, err)
}

type managerLease struct {
	l *models.Lease
	m engineModel
}

func (l managerLease) Model() Model { return l.m }
func (l managerLease) Release()     { l.l.Release() }

// engineModel adapts *engine.Model, whose Generate returns a concrete
// *engine.Stream.
type engineModel struct{ *engine.Model }

func (m engineModel) Generate(ctx context.Context, req engine.GenerateRequest) (EventStream, error) {
	st, err := m.Model.Generate(ctx, req)
	if err != nil {
		return nil, err // not a typed nil inside the interface
	}
	return st, nil
}
