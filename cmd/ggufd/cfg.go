package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/config"
)

// defaultConfigFile is read from the working directory when neither
// --config nor GGUFD_CONFIG names a file.
const defaultConfigFile = "ggufd.yaml"

// resolveConfigPath picks the config file: the flag, then $GGUFD_CONFIG,
// then ./ggufd.yaml if it exists; "" means built-in defaults.
func resolveConfigPath(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if env := os.Getenv("GGUFD_CONFIG"); env != "" {
		return env
	}
	if _, err := os.Stat(defaultConfigFile); err == nil {
		return defaultConfigFile
	}
	return ""
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	cfg, err := config.Load(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("config file %s does not exist (copy ggufd.example.yaml, or run without --config for defaults)", path)
	}
	return cfg, err
}

// accountsConfig maps the auth section of the config onto the accounts
// service's settings.
func accountsConfig(cfg *config.Config) (accounts.Config, error) {
	mode, err := accounts.ParseAuthMode(cfg.Auth.Mode)
	if err != nil {
		return accounts.Config{}, err
	}
	admin, err := accounts.NewAdminKey(cfg.Auth.AdminKey)
	if err != nil {
		return accounts.Config{}, fmt.Errorf("auth.admin_key: %w", err)
	}
	return accounts.Config{Mode: mode, Currency: cfg.Auth.Currency, AdminKey: admin}, nil
}

// accountsDB is the config's database URL, else the SQLite file in the data
// folder, which the daemon creates.
func accountsDB(cfg *config.Config) (string, error) {
	db := databaseOf(cfg)
	if accounts.IsPostgresURL(db) {
		return db, nil
	}
	if err := os.MkdirAll(filepath.Dir(db), 0o750); err != nil {
		return "", fmt.Errorf("create data dir: %w", err)
	}
	return db, nil
}

// databaseOf names the accounts database of cfg: its URL, or the absolute
// path of the SQLite file in its data folder.
func databaseOf(cfg *config.Config) string {
	if cfg.Database != "" {
		return cfg.Database
	}
	dir := cfg.DataDir
	if dir == "" {
		dir = config.DefaultDataDir
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return filepath.Join(dir, "ggufd.db")
}

// cliFlags are the flags every accounts and db command takes, whatever its
// own flag parsing knows.
type cliFlags struct {
	config   string // --config FILE
	createDB bool   // --create-db
}

// splitCLIFlags takes --config FILE (--config=FILE) and --create-db out of
// args.
func splitCLIFlags(args []string) (cliFlags, []string) {
	var f cliFlags
	rest := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--config" || a == "-config":
			if i+1 < len(args) {
				f.config = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-config="):
			f.config = a[strings.Index(a, "=")+1:]
		case a == "--create-db" || a == "-create-db":
			f.createDB = true
		default:
			rest = append(rest, a)
		}
	}
	return f, rest
}

// cliDatabase is the database an accounts or db command works on: the one
// the daemon with the same config uses.
type cliDatabase struct {
	cfg     *config.Config
	cfgPath string // "" : built-in defaults
	url     string // a postgres:// URL or a SQLite path
	create  bool   // --create-db
}

func newCLIDatabase(f cliFlags) (*cliDatabase, error) {
	path := resolveConfigPath(f.config)
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	return &cliDatabase{cfg: cfg, cfgPath: path, url: databaseOf(cfg), create: f.createDB}, nil
}

// where names the database and the config that chose it, for the
// operator.
func (d *cliDatabase) where() string {
	return fmt.Sprintf("database %s (config %s)", accounts.RedactDatabase(d.url), orDefault(d.cfgPath, "none: built-in defaults"))
}

// open opens the database as it is, saying on stderr which it is. A SQLite
// file that does not exist is created only when asked (--create-db): run in
// the wrong folder, a command would otherwise start an empty database there
// and seem to work.
func (d *cliDatabase) open(ctx context.Context, stderr io.Writer) (accounts.Store, error) {
	fmt.Fprintf(stderr, "ggufd: %s\n", d.where())
	if !accounts.IsPostgresURL(d.url) {
		if _, err := os.Stat(d.url); errors.Is(err, fs.ErrNotExist) {
			if !d.create {
				return nil, fmt.Errorf("%s does not exist: run the command with the daemon's config "+
					"(--config FILE, $GGUFD_CONFIG, or ./ggufd.yaml in the folder it runs in), or add --create-db to start a new one", d.where())
			}
			if err := os.MkdirAll(filepath.Dir(d.url), 0o750); err != nil {
				return nil, fmt.Errorf("create data dir: %w", err)
			}
		}
	}
	return accounts.Open(ctx, d.url, accounts.OpenOptions{SkipMigrations: true})
}

// openMigrated opens the database for the accounts commands: one that holds
// no ggufd tables yet (a new PostgreSQL database) is set up only when asked,
// like a missing file; pending migrations are applied, as the daemon does.
func (d *cliDatabase) openMigrated(ctx context.Context, stderr io.Writer) (accounts.Store, error) {
	store, err := d.open(ctx, stderr)
	if err != nil {
		return nil, err
	}
	ms, err := store.Migrations(ctx)
	if err != nil {
		store.Close()
		return nil, err
	}
	if !d.create && !slices.ContainsFunc(ms, func(m accounts.Migration) bool { return m.AppliedAt != nil }) {
		store.Close()
		return nil, fmt.Errorf("%s holds no ggufd tables yet: check the config, or add --create-db to set it up", d.where())
	}
	if _, err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

// dbCLI runs "ggufd db status|migrate" on the daemon's database, opened
// without migrating so that status shows what is pending.
func dbCLI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, args := splitCLIFlags(args)
	var db *cliDatabase
	return runDBCLI(ctx, func() (accounts.Store, string, error) {
		var err error
		if db, err = newCLIDatabase(f); err != nil {
			return nil, "", err
		}
		store, err := db.open(ctx, stderr)
		return store, accounts.RedactDatabase(db.url), err
	}, args, stdout, stderr)
}

// accountsCLI runs "ggufd accounts|keys|usage ..." on the daemon's
// database, with the daemon's auth settings (mode, currency).
func accountsCLI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, args := splitCLIFlags(args)
	var store accounts.Store
	defer func() {
		if store != nil {
			store.Close()
		}
	}()
	return runAccountsCLI(ctx, func() (*accounts.Service, error) {
		db, err := newCLIDatabase(f)
		if err != nil {
			return nil, err
		}
		acfg, err := accountsConfig(db.cfg)
		if err != nil {
			return nil, err
		}
		if store, err = db.openMigrated(ctx, stderr); err != nil {
			return nil, err
		}
		return accounts.NewService(store, acfg), nil
	}, args, stdout, stderr)
}

// onlyHelp reports whether an accounts|keys|usage command line (args[0] is
// the command) asks for help and nothing else, so the accounts CLI answers
// it before touching its service: "accounts", "accounts help", "keys
// --help", "usage -h", "keys create --help". A help flag among other
// arguments ("keys create acme --help") goes the usual way.
func onlyHelp(args []string) bool {
	switch len(args) {
	case 1:
		return args[0] != "usage" // bare "usage" lists the ledger
	case 2:
		return isHelpWord(args[1])
	case 3:
		return args[0] != "usage" && isHelpWord(args[2]) && args[2] != "help"
	}
	return false
}
