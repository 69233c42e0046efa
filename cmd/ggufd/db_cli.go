package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/ggufd/ggufd/accounts"
)

// dbHelp is the usage of "ggufd db".
const dbHelp = `Show and apply the accounts database's schema migrations. A daemon applies
pending migrations itself when it starts; these commands let an operator see
them, or apply them ahead of a rollout (e.g. with a role allowed DDL).

  ggufd db status [--json]     list every migration and whether it is applied
  ggufd db migrate             apply the pending ones

Both take --config FILE, found as 'ggufd serve' finds it. A SQLite file that
does not exist yet is created only with --create-db.
`

// runDBCLI runs "db status|migrate". open gives the database opened without
// migrating, and where names it for humans (a redacted URL or a path); it
// is called once the arguments are valid.
func runDBCLI(ctx context.Context, open func() (store accounts.Store, where string, err error), args []string, stdout, stderr io.Writer) error {
	sub, rest := "", []string(nil)
	if len(args) > 0 {
		sub, rest = args[0], args[1:]
	}
	// parse checks the subcommand's arguments, then opens the database.
	parse := func(fs *flag.FlagSet) (accounts.Store, string, error) {
		if _, err := oneArg(fs, rest, 0); err != nil {
			return nil, "", err
		}
		return open()
	}
	switch sub {
	case "status":
		fs := newFlagSet("db status", "db status [--json]", stderr)
		asJSON := fs.Bool("json", false, "print JSON")
		store, where, err := parse(fs)
		if err != nil {
			return err
		}
		defer store.Close()
		ms, err := store.Migrations(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			c := &cli{out: stdout, errOut: stderr}
			return c.printJSON(map[string]any{"database": where, "migrations": ms})
		}
		printMigrations(stdout, where, ms)
		return nil
	case "migrate":
		store, where, err := parse(newFlagSet("db migrate", "db migrate", stderr))
		if err != nil {
			return err
		}
		defer store.Close()
		done, err := store.Migrate(ctx)
		if err != nil {
			return err
		}
		if len(done) == 0 {
			ms, err := store.Migrations(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: up to date (version %d)\n", where, ms[len(ms)-1].Version)
			return nil
		}
		for _, m := range done {
			fmt.Fprintf(stdout, "applied %d  %s\n", m.Version, m.Name)
		}
		return nil
	case "", "help", "-h", "--help":
		fmt.Fprint(stderr, dbHelp)
		return flag.ErrHelp
	default:
		fmt.Fprint(stderr, dbHelp)
		return fmt.Errorf("unknown command: db %s", sub)
	}
}

func printMigrations(w io.Writer, where string, ms []accounts.Migration) {
	pending := 0
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "database: %s\n", where)
	fmt.Fprintln(tw, "VERSION\tAPPLIED\tNAME")
	for _, m := range ms {
		applied := "pending"
		if m.AppliedAt != nil {
			applied = m.AppliedAt.Format(time.RFC3339)
		} else {
			pending++
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", m.Version, applied, m.Name)
	}
	tw.Flush()
	if pending > 0 {
		fmt.Fprintf(w, "%d pending: run 'ggufd db migrate' (a daemon also applies them when it starts)\n", pending)
	}
}
