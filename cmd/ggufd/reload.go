package main

import (
	"log/slog"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/config"
)

// authReloader applies the auth section of each reloaded config to the
// running daemon (mode, admin key, currency), and says which edited
// settings only a restart applies, so that "reloaded" in the log is never a
// silent no-op.
type authReloader struct {
	log    *slog.Logger
	svc    *accounts.Service
	listen string // the address the daemon listens on (--listen included)
	// file is the config as last applied, to tell what an edit changed.
	// Unlocked: the manager runs OnConfig hooks one reload at a time.
	file *config.Config
}

// restartOnly are the settings read once at startup, with how to show them.
var restartOnly = []struct {
	name  string
	value func(*config.Config) string
}{
	{"listen", func(c *config.Config) string { return c.Listen }},
	{"data_dir", func(c *config.Config) string { return c.DataDir }},
	{"database", func(c *config.Config) string { return accounts.RedactDatabase(c.Database) }},
	{"reservation_ttl", func(c *config.Config) string { return time.Duration(c.ReservationTTL).String() }},
	{"shutdown_timeout", func(c *config.Config) string { return c.ShutdownTimeout.String() }},
}

// apply is a models.Manager OnConfig hook.
func (r *authReloader) apply(c *config.Config) {
	prev := r.file
	r.file = c
	for _, s := range restartOnly {
		if old, now := s.value(prev), s.value(c); old != now {
			r.log.Warn("config: this setting applies at the next restart", "setting", s.name, "in_use", old, "in_file", now)
		}
	}
	a, p := c.Auth, prev.Auth
	if a.Mode == p.Mode && a.AdminKey == p.AdminKey && a.Currency == p.Currency {
		return
	}
	acfg, err := accountsConfig(c)
	if err == nil {
		// The file's own listen was checked when it was read; the daemon
		// may listen elsewhere (--listen).
		running := *c
		running.Listen = r.listen
		err = checkOpenListen(&running)
	}
	if err != nil {
		r.log.Error("config: auth settings not applied; the previous ones stay in force", "err", err)
		r.file = withAuth(c, p)
		return
	}
	r.svc.SetAuth(accounts.AuthSettings{Mode: acfg.Mode, Currency: acfg.Currency, AdminKey: acfg.AdminKey})
	r.log.Info("config: auth settings applied", "mode", string(acfg.Mode), "admin_key", acfg.AdminKey.Enabled(),
		"admin_key_changed", a.AdminKey != p.AdminKey, "currency", acfg.Currency)
}

// withAuth is c with the auth section a.
func withAuth(c *config.Config, a config.Auth) *config.Config {
	cc := *c
	cc.Auth = a
	return &cc
}
