package main

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/ggufd/ggufd/accounts"
)

// usage runs "ggufd usage": the ledger, filtered, as a table or CSV.
func (c *cli) usage(ctx context.Context, args []string) error {
	fs := newFlagSet("usage", "usage [--openid ID] [--user U] [--model M] [--since T] [--until T] [--limit N] [--offset N] [--csv]", c.errOut)
	var f accounts.LedgerFilter
	fs.StringVar(&f.OpenID, "openid", "", "account")
	fs.StringVar(&f.UserID, "user", "", "end user")
	fs.StringVar(&f.Model, "model", "", "model")
	since := fs.String("since", "", "from this time (inclusive)")
	until := fs.String("until", "", "to this time (exclusive)")
	fs.IntVar(&f.Limit, "limit", 0, fmt.Sprintf("rows at most (default %d; --csv: all)", accounts.DefaultLedgerLimit))
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
	svc, err := c.open()
	if err != nil {
		return err
	}
	if *asCSV {
		return svc.WriteLedgerCSV(ctx, c.out, f)
	}
	rows, err := svc.Ledger(ctx, f)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "TIME\tOPENID\tUSER\tKEY\tMODEL\tPROMPT\tCACHED\tCOMPLETION\tMS\tCOST\tFINISH\tSTATUS\n")
	var total accounts.Money
	for _, e := range rows {
		total += e.Cost
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%d\n", e.Time.Format(time.DateTime), e.OpenID, e.UserID,
			e.KeyID, e.Model, e.PromptTokens, e.CachedTokens, e.CompletionTokens, e.ProcessingMS, e.Cost, e.FinishReason, e.HTTPStatus)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.out, "%d rows, %s %s\n", len(rows), total, svc.Currency())
	return nil
}
