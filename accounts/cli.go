package accounts

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
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

// RunCLIWithDB opens the SQLite database at dbPath for one command, for
// callers that have no Service yet (the usual case for the CLI).
func RunCLIWithDB(ctx context.Context, dbPath string, cfg Config, args []string, stdout, stderr io.Writer) error {
	store, err := OpenSQLite(ctx, dbPath)
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

func (c *cli) accounts(ctx context.Context, sub string, args []string) error {
	switch sub {
	case "create":
		return c.accountCreate(ctx, args)
	case "topup":
		return c.accountTopUp(ctx, args)
	case "list":
		return c.accountList(ctx, args)
	case "info":
		return c.accountInfo(ctx, args)
	case "limits":
		return c.accountLimits(ctx, args)
	case "meter":
		return c.accountMeter(ctx, args)
	case "", "help", "-h", "--help":
		return c.help(nil)
	default:
		return c.help(fmt.Errorf("unknown command: accounts %s (see ggufd accounts help)", sub))
	}
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

func (c *cli) accountCreate(ctx context.Context, args []string) error {
	fs := newFlagSet("accounts create", "accounts create OPENID [flags]", c.errOut)
	name := fs.String("name", "", "display name")
	balance := fs.String("balance", "0", "opening balance")
	unmetered := fs.Bool("unmetered", false, "record usage but never charge")
	var l Limits
	limitFlags(fs, &l)
	pos, err := oneArg(fs, args, 1)
	if err != nil {
		return err
	}
	bal, err := ParseMoney(*balance)
	if err != nil {
		return fmt.Errorf("--balance: %w", err)
	}
	acc, err := c.svc.CreateAccount(ctx, Account{OpenID: pos[0], Name: *name, Balance: bal, Unmetered: *unmetered, Limits: l})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.out, "created account %s, balance %s %s\n", acc.OpenID, acc.Balance, c.svc.Currency())
	return nil
}

func (c *cli) accountTopUp(ctx context.Context, args []string) error {
	fs := newFlagSet("accounts topup", "accounts topup OPENID AMOUNT [--note TEXT]", c.errOut)
	note := fs.String("note", "", "why (required for a negative adjustment)")
	pos, err := oneArg(fs, args, 2)
	if err != nil {
		return err
	}
	amount, err := ParseMoney(pos[1])
	if err != nil {
		return err
	}
	bal, err := c.svc.TopUp(ctx, pos[0], amount, *note)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.out, "%s: %s → balance %s %s\n", pos[0], signed(amount), bal, c.svc.Currency())
	return nil
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

func (c *cli) accountList(ctx context.Context, args []string) error {
	fs := newFlagSet("accounts list", "accounts list [--json]", c.errOut)
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := oneArg(fs, args, 0); err != nil {
		return err
	}
	accs, err := c.svc.ListAccounts(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if accs == nil {
			accs = []Account{}
		}
		return c.printJSON(accs)
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "OPENID\tNAME\tBALANCE\tRPM\tTPM\tCONCURRENT\tMETERED\tCREATED\n")
	for _, a := range accs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.OpenID, a.Name, a.Balance, lim(a.Limits.RequestsPerMinute),
			lim(a.Limits.TokensPerMinute), lim(a.Limits.MaxConcurrent), yesNo(!a.Unmetered), a.CreatedAt.Format(time.DateTime))
	}
	return tw.Flush()
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

func (c *cli) accountInfo(ctx context.Context, args []string) error {
	fs := newFlagSet("accounts info", "accounts info OPENID [--json]", c.errOut)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := oneArg(fs, args, 1)
	if err != nil {
		return err
	}
	info, err := c.svc.Info(ctx, pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(info)
	}
	cur := c.svc.Currency()
	fmt.Fprintf(c.out, "account     %s %s\nbalance     %s %s\ntopped up   %s %s\nspent       %s %s\nmetered     %s\nlimits      rpm %s, tpm %s, concurrent %s\n",
		info.OpenID, info.Name, info.Balance, cur, info.TotalTopUp, cur, info.TotalSpent, cur, yesNo(!info.Unmetered),
		lim(info.Limits.RequestsPerMinute), lim(info.Limits.TokensPerMinute), lim(info.Limits.MaxConcurrent))
	if len(info.Usage) == 0 {
		return nil
	}
	fmt.Fprintln(c.out)
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "MODEL\tREQUESTS\tPROMPT\tCACHED\tCOMPLETION\tSECONDS\tCOST\n")
	for _, u := range info.Usage {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.1f\t%s\n", u.Model, u.Requests, u.PromptTokens, u.CachedTokens, u.CompletionTokens, u.Seconds, u.Cost)
	}
	return tw.Flush()
}

func (c *cli) accountLimits(ctx context.Context, args []string) error {
	fs := newFlagSet("accounts limits", "accounts limits OPENID [--rpm N] [--tpm N] [--concurrent N]", c.errOut)
	var l Limits
	limitFlags(fs, &l)
	pos, err := oneArg(fs, args, 1)
	if err != nil {
		return err
	}
	// Flags not given keep their current value.
	acc, err := c.svc.GetAccount(ctx, pos[0])
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["rpm"] {
		l.RequestsPerMinute = acc.Limits.RequestsPerMinute
	}
	if !set["tpm"] {
		l.TokensPerMinute = acc.Limits.TokensPerMinute
	}
	if !set["concurrent"] {
		l.MaxConcurrent = acc.Limits.MaxConcurrent
	}
	if err := c.svc.SetLimits(ctx, pos[0], l); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "%s: rpm %s, tpm %s, concurrent %s\n", pos[0], lim(l.RequestsPerMinute), lim(l.TokensPerMinute), lim(l.MaxConcurrent))
	return nil
}

func (c *cli) accountMeter(ctx context.Context, args []string) error {
	fs := newFlagSet("accounts meter", "accounts meter OPENID on|off", c.errOut)
	pos, err := oneArg(fs, args, 2)
	if err != nil {
		return err
	}
	var unmetered bool
	switch pos[1] {
	case "on":
	case "off":
		unmetered = true
	default:
		return fmt.Errorf("accounts meter: want on or off, got %q", pos[1])
	}
	if err := c.svc.SetUnmetered(ctx, pos[0], unmetered); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "%s: metering %s\n", pos[0], pos[1])
	return nil
}

func (c *cli) keys(ctx context.Context, sub string, args []string) error {
	switch sub {
	case "create":
		fs := newFlagSet("keys create", "keys create OPENID [--label L] [--models m1,m2] [--expires 90d]", c.errOut)
		label := fs.String("label", "", "what the key is for")
		models := fs.String("models", "", "comma-separated model allow-list (default: all models)")
		expires := fs.String("expires", "", "lifetime (90d, 12h) or expiry date")
		pos, err := oneArg(fs, args, 1)
		if err != nil {
			return err
		}
		o := KeyOptions{OpenID: pos[0], Label: *label, Models: splitList(*models)}
		if *expires != "" {
			t, err := parseExpiry(*expires, c.svc.now())
			if err != nil {
				return err
			}
			o.ExpiresAt = &t
		}
		secret, k, err := c.svc.CreateKey(ctx, o)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.out, "%s\n", secret)
		fmt.Fprintf(c.errOut, "created key %s for %s; the key above is shown only once, store it now\n", k.ID, k.OpenID)
		return nil
	case "revoke":
		fs := newFlagSet("keys revoke", "keys revoke KEY_ID", c.errOut)
		pos, err := oneArg(fs, args, 1)
		if err != nil {
			return err
		}
		if err := c.svc.RevokeKey(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(c.out, "revoked %s\n", pos[0])
		return nil
	case "list":
		fs := newFlagSet("keys list", "keys list [OPENID] [--json]", c.errOut)
		asJSON := fs.Bool("json", false, "print JSON")
		pos, err := parseInterleaved(fs, args)
		if err != nil {
			return err
		}
		if len(pos) > 1 {
			return fmt.Errorf("keys list: want at most one OPENID")
		}
		openid := ""
		if len(pos) == 1 {
			openid = pos[0]
		}
		keys, err := c.svc.ListKeys(ctx, openid)
		if err != nil {
			return err
		}
		if *asJSON {
			if keys == nil {
				keys = []APIKey{}
			}
			return c.printJSON(keys)
		}
		now := c.svc.now()
		tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "ID\tOPENID\tLABEL\tKEY\tMODELS\tSTATUS\tCREATED\n")
		for _, k := range keys {
			models := strings.Join(k.Models, ",")
			if models == "" {
				models = "*"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.OpenID, k.Label, k.Hint, models, keyStatus(k, now), k.CreatedAt.Format(time.DateTime))
		}
		return tw.Flush()
	case "", "help", "-h", "--help":
		return c.help(nil)
	default:
		return c.help(fmt.Errorf("unknown command: keys %s (see ggufd keys help)", sub))
	}
}

func keyStatus(k APIKey, now time.Time) string {
	switch {
	case k.RevokedAt != nil:
		return "revoked " + k.RevokedAt.Format(time.DateOnly)
	case k.ExpiresAt != nil && !k.ExpiresAt.After(now):
		return "expired " + k.ExpiresAt.Format(time.DateOnly)
	case k.ExpiresAt != nil:
		return "active until " + k.ExpiresAt.Format(time.DateOnly)
	default:
		return "active"
	}
}

func (c *cli) usage(ctx context.Context, args []string) error {
	fs := newFlagSet("usage", "usage [--openid ID] [--user U] [--model M] [--since T] [--until T] [--limit N] [--offset N] [--csv]", c.errOut)
	var f LedgerFilter
	fs.StringVar(&f.OpenID, "openid", "", "account")
	fs.StringVar(&f.UserID, "user", "", "end user")
	fs.StringVar(&f.Model, "model", "", "model")
	since := fs.String("since", "", "from this time (inclusive)")
	until := fs.String("until", "", "to this time (exclusive)")
	fs.IntVar(&f.Limit, "limit", 0, fmt.Sprintf("rows at most (default %d; --csv: all)", DefaultLedgerLimit))
	fs.IntVar(&f.Offset, "offset", 0, "rows to skip")
	asCSV := fs.Bool("csv", false, "write CSV")
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		fs.Usage()
		return flag.ErrHelp
	}
	if _, err := oneArg(fs, args, 0); err != nil {
		return err
	}
	var err error
	if *since != "" {
		if f.Since, err = parseWhen(*since); err != nil {
			return fmt.Errorf("--since: %w", err)
		}
	}
	if *until != "" {
		if f.Until, err = parseWhen(*until); err != nil {
			return fmt.Errorf("--until: %w", err)
		}
	}
	if *asCSV {
		return c.svc.WriteLedgerCSV(ctx, c.out, f)
	}
	rows, err := c.svc.Ledger(ctx, f)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "TIME\tOPENID\tUSER\tKEY\tMODEL\tPROMPT\tCACHED\tCOMPLETION\tMS\tCOST\tFINISH\tSTATUS\n")
	var total Money
	for _, e := range rows {
		total += e.Cost
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%d\n", e.Time.Format(time.DateTime), e.OpenID, e.UserID,
			e.KeyID, e.Model, e.PromptTokens, e.CachedTokens, e.CompletionTokens, e.ProcessingMS, e.Cost, e.FinishReason, e.HTTPStatus)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "%d rows, %s %s\n", len(rows), total, c.svc.Currency())
	return nil
}
