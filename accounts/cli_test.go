package accounts

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"strings"
	"testing"
)

func runCLI(t *testing.T, f *fixture, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	// A fresh Service on the same file, as a separate CLI process would have.
	err := RunCLIWithDB(context.Background(), f.path, Config{Currency: "元", Now: f.clock.Now}, args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestCLIRoundTrip(t *testing.T) {
	f := newFixture(t, ModeKey)
	ctx := context.Background()
	steps := []struct {
		args    []string
		wantOut []string
		wantErr bool
	}{
		{[]string{"accounts", "create", "acme", "--name", "Acme", "--balance", "10", "--rpm", "60"}, []string{"created account acme, balance 10 元"}, false},
		{[]string{"accounts", "create", "acme"}, nil, true},
		{[]string{"accounts", "topup", "acme", "2.5", "--note", "invoice 1"}, []string{"acme: +2.5 → balance 12.5 元"}, false},
		{[]string{"accounts", "topup", "acme", "-0.5", "--note", "correction"}, []string{"balance 12 元"}, false},
		{[]string{"accounts", "topup", "acme", "-0.5"}, nil, true},
		{[]string{"accounts", "limits", "acme", "--tpm", "1000"}, []string{"rpm 60, tpm 1000, concurrent -"}, false},
		{[]string{"accounts", "list"}, []string{"acme", "Acme", "12"}, false},
		{[]string{"accounts", "info", "acme"}, []string{"balance     12 元", "spent       0 元"}, false},
		{[]string{"keys", "list", "acme"}, []string{"ID"}, false},
		{[]string{"accounts", "bogus"}, nil, true},
		{[]string{"nothing"}, nil, true},
	}
	for _, s := range steps {
		out, errOut, err := runCLI(t, f, s.args...)
		if (err != nil) != s.wantErr {
			t.Fatalf("%v: err = %v (stderr %s)", s.args, err, errOut)
		}
		for _, w := range s.wantOut {
			if !strings.Contains(out, w) {
				t.Fatalf("%v: output %q lacks %q", s.args, out, w)
			}
		}
	}

	// A created key is printed once and works against the daemon's Service.
	out, errOut, err := runCLI(t, f, "keys", "create", "acme", "--label", "ci", "--models", "qwen,llama", "--expires", "30d")
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSpace(out)
	if !strings.HasPrefix(secret, KeyPrefix) || !strings.Contains(errOut, "shown only once") {
		t.Fatalf("keys create: %q / %q", out, errOut)
	}
	id, err := f.svc.Authenticate(ctx, AuthInput{BearerKey: secret, Model: "qwen"})
	if err != nil {
		t.Fatal(err)
	}
	out, _, _ = runCLI(t, f, "keys", "list")
	if strings.Contains(out, secret) || !strings.Contains(out, id.KeyID) || !strings.Contains(out, "qwen,llama") || !strings.Contains(out, "active until") {
		t.Fatalf("keys list: %s", out)
	}
	if _, _, err := runCLI(t, f, "keys", "revoke", id.KeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, AuthInput{BearerKey: secret}); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("after CLI revoke: %v", err)
	}

	// Usage written by the daemon shows in the CLI, filtered and as CSV.
	for _, user := range []string{"alice", "bob", "=cmd"} {
		res, err := f.svc.Reserve(ctx, Identity{OpenID: "acme", UserID: user}, "qwen", Pricing{InputPer1K: MicrosPerUnit}, 500, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Settle(ctx, res, Usage{PromptTokens: 500, FinishReason: "stop", HTTPStatus: 200}); err != nil {
			t.Fatal(err)
		}
	}
	out, _, err = runCLI(t, f, "usage", "--openid", "acme", "--user", "alice")
	if err != nil || !strings.Contains(out, "1 rows, 0.5 元") {
		t.Fatalf("usage: %q, %v", out, err)
	}
	out, _, err = runCLI(t, f, "usage", "--csv", "--model", "qwen", "--since", "2026-01-01")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) != 4 || recs[0][0] != "id" || recs[3][4] != "'=cmd" || recs[1][11] != "0.5" {
		t.Fatalf("csv: %v %q", err, out)
	}
	out, _, _ = runCLI(t, f, "usage", "--until", "2026-01-01")
	if !strings.Contains(out, "0 rows") {
		t.Fatalf("usage until: %s", out)
	}
	out, _, _ = runCLI(t, f, "accounts", "info", "acme", "--json")
	if !strings.Contains(out, `"total_spent": 1.5`) || !strings.Contains(out, `"balance": 10.5`) {
		t.Fatalf("info json: %s", out)
	}
	checkInvariant(t, f.store, "acme")
}

func TestCLIHelp(t *testing.T) {
	f := newFixture(t, ModeKey)
	for _, args := range [][]string{{}, {"accounts"}, {"keys", "help"}, {"usage", "-h"}} {
		_, errOut, err := runCLI(t, f, args...)
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut, "usage") {
			t.Errorf("%v: err %v, stderr %q", args, err, errOut)
		}
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
