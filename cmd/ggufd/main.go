// Command ggufd is a self-hosted, OpenAI-compatible LLM server for GGUF
// models.
//
//	ggufd [serve] [--config ggufd.yaml]    run the daemon
//	ggufd dev synth --preset 110m --out m.gguf
//	ggufd accounts|keys|usage ...          manage tenants (works while the daemon runs)
//	ggufd db status|migrate                show and apply schema migrations
//	ggufd version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

const usage = `ggufd: an OpenAI-compatible server for GGUF models.

Usage:
  ggufd [serve] [flags]      run the daemon (the default command; its flags are below)
  ggufd accounts ...         create accounts, top up balances, set rate limits and metering
  ggufd keys ...             create, revoke and list API keys
  ggufd usage [flags]        query the usage ledger, as a table or CSV
  ggufd db status|migrate    show and apply the database's schema migrations
  ggufd dev synth [flags]    write a synthetic GGUF model (real shapes, random weights)
  ggufd version              print the version (also --version)
  ggufd help [command]       print this help, or a command's (also -h, --help)

accounts, keys and usage work on the daemon's database, also while it runs,
and take --config like serve; 'ggufd help accounts' lists their subcommands.

Flags of serve:
`

// errUsage is returned after a usage text was printed for a command line
// that names no action (e.g. "ggufd dev"): exit status 2, as for a flag error.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "ggufd:", err)
	}
	stop()
	os.Exit(exitCode(err))
}

// exitCode is 0 for success (help that was asked for included), 2 for a
// command line without an action, 1 for anything else.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		// Commands return ErrHelp after printing their help, both when it
		// was asked for and when a command line stops short.
		if askedForHelp(args) {
			return nil
		}
		return errUsage
	}
	return err
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	switch {
	case len(args) == 0:
	case isHelpWord(args[0]):
		cmd, args = "help", args[1:]
	case args[0] == "--version" || args[0] == "-version":
		cmd, args = "version", args[1:]
	case !strings.HasPrefix(args[0], "-"):
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, stderr)
	case "accounts", "account", "keys", "key", "usage":
		return accountsCLI(ctx, append([]string{cmd}, args...), stdout, stderr)
	case "db":
		return dbCLI(ctx, args, stdout, stderr)
	case "dev":
		return dev(ctx, args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "ggufd", buildVersion())
		return nil
	case "help":
		if len(args) > 0 && !isHelpWord(args[0]) {
			// "ggufd help keys" is "ggufd keys --help".
			return dispatch(ctx, []string{args[0], "--help"}, stdout, stderr)
		}
		printUsage(stdout)
		return nil
	}
	printUsage(stderr)
	return fmt.Errorf("unknown command %q", cmd)
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, usage)
	fs, _ := serveFlags(w)
	fs.PrintDefaults()
}

func isHelpWord(a string) bool {
	return a == "help" || a == "-h" || a == "-help" || a == "--help"
}

func askedForHelp(args []string) bool {
	return slices.ContainsFunc(args, isHelpWord)
}
