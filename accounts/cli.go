package accounts

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
)

// CLIHelp is the overview printed by "ggufd accounts help".
const CLIHelp = `Manage ggufd accounts, API keys and usage. These commands work on the
accounts database directly, also while the daemon is running.

  ggufd accounts create OPENID [--name N] [--balance AMOUNT] [--rpm N] [--tpm N] [--concurrent N] [--unmetered]
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

Amounts are decimals in the configured currency (up to 6 decimals).
Times are dates (2026-01-31, UTC) or RFC 3339. A new key is printed once;
only its hash is stored.
`

// RunCLI runs one of the "accounts", "keys" or "usage" commands; args[0] is
// the command name (ggufd's main passes os.Args[1:]). Output goes to stdout,
// usage errors and help to stderr. flag.ErrHelp is returned after help.
func RunCLI(ctx context.Context, svc *Service, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, CLIHelp)
		return flag.ErrHelp
	}
	c := &cli{svc: svc, out: stdout, errOut: stderr}
	sub, rest := "", []string(nil)
	if len(args) > 1 {
		sub, rest = args[1], args[2:]
	}
	var err error
	switch args[0] {
	case "accounts", "account":
		err = c.accounts(ctx, sub, rest)
	case "keys", "key":
		err = c.keys(ctx, sub, rest)
	case "usage":
		err = c.usage(ctx, args[1:])
	default:
		fmt.Fprint(stderr, CLIHelp)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return err
}

// RunCLIWithDB opens the database (a SQLite path or a postgres:// URL, see
// Open) for one command, for callers that have no Service yet (the usual
// case for the CLI).
func RunCLIWithDB(ctx context.Context, database string, cfg Config, args []string, stdout, stderr io.Writer) error {
	store, err := Open(ctx, database, OpenOptions{})
	if err != nil {
		return err
	}
	defer store.Close()
	return RunCLI(ctx, NewService(store, cfg), args, stdout, stderr)
}

type cli struct {
	svc    *Service
	out    io.Writer
	errOut io.Writer
}

func (c *cli) help(err error) error {
	if err == nil {
		fmt.Fprint(c.errOut, CLIHelp)
		return flag.ErrHelp
	}
	return err
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

func limitFlags(fs *flag.FlagSet, l *Limits) {
	fs.IntVar(&l.RequestsPerMinute, "rpm", l.RequestsPerMinute, "requests per minute (0 = unlimited)")
	fs.IntVar(&l.TokensPerMinute, "tpm", l.TokensPerMinute, "tokens per minute, prompt + completion (0 = unlimited)")
	fs.IntVar(&l.MaxConcurrent, "concurrent", l.MaxConcurrent, "concurrent requests (0 = unlimited)")
}

func signed(m Money) string {
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
