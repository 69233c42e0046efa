// Package server is ggufd's OpenAI-compatible HTTP API on Echo: chat and
// text completions, embeddings, the model list, llama-server's tokenizer and
// template utilities, under /v1/ and under our users' /llm_api/ URL form.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/models"
	"github.com/ggufd/ggufd/server/images"
	"github.com/labstack/echo/v4"
)

// Settings are the HTTP server's knobs (from the config file).
type Settings struct {
	// Limits are the request limits; SetLimits changes them while serving.
	Limits
	ReadHeaderTimeout time.Duration // 0: 10s
	IdleTimeout       time.Duration // keep-alive; 0: 120s
	ShutdownTimeout   time.Duration // used by callers of Shutdown; 0: 30s
	// StreamWriteTimeout bounds one write of a stream to its client; 0: 60s.
	// A client that keeps its connection open but reads nothing blocks
	// the write forever otherwise: its request is never settled, its
	// reservation and model lease are held, its events pile up.
	StreamWriteTimeout time.Duration
	Currency           string        // unit of prices shown in /v1/models
	Images             config.Images // image input limits; zero fields: config's defaults
	// MetricsPublic serves /metrics without the admin key.
	MetricsPublic bool
	// Version is the build's version, part of system_fingerprint; "": the
	// version Go recorded in the binary.
	Version string
}

func (st Settings) withDefaults() Settings {
	st.Limits = st.Limits.withDefaults()
	if st.ReadHeaderTimeout <= 0 {
		st.ReadHeaderTimeout = 10 * time.Second
	}
	if st.IdleTimeout <= 0 {
		st.IdleTimeout = 120 * time.Second
	}
	if st.ShutdownTimeout <= 0 {
		st.ShutdownTimeout = 30 * time.Second
	}
	if st.StreamWriteTimeout <= 0 {
		st.StreamWriteTimeout = 60 * time.Second
	}
	st.Images = imageSettings(st.Images)
	if st.Version == "" {
		st.Version = buildVersion()
	}
	return st
}

// maxHeaderBytes bounds the request line and headers, all a request may
// cost before its caller is authenticated (Go's default is 1 MiB; keys,
// cookies and the longest /llm_api/ paths fit in a few KiB).
const maxHeaderBytes = 64 << 10

// Option customises a Server.
type Option func(*Server)

// WithGatekeeper installs the accounts layer's hook.
func WithGatekeeper(g Gatekeeper) Option { return func(s *Server) { s.gate = g } }

// WithHeartbeat sets the interval of SSE comments sent while a model loads
// (default 2s; 0 disables them).
func WithHeartbeat(d time.Duration) Option { return func(s *Server) { s.heartbeat = d } }

// WithVersion sets the build's version, part of system_fingerprint.
func WithVersion(v string) Option { return func(s *Server) { s.settings.Version = v } }

// WithRoutes lets other packages (the accounts API) add routes; they share
// the error format, request ids and logging.
func WithRoutes(register func(e *echo.Echo)) Option {
	return func(s *Server) { s.extraRoutes = append(s.extraRoutes, register) }
}

// Server is the HTTP API.
type Server struct {
	settings    Settings
	catalog     Catalog
	logger      *slog.Logger
	gate        Gatekeeper
	heartbeat   time.Duration
	extraRoutes []func(*echo.Echo)
	accounts    *accounts.Service
	// modelSpeed is a model's compute per token, for per-second
	// reservations (New sets the model manager's); nil: unknown.
	modelSpeed func(model string) (models.Speed, error)
	images     *images.Source
	metrics    *metrics
	devices    func() DeviceInfo

	limits        atomic.Pointer[Limits] // settings.Limits, or those of the last reload
	metricsPublic atomic.Bool            // settings.MetricsPublic, or that of the last reload
	conns         *connLimiter
	echo          *echo.Echo
	http          *http.Server
	baseCtx       context.Context
	cancelBase    context.CancelFunc
	active        sync.WaitGroup // requests in handlers, for Shutdown
	closing       atomic.Bool
}

// New builds the server from the configuration over the model manager.
func New(cfg *config.Config, mgr *models.Manager, logger *slog.Logger, opts ...Option) (*Server, error) {
	if cfg == nil || mgr == nil {
		return nil, errors.New("server: nil config or model manager")
	}
	settings := Settings{
		Limits:          limitsOf(cfg),
		ShutdownTimeout: cfg.ShutdownTimeout.Std(),
		Currency:        cfg.Auth.Currency,
		Images:          cfg.Images,
		MetricsPublic:   cfg.Auth.MetricsPublic,
	}
	s, err := NewWithCatalog(settings, managerCatalog{mgr}, logger, opts...)
	if err != nil {
		return nil, err
	}
	s.registerModelAdmin(mgr)
	s.modelSpeed = mgr.Speed
	mgr.OnLoad(s.metrics.observeLoad)
	// Edits of body_limit, body_timeout, prompt_limit, max_connections and
	// auth.metrics_public apply from the next request; listen and
	// shutdown_timeout keep their values until a restart.
	mgr.OnConfig(func(c *config.Config) {
		s.SetLimits(limitsOf(c))
		s.metricsPublic.Store(c.Auth.MetricsPublic)
	})
	return s, nil
}

// NewWithCatalog builds a server over any Catalog (tests use fakes; New
// adapts the model manager).
func NewWithCatalog(settings Settings, catalog Catalog, logger *slog.Logger, opts ...Option) (*Server, error) {
	if catalog == nil {
		return nil, errors.New("server: nil catalog")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		settings:  settings.withDefaults(),
		catalog:   catalog,
		logger:    logger,
		gate:      openGate{},
		heartbeat: 2 * time.Second,
	}
	s.images = newImageSource(s.settings.Images)
	for _, o := range opts {
		o(s)
	}
	s.SetLimits(s.settings.Limits)
	s.metricsPublic.Store(s.settings.MetricsPublic)
	s.metrics = newMetrics(catalog)
	s.conns = &connLimiter{max: func() int { return s.currentLimits().MaxConnections }, logger: logger}
	if s.accounts != nil {
		s.installAccounts()
	}
	s.baseCtx, s.cancelBase = context.WithCancel(context.Background())
	s.echo = s.routes()
	s.http = &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: s.settings.ReadHeaderTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// No ReadTimeout/WriteTimeout: both would cut long streaming
		// responses. The body read deadline is set per request (guardBody).
		IdleTimeout: s.settings.IdleTimeout,
		BaseContext: func(net.Listener) context.Context { return s.baseCtx },
		ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Pre(s.track, s.observe, s.recoverPanics, s.guardBody, cors)

	e.GET("/health", s.health)
	e.GET("/metrics", s.serveMetrics, s.guardMetrics)
	e.POST("/v1/chat/completions", s.api("chat.completions", s.chatCompletions))
	e.POST("/v1/completions", s.api("completions", s.completions))
	e.POST("/v1/embeddings", s.api("embeddings", s.embeddings))
	e.GET("/v1/models", s.api("models", s.listModels))
	e.GET("/v1/models/*", s.api("models", s.getModel))
	for _, p := range []string{"", "/v1"} {
		e.POST(p+"/tokenize", s.api("tokenize", s.tokenize))
		e.POST(p+"/detokenize", s.api("detokenize", s.detokenize))
		e.POST(p+"/apply-template", s.api("apply-template", s.applyTemplate))
	}
	for _, r := range s.extraRoutes {
		r(e)
	}
	// Unknown routes reach the error handler as Echo's 404/405 errors.
	return e
}

// track counts requests inside handlers so Shutdown can wait for them.
func (s *Server) track(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		s.active.Add(1)
		defer s.active.Done()
		return next(c)
	}
}

// healthDBTimeout bounds the database check of /health, well under the
// few seconds balancers allow a health check.
const healthDBTimeout = time.Second

func (s *Server) health(c echo.Context) error {
	if s.closing.Load() {
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "shutting_down"})
	}
	// A daemon that cannot reach the accounts database admits nothing, so a
	// load balancer polling /health should send requests elsewhere.
	if s.accounts != nil {
		ctx, cancel := context.WithTimeout(c.Request().Context(), healthDBTimeout)
		defer cancel()
		if err := s.accounts.Ping(ctx); err != nil {
			s.logger.Warn("health: accounts database unreachable", "err", err)
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "database_unreachable"})
		}
	}
	counts := map[string]int{}
	for _, st := range s.catalog.Statuses() {
		counts[publicState(st.State)]++
	}
	body := map[string]any{"status": "ok", "models": counts}
	if s.devices != nil {
		d := s.devices()
		body["devices"] = d.Devices
		if d.CPUOnlyReason != "" {
			body["cpu_only_reason"] = d.CPUOnlyReason
		}
	}
	return c.JSON(http.StatusOK, body)
}

// Handler is the HTTP handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.echo }

// Start serves on ln until Shutdown; it returns nil after a clean shutdown.
// Connections beyond Limits.MaxConnections are refused with a 503.
func (s *Server) Start(ln net.Listener) error {
	s.logger.Info("http server listening", "addr", ln.Addr().String())
	if err := s.http.Serve(s.conns.wrap(ln)); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

// ShutdownTimeout is the configured grace period for Shutdown.
func (s *Server) ShutdownTimeout() time.Duration { return s.settings.ShutdownTimeout }

// cancelGrace bounds how long cancelled handlers get to write their last
// bytes once the shutdown deadline has passed.
const cancelGrace = 3 * time.Second

// Shutdown stops accepting connections and lets running requests (streams
// included) finish until ctx ends; then it cancels them, which ends their
// generations, and closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closing.Store(true)
	err := s.http.Shutdown(ctx)
	if err == nil {
		s.cancelBase()
		return nil
	}
	s.logger.Warn("shutdown deadline passed; cancelling running requests", "err", err)
	s.cancelBase()
	done := make(chan struct{})
	go func() { s.active.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(cancelGrace):
	}
	if cerr := s.http.Close(); cerr != nil {
		return fmt.Errorf("close http server: %w", cerr)
	}
	return nil
}
