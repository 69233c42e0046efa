package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ggufd/ggufd/accounts"
)

// cliConfig writes a config naming a data folder into a new folder and
// returns the config's path and the database file it names.
func cliConfig(t *testing.T, body string) (cfgPath, dbPath string) {
	t.Helper()
	dir := t.TempDir()
	cfgPath = filepath.Join(dir, "ggufd.yaml")
	if err := os.WriteFile(cfgPath, []byte("data_dir: data\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgPath, filepath.Join(dir, "data", "ggufd.db")
}

// ggufd runs the command line as the binary does.
func ggufd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// openService opens the database as a daemon would, to check what the CLI
// wrote and to write usage.
func openService(t *testing.T, db string) *accounts.Service {
	t.Helper()
	store, err := accounts.Open(context.Background(), db, accounts.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return accounts.NewService(store, accounts.Config{Mode: accounts.ModeKey, Currency: "元"})
}

func TestAccountsCLIRoundTrip(t *testing.T) {
	cfg, db := cliConfig(t, "auth: {currency: 元}\n")
	ctx := context.Background()
	cli := func(args ...string) (string, string, error) {
		t.Helper()
		return ggufd(t, append(args, "--config", cfg)...)
	}

	// The database does not exist: nothing is created unless asked.
	if _, errOut, err := cli("accounts", "create", "acme"); err == nil || !strings.Contains(err.Error(), "does not exist") ||
		!strings.Contains(err.Error(), "--create-db") || !strings.Contains(errOut, db) {
		t.Fatalf("create without a database: %v (stderr %q)", err, errOut)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused command created %s: %v", db, err)
	}

	steps := []struct {
		args    []string
		wantOut []string
		wantErr bool
	}{
		{[]string{"accounts", "create", "acme", "--name", "Acme", "--balance", "10", "--rpm", "60", "--create-db"}, []string{"created account acme, balance 10 元"}, false},
		{[]string{"accounts", "create", "acme"}, nil, true},
		{[]string{"accounts", "topup", "acme", "2.5", "--note", "invoice 1"}, []string{"acme: +2.5 → balance 12.5 元"}, false},
		{[]string{"accounts", "topup", "acme", "-0.5", "--note", "correction"}, []string{"balance 12 元"}, false},
		{[]string{"accounts", "topup", "acme", "-0.5"}, nil, true},
		{[]string{"accounts", "limits", "acme", "--tpm", "1000"}, []string{"rpm 60, tpm 1000, concurrent -"}, false},
		{[]string{"accounts", "list"}, []string{"acme", "Acme", "12"}, false},
		{[]string{"accounts", "info", "acme"}, []string{"balance     12 元", "spent       0 元"}, false},
		// Days past int64 nanoseconds wrapped to a key that expired within
		// the hour; negative ones are no duration.
		{[]string{"keys", "create", "acme", "--expires", "213504d"}, nil, true},
		{[]string{"keys", "create", "acme", "--expires", "-5d"}, nil, true},
		{[]string{"keys", "list", "acme"}, []string{"ID"}, false},
		{[]string{"accounts", "bogus"}, nil, true},
	}
	for _, s := range steps {
		out, errOut, err := cli(s.args...)
		if (err != nil) != s.wantErr {
			t.Fatalf("%v: err = %v (stderr %s)", s.args, err, errOut)
		}
		for _, w := range s.wantOut {
			if !strings.Contains(out, w) {
				t.Fatalf("%v: output %q lacks %q", s.args, out, w)
			}
		}
		if !s.wantErr && (!strings.Contains(errOut, "database "+db) || !strings.Contains(errOut, "config "+cfg)) {
			t.Fatalf("%v: stderr %q does not say which database and config", s.args, errOut)
		}
	}

	// A created key is printed once and works against the daemon's Service.
	out, errOut, err := cli("keys", "create", "acme", "--label", "ci", "--models", "qwen,llama", "--expires", "30d")
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSpace(out)
	if !strings.HasPrefix(secret, accounts.KeyPrefix) || !strings.Contains(errOut, "shown only once") {
		t.Fatalf("keys create: %q / %q", out, errOut)
	}
	svc := openService(t, db)
	id, err := svc.Authenticate(ctx, accounts.AuthInput{BearerKey: secret, Model: "qwen"})
	if err != nil {
		t.Fatal(err)
	}
	out, _, _ = cli("keys", "list")
	if strings.Contains(out, secret) || !strings.Contains(out, id.KeyID) || !strings.Contains(out, "qwen,llama") || !strings.Contains(out, "active until") {
		t.Fatalf("keys list: %s", out)
	}
	if _, _, err := cli("keys", "revoke", id.KeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, accounts.AuthInput{BearerKey: secret}); !errors.Is(err, accounts.ErrKeyRevoked) {
		t.Fatalf("after CLI revoke: %v", err)
	}

	// Usage written by the daemon shows in the CLI, filtered and as CSV.
	for _, user := range []string{"alice", "bob", "=cmd"} {
		res, err := svc.Reserve(ctx, accounts.Identity{OpenID: "acme", UserID: user}, "qwen",
			accounts.Pricing{InputPer1K: accounts.MicrosPerUnit}, accounts.Work{PromptTokens: 500})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Settle(ctx, res, accounts.Usage{PromptTokens: 500, FinishReason: "stop", HTTPStatus: 200}); err != nil {
			t.Fatal(err)
		}
	}
	out, _, err = cli("usage", "--openid", "acme", "--user", "alice")
	if err != nil || !strings.Contains(out, "1 rows, 0.5 元") {
		t.Fatalf("usage: %q, %v", out, err)
	}
	out, _, err = cli("usage", "--csv", "--model", "qwen", "--since", "2026-01-01")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 4 || recs[0][0] != "id" || recs[3][4] != "'=cmd" || recs[1][11] != "0.5" {
		t.Fatalf("csv: %v %q", err, out)
	}
	out, _, _ = cli("usage", "--until", "2026-01-01")
	if !strings.Contains(out, "0 rows") {
		t.Fatalf("usage until: %s", out)
	}
	out, _, _ = cli("accounts", "info", "acme", "--json")
	if !strings.Contains(out, `"total_spent": 1.5`) || !strings.Contains(out, `"balance": 10.5`) {
		t.Fatalf("info json: %s", out)
	}
}

// TestAccountsCLIFindsTheConfigAsServeDoes: --config, then $GGUFD_CONFIG,
// then ./ggufd.yaml; without any, the built-in defaults, whose database
// (./data/ggufd.db) is not created by a stray command.
func TestAccountsCLIFindsTheConfigAsServeDoes(t *testing.T) {
	flagCfg, flagDB := cliConfig(t, "")
	envCfg, envDB := cliConfig(t, "")
	cwdCfg, cwdDB := cliConfig(t, "")
	for _, db := range []string{flagDB, envDB, cwdDB} {
		if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
			t.Fatal(err)
		}
		openService(t, db) // a daemon's database: created and migrated
	}
	empty := t.TempDir()
	tests := []struct {
		name, cwd, env string
		args           []string
		wantDB         string // "" : refused
	}{
		{"--config wins", filepath.Dir(cwdCfg), envCfg, []string{"accounts", "list", "--config", flagCfg}, flagDB},
		{"$GGUFD_CONFIG before ./ggufd.yaml", filepath.Dir(cwdCfg), envCfg, []string{"accounts", "list"}, envDB},
		{"./ggufd.yaml", filepath.Dir(cwdCfg), "", []string{"keys", "list"}, cwdDB},
		{"no config: defaults, not created", empty, "", []string{"usage"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(tt.cwd)
			t.Setenv("GGUFD_CONFIG", tt.env)
			_, errOut, err := ggufd(t, tt.args...)
			if tt.wantDB == "" {
				want := filepath.Join(empty, "data", "ggufd.db")
				if err == nil || !strings.Contains(errOut, want) || !strings.Contains(errOut, "built-in defaults") {
					t.Fatalf("err %v, stderr %q", err, errOut)
				}
				if _, err := os.Stat(filepath.Join(empty, "data")); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("created %s", filepath.Join(empty, "data"))
				}
				return
			}
			if err != nil || !strings.Contains(errOut, "database "+tt.wantDB) {
				t.Fatalf("err %v, stderr %q; want database %s", err, errOut, tt.wantDB)
			}
		})
	}
}

// TestAccountsCreateGeneratesOpenID: without an OPENID, create makes an
// unguessable one; in auth mode openid it says that it is a secret.
func TestAccountsCreateGeneratesOpenID(t *testing.T) {
	cfg, db := cliConfig(t, "auth: {mode: openid}\n")
	seen := map[string]bool{}
	for range 2 {
		out, errOut, err := ggufd(t, "accounts", "create", "--balance", "3", "--config", cfg, "--create-db")
		if err != nil {
			t.Fatal(err)
		}
		f := strings.Fields(out)
		if len(f) < 3 || !strings.HasPrefix(f[2], accounts.OpenIDPrefix) || seen[f[2]] || !strings.Contains(errOut, "credential") {
			t.Fatalf("create: %q / %q", out, errOut)
		}
		openid := strings.TrimSuffix(f[2], ",")
		seen[f[2]] = true
		if _, err := openService(t, db).GetAccount(context.Background(), openid); err != nil {
			t.Fatalf("generated account %s: %v", openid, err)
		}
	}
}

// TestAccountsCLIHelp: help answers without opening (or creating) a
// database.
func TestAccountsCLIHelp(t *testing.T) {
	cfg, db := cliConfig(t, "")
	for _, args := range [][]string{{"accounts"}, {"accounts", "help"}, {"keys", "help"}, {"usage", "-h"}, {"accounts", "create", "-h"}, {"db", "help"}} {
		_, errOut, err := ggufd(t, append(args, "--config", cfg)...)
		// Help is an answer (nil) or flag.ErrHelp; "accounts" alone is a
		// usage error. Either way: the help text, and no database.
		if err != nil && !errors.Is(err, flag.ErrHelp) && len(args) > 1 || !strings.Contains(errOut, "ggufd") {
			t.Errorf("%v: err %v, stderr %q", args, err, errOut)
		}
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("help created the database: %v", err)
	}
}

func TestParseInterleaved(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	note := fs.String("note", "", "")
	b := fs.Bool("x", false, "")
	pos, err := parseInterleaved(fs, []string{"acme", "--note", "-1 fix", "-3.5", "-x", "tail"})
	if err != nil || *note != "-1 fix" || !*b || strings.Join(pos, "|") != "acme|-3.5|tail" {
		t.Fatalf("pos %v note %q x %v err %v", pos, *note, *b, err)
	}
}
