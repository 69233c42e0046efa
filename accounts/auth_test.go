package accounts

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestAuthenticateMatrix(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, ModeKey)
	f.account(t, "acme", "10")
	f.account(t, "other", "10")
	mk := func(o KeyOptions) string {
		t.Helper()
		secret, _, err := f.svc.CreateKey(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	good := mk(KeyOptions{OpenID: "acme", Label: "ci"})
	revoked := mk(KeyOptions{OpenID: "acme"})
	expiring := mk(KeyOptions{OpenID: "acme", ExpiresAt: ptr(f.clock.Now().Add(time.Hour))})
	limited := mk(KeyOptions{OpenID: "acme", Models: []string{"qwen"}})
	otherKey := mk(KeyOptions{OpenID: "other"})
	keys, _ := f.svc.ListKeys(ctx, "acme")
	for _, k := range keys {
		if k.Hash == HashKey(revoked) {
			if err := f.svc.RevokeKey(ctx, k.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.clock.Advance(2 * time.Hour) // the expiring key is now expired

	tests := []struct {
		name    string
		in      AuthInput
		want    error // nil: success
		openid  string
		withKey bool
	}{
		{"key mode no key", AuthInput{}, ErrKeyMissing, "", false},
		{"key mode wrong key", AuthInput{BearerKey: "sk-nope"}, ErrKeyInvalid, "", false},
		{"key mode good key", AuthInput{BearerKey: good, PathUserID: "u1"}, nil, "acme", true},
		{"revoked key", AuthInput{BearerKey: revoked}, ErrKeyRevoked, "", false},
		{"expired key", AuthInput{BearerKey: expiring}, ErrKeyExpired, "", false},
		{"allow-list admits", AuthInput{BearerKey: limited, Model: "qwen"}, nil, "acme", true},
		{"allow-list refuses", AuthInput{BearerKey: limited, Model: "llama"}, ErrModelNotAllowed, "", false},
		{"allow-list admits the model under an alias", AuthInput{BearerKey: limited, Model: "qwen2.5-7b", ModelAliases: []string{"qwen"}}, nil, "acme", true},
		{"allow-list refuses other aliases", AuthInput{BearerKey: limited, Model: "llama", ModelAliases: []string{"llama3"}}, ErrModelNotAllowed, "", false},
		{"allow-list ignored without a model", AuthInput{BearerKey: limited}, nil, "acme", true},
		{"key mode path of another account", AuthInput{BearerKey: good, PathOpenID: "other"}, ErrAccountMismatch, "", false},
		{"openid mode path only", AuthInput{Mode: ModeOpenID, PathOpenID: "acme", PathUserID: "u1"}, nil, "acme", false},
		{"openid mode unknown account", AuthInput{Mode: ModeOpenID, PathOpenID: "ghost"}, ErrUnknownOwner, "", false},
		{"openid mode own key", AuthInput{Mode: ModeOpenID, PathOpenID: "acme", BearerKey: good}, nil, "acme", true},
		{"openid mode other account's key", AuthInput{Mode: ModeOpenID, PathOpenID: "acme", BearerKey: otherKey}, ErrAccountMismatch, "", false},
		// The provider's clients send a made-up key with an openid URL.
		{"openid mode ignores a fake key", AuthInput{Mode: ModeOpenID, PathOpenID: "acme", BearerKey: "sk-bad"}, nil, "acme", false},
		{"openid mode revoked own key", AuthInput{Mode: ModeOpenID, PathOpenID: "acme", BearerKey: revoked}, ErrKeyRevoked, "", false},
		{"openid mode own key's allow-list", AuthInput{Mode: ModeOpenID, PathOpenID: "acme", BearerKey: limited, Model: "llama"}, ErrModelNotAllowed, "", false},
		{"openid mode fake key without a path", AuthInput{Mode: ModeOpenID, BearerKey: "sk-bad"}, ErrKeyInvalid, "", false},
		{"openid mode no path needs key", AuthInput{Mode: ModeOpenID}, ErrKeyMissing, "", false},
		{"openid mode no path with key", AuthInput{Mode: ModeOpenID, BearerKey: otherKey}, nil, "other", true},
		{"none mode ignores keys", AuthInput{Mode: ModeNone, BearerKey: "sk-whatever"}, nil, DefaultLocalOpenID, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := f.svc.Authenticate(ctx, tt.in)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.OpenID != tt.openid || (id.KeyID != "") != tt.withKey || id.UserID != tt.in.PathUserID {
				t.Fatalf("identity = %+v", id)
			}
		})
	}
}

func TestAuthErrorClasses(t *testing.T) {
	for _, err := range []error{ErrKeyMissing, ErrKeyInvalid, ErrKeyRevoked, ErrKeyExpired, ErrUnknownOwner, ErrAdminKey} {
		if !errors.Is(err, ErrUnauthenticated) || errors.Is(err, ErrForbidden) {
			t.Errorf("%v should be unauthenticated only", err)
		}
	}
	for _, err := range []error{ErrAccountMismatch, ErrModelNotAllowed} {
		if !errors.Is(err, ErrForbidden) || errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%v should be forbidden only", err)
		}
	}
}

func TestLocalAccountIsUnmetered(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, ModeNone)
	id, err := f.svc.Authenticate(ctx, AuthInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !id.Unmetered || id.OpenID != DefaultLocalOpenID {
		t.Fatalf("identity = %+v", id)
	}
	p := Pricing{InputPer1K: MicrosPerUnit, OutputPer1K: MicrosPerUnit}
	res, err := f.svc.Reserve(ctx, id, "m", p, Work{PromptTokens: 1000, MaxTokens: 1000})
	if err != nil {
		t.Fatalf("unmetered reserve: %v", err)
	}
	e, err := f.svc.Settle(ctx, res, Usage{PromptTokens: 1000, CompletionTokens: 10, HTTPStatus: 200})
	if err != nil || e.Cost != 0 || e.PromptTokens != 1000 {
		t.Fatalf("settle = %+v, %v", e, err)
	}
	// Metering on: the same request needs a balance.
	if err := f.svc.SetUnmetered(ctx, DefaultLocalOpenID, false); err != nil {
		t.Fatal(err)
	}
	id, _ = f.svc.Authenticate(ctx, AuthInput{})
	if _, err := f.svc.Reserve(ctx, id, "m", p, Work{PromptTokens: 1000, MaxTokens: 1000}); !errors.Is(err, ErrInsufficientBalance) {
		t.Fatalf("metered local reserve: %v", err)
	}
}

func TestAdminKey(t *testing.T) {
	hashed, err := NewAdminKey("sha256:" + HashKey("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := NewAdminKey("s3cret")
	for _, a := range []AdminKey{hashed, plain} {
		if !a.Matches("s3cret") || a.Matches("s3cre") || a.Matches("") {
			t.Fatal("admin key comparison wrong")
		}
	}
	var none AdminKey
	if none.Matches("") || none.Enabled() {
		t.Fatal("unset admin key must match nothing")
	}
	if _, err := NewAdminKey("sha256:zz"); err == nil {
		t.Fatal("bad hash accepted")
	}
}

// TestSetAuthAppliesLive: a reload's auth changes apply to the running
// service, from the next request on.
func TestSetAuthAppliesLive(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, ModeNone)
	f.account(t, "acme", "1")
	if _, err := f.svc.Authenticate(ctx, AuthInput{}); err != nil {
		t.Fatalf("mode none: %v", err)
	}
	admin, err := NewAdminKey("s3cret-admin-key")
	if err != nil {
		t.Fatal(err)
	}
	f.svc.SetAuth(AuthSettings{Mode: ModeKey, Currency: "USD", AdminKey: admin})
	if _, err := f.svc.Authenticate(ctx, AuthInput{}); !errors.Is(err, ErrKeyMissing) {
		t.Errorf("after switching to key mode, no key: %v", err)
	}
	if err := f.svc.CheckAdminKey("s3cret-admin-key"); err != nil || f.svc.Currency() != "USD" || f.svc.Mode() != ModeKey {
		t.Errorf("admin key %v, currency %q, mode %q", err, f.svc.Currency(), f.svc.Mode())
	}
	if info, err := f.svc.Info(ctx, "acme"); err != nil || info.Currency != "USD" {
		t.Errorf("info currency: %+v, %v", info, err)
	}
}

func TestNewOpenID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, err := NewOpenID()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(id, OpenIDPrefix) || len(id) != len(OpenIDPrefix)+22 || seen[id] || url.PathEscape(id) != id {
			t.Fatalf("openid %q (seen before: %v)", id, seen[id])
		}
		seen[id] = true
	}
}

// TestKeyExpiryInDays: a lifetime in days is a hundred years at most, and
// counted from the service's clock.
func TestKeyExpiryInDays(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		days    int
		want    time.Time
		wantErr bool
	}{
		{1, now.Add(24 * time.Hour), false},
		{MaxKeyDays, now.Add(MaxKeyDays * 24 * time.Hour), false},
		{MaxKeyDays + 1, time.Time{}, true},
		{213504, time.Time{}, true}, // wrapped around to 30 minutes
		{0, time.Time{}, true},
		{-5, time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := ExpiryInDays(now, tt.days)
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("ExpiryInDays(%d) = %v, %v; want %v (error %v)", tt.days, got, err, tt.want, tt.wantErr)
		}
		if err != nil && !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("ExpiryInDays(%d): %v is not ErrInvalidArgument", tt.days, err)
		}
	}
}
