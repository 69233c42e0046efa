package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/ggufd/ggufd/accounts"
)

// accountsHelp is the overview printed by "ggufd accounts help".
const accountsHelp = `Manage ggufd accounts, API keys and usage. These commands work on the
accounts database directly, also while the daemon is running.

  ggufd accounts create [OPENID] [--name N] [--balance AMOUNT] [--rpm N] [--tpm N] [--concurrent N] [--unmetered]
                        (no OPENID: an unguessable one is generated; in auth mode openid
                        it is the account's credential, so give it to its owner only)
  ggufd accounts topup OPENID AMOUNT [--note TEXT]     (negative AMOUNT: adjustment, --note required)
  ggufd accounts list [--json]
  ggufd accounts info OPENID [--json]
  ggufd accounts limits OPENID [--rpm N] [--tpm N] [--concurrent N]   (0 = unlimited)
  ggufd accounts meter OPENID on|off                   (off: usage recorded, nothing charged)

  ggufd keys create OPENID [--label L] [--models m1,m2] [--expires 90d|2027-01-31]
  ggufd keys revoke KEY_ID
  ggufd keys list [OPENID] [--json]

  ggufd usage [--openid ID] [--user U] [--model M] [--since T] [--until T]
              [--limit N] [--offset N] [--csv]

Every command takes --config FILE and finds the config as 'ggufd serve' does
(--config, else $GGUFD_CONFIG, else ./ggufd.yaml, else the built-in
defaults), works on the database that config names, and says which on
stderr. It does not create a database that is not there yet unless given
--create-db: run in the wrong folder, it would otherwise start an empty one.

Amounts are decimals in the configured currency (up to 6 decimals).
Times are dates (2026-01-31, UTC) or RFC 3339. A new key is printed once;
only its hash is stored.
`

// runAccountsCLI runs one of the "accounts", "keys" or "usage" commands;
// args[0] is the command name. open gives the service on the accounts
// database; it is called once the command's arguments are valid, so help
// and usage errors never touch a database. Output goes to stdout, usage
// errors and help to stderr. flag.ErrHelp is returned after help.
func runAccountsCLI(ctx context.Context, open func() (*accounts.Service, error), args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, accountsHelp)
		return flag.ErrHelp
	}
	c := &cli{open: open, out: stdout, errOut: stderr}
	sub, rest := "", []string(nil)
	if len(args) > 1 {
		sub, rest = args[1], args[2:]
	}
	switch args[0] {
	case "accounts", "account":
		return c.accounts(ctx, sub, rest)
	case "keys", "key":
		return c.keys(ctx, sub, rest)
	case "usage":
		return c.usage(ctx, args[1:])
	}
	fmt.Fprint(stderr, accountsHelp)
	return fmt.Errorf("unknown command %q", args[0])
}

type cli struct {
	open   func() (*accounts.Service, error)
	out    io.Writer
	errOut io.Writer
}

func (c *cli) help(err error) error {
	if err == nil {
		fmt.Fprint(c.errOut, accountsHelp)
		return flag.ErrHelp
	}
	return err
}

// parse parses fs, wants exactly n positionals, and then opens the service.
func (c *cli) parse(fs *flag.FlagSet, args []string, n int) ([]string, *accounts.Service, error) {
	pos, err := oneArg(fs, args, n)
	if err != nil {
		return nil, nil, err
	}
	svc, err := c.open()
	return pos, svc, err
}

// oneArg parses fs and wants exactly n positionals.
func oneArg(fs *flag.FlagSet, args []string, n int) ([]string, error) {
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != n {
		fs.Usage()
		return nil, fmt.Errorf("%s: want %d argument(s), got %d", fs.Name(), n, len(pos))
	}
	return pos, nil
}

func limitFlags(fs *flag.FlagSet, l *accounts.Limits) {
	fs.IntVar(&l.RequestsPerMinute, "rpm", l.RequestsPerMinute, "requests per minute (0 = unlimited)")
	fs.IntVar(&l.TokensPerMinute, "tpm", l.TokensPerMinute, "tokens per minute, prompt + completion (0 = unlimited)")
	fs.IntVar(&l.MaxConcurrent, "concurrent", l.MaxConcurrent, "concurrent requests (0 = unlimited)")
}

func signed(m accounts.Money) string {
	if m > 0 {
		return "+" + m.String()
	}
	return m.String()
}

func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func lim(n int) string {
	if n == 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
