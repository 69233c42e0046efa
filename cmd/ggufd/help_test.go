package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// TestCommandLine runs the command in-process for help, version and usage
// errors: what it prints, whether it fails (main's exit status is
// exitCode of the error) and, for the accounts commands, that help neither
// reads the config nor creates the database.
func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "ggufd.yaml")
	if err := os.WriteFile(cfg, []byte("data_dir: "+dataDir+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GGUFD_CONFIG", cfg)
	version = "v9.9.9-test"
	t.Cleanup(func() { version = "" })

	topLevel := []string{"ggufd [serve]", "ggufd accounts", "ggufd keys", "ggufd usage", "ggufd dev synth", "ggufd version", "ggufd help", "-listen", "-models-dir"}
	tests := []struct {
		args   []string
		exit   int
		stdout []string // each must appear
		stderr []string
		dbMade bool // the data folder (and the database in it) may exist afterwards
	}{
		{args: []string{"--help"}, stdout: topLevel},
		{args: []string{"-h"}, stdout: topLevel},
		{args: []string{"help"}, stdout: topLevel},
		{args: []string{"help", "--help"}, stdout: topLevel},
		{args: []string{"serve", "--help"}, stderr: []string{"-listen", "-log-format"}},
		{args: []string{"help", "serve"}, stderr: []string{"-listen"}},
		{args: []string{"dev", "synth", "-h"}, stderr: []string{"-preset", "-vocab-donor"}},
		{args: []string{"dev", "help"}, stdout: []string{"ggufd dev synth"}},
		{args: []string{"dev"}, exit: 2, stderr: []string{"ggufd dev synth"}},
		{args: []string{"version"}, stdout: []string{"ggufd v9.9.9-test\n"}},
		{args: []string{"--version"}, stdout: []string{"ggufd v9.9.9-test\n"}},
		{args: []string{"-version"}, stdout: []string{"ggufd v9.9.9-test\n"}},
		{args: []string{"accounts", "help"}, stderr: []string{"ggufd accounts create", "ggufd keys create"}},
		{args: []string{"accounts", "--help"}, stderr: []string{"ggufd accounts create"}},
		{args: []string{"accounts", "-help"}, stderr: []string{"ggufd accounts create"}},
		{args: []string{"help", "accounts"}, stderr: []string{"ggufd accounts create"}},
		{args: []string{"keys", "-h"}, stderr: []string{"ggufd keys revoke"}},
		{args: []string{"keys", "create", "--help"}, stderr: []string{"-expires"}},
		{args: []string{"accounts", "topup", "-h"}, stderr: []string{"-note"}},
		{args: []string{"usage", "--help"}, stderr: []string{"-since"}},
		{args: []string{"accounts", "--config", cfg, "help"}, stderr: []string{"ggufd accounts create"}},
		{args: []string{"--config", cfg, "accounts", "help"}, exit: 1},
		{args: []string{"accounts"}, exit: 2, stderr: []string{"ggufd accounts create"}},
		{args: []string{"frobnicate"}, exit: 1, stderr: []string{"ggufd [serve]"}},
		// A real command opens the database, and creates a new one only
		// when asked (run in the wrong folder it would start an empty one).
		{args: []string{"accounts", "list"}, exit: 1},
		{args: []string{"accounts", "list", "--create-db"}, stdout: []string{"OPENID"}, dbMade: true},
	}
	for _, tc := range tests {
		t.Run(strings.ReplaceAll(strings.Join(tc.args, " "), cfg, "FILE"), func(t *testing.T) {
			if err := os.RemoveAll(dataDir); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &stderr)
			if got := exitCode(err); got != tc.exit {
				t.Errorf("exit status %d (err %v), want %d", got, err, tc.exit)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			for _, want := range tc.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
			_, statErr := os.Stat(dataDir)
			if made := statErr == nil; made != tc.dbMade {
				t.Errorf("data folder exists afterwards: %v, want %v", made, tc.dbMade)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errUsage, 2},
		{errors.New("listen on :80: permission denied"), 1},
	}
	for _, tc := range tests {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestVersionOf(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name    string
		stamped string
		bi      *debug.BuildInfo
		want    string
	}{
		{"stamped by the Makefile", "v1.2.0-3-gabc1234-dirty", &debug.BuildInfo{Main: debug.Module{Version: "v1.1.0"}}, "v1.2.0-3-gabc1234-dirty"},
		{"go install module@version", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.1.0"}}, "v1.1.0"},
		{"go build in a clean checkout", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("0123456789abcdef0123", "false")}, "devel-0123456789ab"},
		{"go build with changes", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("0123456789abcdef0123", "true")}, "devel-0123456789ab-dirty"},
		{"-buildvcs=false", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
		{"no build info", "", nil, "devel"},
	}
	for _, tc := range tests {
		if got := versionOf(tc.stamped, tc.bi); got != tc.want {
			t.Errorf("%s: versionOf = %q, want %q", tc.name, got, tc.want)
		}
	}
}
