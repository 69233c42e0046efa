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
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `ggufd: an OpenAI-compatible server for GGUF models.

Usage:
  ggufd [serve] [flags]          run the daemon (see 'ggufd serve -h')
  ggufd accounts ...             manage accounts (see 'ggufd accounts help')
  ggufd keys ...                 manage API keys
  ggufd usage ...                query the usage ledger
  ggufd db status|migrate        show and apply the database's schema migrations
  ggufd dev synth [flags]        write a synthetic GGUF model (random weights)
  ggufd version
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ggufd:", err)
		}
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && (len(args[0]) == 0 || args[0][0] != '-') {
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
		fmt.Fprintln(stdout, "ggufd", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}
