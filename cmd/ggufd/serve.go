package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/config"
	"github.com/ggufd/ggufd/models"
	"github.com/ggufd/ggufd/server"
	"github.com/ggufd/ggufd/server/webui"
)

// serveOptions are serve's command-line flags.
type serveOptions struct {
	config, listen, modelsDir, logLevel, logFormat string
}

// serveFlags declares serve's flags; "ggufd --help" prints them too.
func serveFlags(output io.Writer) (*flag.FlagSet, *serveOptions) {
	var o serveOptions
	fs := flag.NewFlagSet("ggufd serve", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&o.config, "config", "", "config file (default: $GGUFD_CONFIG, else ./ggufd.yaml if present, else built-in defaults)")
	fs.StringVar(&o.listen, "listen", "", "listen address, overrides the config (e.g. 127.0.0.1:8080)")
	fs.StringVar(&o.modelsDir, "models-dir", "", "folder of GGUF files, overrides the config")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "text or json")
	return fs, &o
}

// serve runs the daemon until ctx is cancelled (SIGINT/SIGTERM), then shuts
// down gracefully: running streams get the configured shutdown timeout.
func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs, opts := serveFlags(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		// "ggufd --config x.yaml accounts list" would otherwise serve.
		return fmt.Errorf("serve takes flags only, not %q (a command goes first: ggufd accounts --config FILE ...)", strings.Join(fs.Args(), " "))
	}
	logger, err := newLogger(stderr, opts.logLevel, opts.logFormat)
	if err != nil {
		return err
	}
	slog.SetDefault(logger)

	cfgPath := resolveConfigPath(opts.config)
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	fileCfg := *cfg // as the file says, before the flags: reloads compare with it
	if opts.listen != "" {
		cfg.Listen = opts.listen
		if err := checkOpenListen(cfg); err != nil {
			return err
		}
	}
	for _, w := range cfg.Warnings {
		logger.Warn("config", "warning", w.Error())
	}

	acfg, err := accountsConfig(cfg)
	if err != nil {
		return err
	}
	db, err := accountsDB(cfg)
	if err != nil {
		return err
	}
	store, err := accounts.Open(ctx, db, accounts.OpenOptions{})
	if err != nil {
		return err
	}
	defer store.Close()
	acfg.HoldTTL = time.Duration(cfg.ReservationTTL)
	acfg.Logger = logger
	svc := accounts.NewService(store, acfg)
	// The holds of requests in flight are renewed until the last one has
	// finished, shutdown grace included, so this outlives ctx.
	holdsCtx, stopHolds := context.WithCancel(context.Background())
	holdsDone := make(chan struct{})
	defer func() { stopHolds(); <-holdsDone }()
	listening := make(chan struct{})
	go func() {
		defer close(holdsDone)
		svc.Run(holdsCtx, func() { close(listening) })
	}()
	// Suspends from other daemons must reach this one before it serves.
	select {
	case <-listening:
	case <-ctx.Done():
		return nil
	}

	logDevices(logger)
	// Placement and per-device admission see the GPUs ggml reports.
	mopts := []models.Option{models.WithDevices(models.EngineDevices)}
	if opts.modelsDir != "" {
		mopts = append(mopts, models.WithModelsDir(opts.modelsDir))
	}
	mgr, err := models.New(cfg, cfgPath, logger, mopts...)
	if err != nil {
		return err
	}
	if err := mgr.Start(ctx); err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := mgr.Close(closeCtx); err != nil {
			logger.Warn("unloading models", "err", err)
		}
	}()

	// The test page (GET /) is mounted here, beside the API it calls.
	srv, err := server.New(cfg, mgr, logger, server.WithAccounts(svc), server.WithRoutes(webui.Register), server.WithVersion(version),
		server.WithDevices(server.EngineDevices))
	if err != nil {
		return err
	}
	reloads := &authReloader{log: logger, svc: svc, listen: cfg.Listen, file: &fileCfg}
	mgr.OnConfig(reloads.apply)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	logger.Info("ggufd listening", "addr", "http://"+ln.Addr().String(), "models_dir", mgr.Config().ModelsDir, "auth", string(svc.Mode()),
		"database", accounts.RedactDatabase(db), "daemon_id", svc.DaemonID(), "config", orDefault(cfgPath, "(built-in defaults)"))

	errc := make(chan error, 1)
	go func() { errc <- srv.Start(ln) }()
	select {
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	case <-ctx.Done():
	}
	logger.Info("shutting down: letting running requests finish", "timeout", srv.ShutdownTimeout())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), srv.ShutdownTimeout())
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("shutdown", "err", err)
	}
	return nil
}

// checkOpenListen refuses --listen on a network address while auth is off:
// the config's own check only saw the config's listen address.
func checkOpenListen(cfg *config.Config) error {
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", cfg.Listen, err)
	}
	ip := net.ParseIP(host)
	loopback := strings.EqualFold(host, "localhost") || ip != nil && ip.IsLoopback()
	if cfg.Auth.Mode == "none" && !loopback && !cfg.Auth.AllowUnauthenticated {
		return fmt.Errorf("--listen %s with auth mode none would let anyone on the network use the server: set auth.mode to key (or openid), or auth.allow_unauthenticated: true", cfg.Listen)
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
