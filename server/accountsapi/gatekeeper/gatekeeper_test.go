package gatekeeper

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/engine"
	"github.com/ggufd/ggufd/server"
	"github.com/ggufd/ggufd/server/accountsapi"
	"github.com/ggufd/ggufd/server/apierror"
)

func TestGatekeeperAdapter(t *testing.T) {
	ctx := context.Background()
	store, err := accounts.OpenSQLite(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := accounts.NewService(store, accounts.Config{Mode: accounts.ModeKey, Currency: "元"})
	if _, err := svc.CreateAccount(ctx, accounts.Account{OpenID: "acme", Balance: 10 * accounts.MicrosPerUnit}); err != nil {
		t.Fatal(err)
	}
	secret, _, err := svc.CreateKey(ctx, accounts.KeyOptions{OpenID: "acme"})
	if err != nil {
		t.Fatal(err)
	}
	policy := func(string) (accountsapi.ModelPolicy, bool) {
		return accountsapi.ModelPolicy{Pricing: accounts.Pricing{OutputPer1K: accounts.MicrosPerUnit}, Context: 2048}, true
	}
	var gk server.Gatekeeper = New(accountsapi.NewGate(svc, accountsapi.Options{Policy: policy}), "元")

	_, _, err = gk.Admit(ctx, server.Call{Endpoint: "chat.completions", Model: "m", Header: http.Header{}})
	var ae *apierror.Error
	if !errors.As(err, &ae) || ae.Status != 401 {
		t.Fatalf("no key: %v", err)
	}
	call := server.Call{RequestID: "r1", Endpoint: "chat.completions", Model: "m", UserID: "u", MaxTokens: 100,
		Header: http.Header{"Authorization": {"Bearer " + secret}}}
	gctx, ticket, err := gk.Admit(ctx, call)
	if err != nil {
		t.Fatal(err)
	}
	if n := svc.Suspend("acme", "u"); n != 1 || !ticket.Suspended() || !errors.Is(context.Cause(gctx), accounts.ErrSuspended) {
		t.Fatalf("suspend: %d %v", n, context.Cause(gctx))
	}
	ticket.Finish(engine.Usage{PromptTokens: 10, CompletionTokens: 40, PromptDuration: time.Second})
	rows, _ := svc.Ledger(ctx, accounts.LedgerFilter{})
	if len(rows) != 1 || rows[0].RequestID != "r1" || rows[0].FinishReason != "stop" || rows[0].Cost != 40_000 || rows[0].HTTPStatus != 200 {
		t.Fatalf("ledger: %+v", rows)
	}
}
