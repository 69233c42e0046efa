package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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
// folder.
func accountsDB(cfg *config.Config) (string, error) {
	if cfg.Database != "" {
		return cfg.Database, nil
	}
	dir := cfg.DataDir
	if dir == "" {
		dir = config.DefaultDataDir
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("create data dir: %w", err)
	}
	return filepath.Join(dir, "ggufd.db"), nil
}

// splitConfigFlag takes --config FILE / --config=FILE out of args, for
// subcommands whose own flag parsing does not know it.
func splitConfigFlag(args []string) (string, []string) {
	var path string
	rest := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--config" || a == "-config":
			if i+1 < len(args) {
				path = args[i+1]
				i++
			}
		case strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-config="):
			path = a[strings.Index(a, "=")+1:]
		default:
			rest = append(rest, a)
		}
	}
	return path, rest
}

// dbCLI runs "ggufd db status|migrate" on the daemon's database, opened
// without migrating so that status shows what is pending.
func dbCLI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flagPath, args := splitConfigFlag(args)
	cfg, err := loadConfig(resolveConfigPath(flagPath))
	if err != nil {
		return err
	}
	db, err := accountsDB(cfg)
	if err != nil {
		return err
	}
	store, err := accounts.Open(ctx, db, accounts.OpenOptions{SkipMigrations: true})
	if err != nil {
		return err
	}
	defer store.Close()
	return accounts.RunDBCLI(ctx, store, accounts.RedactDatabase(db), args, stdout, stderr)
}

// accountsCLI runs "ggufd accounts|keys|usage ..." on the daemon's database.
func accountsCLI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flagPath, args := splitConfigFlag(args)
	if onlyHelp(args) {
		// Help needs no service: reading the config or opening (and so
		// creating) the database would be a side effect of asking.
		if len(args) == 2 {
			args = []string{args[0], "help"} // the accounts CLI knows -h, --help and help, not -help
		}
		return accounts.RunCLI(ctx, nil, args, stdout, stderr)
	}
	cfg, err := loadConfig(resolveConfigPath(flagPath))
	if err != nil {
		return err
	}
	acfg, err := accountsConfig(cfg)
	if err != nil {
		return err
	}
	db, err := accountsDB(cfg)
	if err != nil {
		return err
	}
	return accounts.RunCLIWithDB(ctx, db, acfg, args, stdout, stderr)
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
