package main

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/ggufd/ggufd/accounts"
)

// accounts runs "ggufd accounts create|topup|list|info|limits|meter".
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
	case "", "help", "-h", "-help", "--help":
		return c.help(nil)
	default:
		return c.help(fmt.Errorf("unknown command: accounts %s (see ggufd accounts help)", sub))
	}
}

func (c *cli) accountCreate(ctx context.Context, args []string) error {
	fs := newFlagSet("accounts create", "accounts create [OPENID] [flags]", c.errOut)
	name := fs.String("name", "", "display name")
	balance := fs.String("balance", "0", "opening balance")
	unmetered := fs.Bool("unmetered", false, "record usage but never charge")
	var l accounts.Limits
	limitFlags(fs, &l)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		fs.Usage()
		return fmt.Errorf("accounts create: want at most one OPENID, got %d", len(pos))
	}
	bal, err := accounts.ParseMoney(*balance)
	if err != nil {
		return fmt.Errorf("--balance: %w", err)
	}
	generated := len(pos) == 0
	if generated {
		id, err := accounts.NewOpenID()
		if err != nil {
			return err
		}
		pos = []string{id}
	}
	svc, err := c.open()
	if err != nil {
		return err
	}
	acc, err := svc.CreateAccount(ctx, accounts.Account{OpenID: pos[0], Name: *name, Balance: bal, Unmetered: *unmetered, Limits: l})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.out, "created account %s, balance %s %s\n", acc.OpenID, acc.Balance, svc.Currency())
	if generated && svc.Mode() == accounts.ModeOpenID {
		fmt.Fprintf(c.errOut, "in auth mode openid the openid is the account's credential: give it to its owner only\n")
	}
	return nil
}

func (c *cli) accountTopUp(ctx context.Context, args []string) error {
	fs := newFlagSet("accounts topup", "accounts topup OPENID AMOUNT [--note TEXT]", c.errOut)
	note := fs.String("note", "", "why (required for a negative adjustment)")
	pos, err := oneArg(fs, args, 2)
	if err != nil {
		return err
	}
	amount, err := accounts.ParseMoney(pos[1])
	if err != nil {
		return err
	}
	svc, err := c.open()
	if err != nil {
		return err
	}
	bal, err := svc.TopUp(ctx, pos[0], amount, *note)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.out, "%s: %s → balance %s %s\n", pos[0], signed(amount), bal, svc.Currency())
	return nil
}

func (c *cli) accountList(ctx context.Context, args []string) error {
	fs := newFlagSet("accounts list", "accounts list [--json]", c.errOut)
	asJSON := fs.Bool("json", false, "print JSON")
	_, svc, err := c.parse(fs, args, 0)
	if err != nil {
		return err
	}
	accs, err := svc.ListAccounts(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if accs == nil {
			accs = []accounts.Account{}
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

func (c *cli) accountInfo(ctx context.Context, args []string) error {
	fs := newFlagSet("accounts info", "accounts info OPENID [--json]", c.errOut)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, svc, err := c.parse(fs, args, 1)
	if err != nil {
		return err
	}
	info, err := svc.Info(ctx, pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		return c.printJSON(info)
	}
	cur := svc.Currency()
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
	var l accounts.Limits
	limitFlags(fs, &l)
	pos, svc, err := c.parse(fs, args, 1)
	if err != nil {
		return err
	}
	// Flags not given keep their current value.
	acc, err := svc.GetAccount(ctx, pos[0])
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
	if err := svc.SetLimits(ctx, pos[0], l); err != nil {
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
	svc, err := c.open()
	if err != nil {
		return err
	}
	if err := svc.SetUnmetered(ctx, pos[0], unmetered); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "%s: metering %s\n", pos[0], pos[1])
	return nil
}
