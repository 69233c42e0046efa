package accounts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// AuthInput is what the server extracted from a request.
type AuthInput struct {
	Mode AuthMode // "" means the configured mode
	// BearerKey is the Authorization: Bearer value, "" if none.
	BearerKey string
	// PathOpenID and PathUserID come from /llm_api/{openid}/{userid}/...;
	// outside that path the server may put OpenAI's "user" field in
	// PathUserID, so end users are recorded in every mode.
	PathOpenID string
	PathUserID string
	// Model, when set, is checked against the key's allow-list, together
	// with ModelAliases, its other names: a key allow-listed for any name
	// of a model may use it under every name.
	Model        string
	ModelAliases []string
}

// Identity is an authenticated caller.
type Identity struct {
	OpenID    string
	UserID    string
	KeyID     string // "" when no key was used
	Unmetered bool
	Limits    Limits
	// Models is the key's model allow-list; empty allows every model.
	Models []string
}

// CheckModel returns ErrModelNotAllowed unless the identity's allow-list
// admits the model known by names (its canonical name and aliases).
func (id Identity) CheckModel(names ...string) error {
	if len(id.Models) == 0 {
		return nil
	}
	for _, n := range names {
		if slices.Contains(id.Models, n) {
			return nil
		}
	}
	return ErrModelNotAllowed
}

// Authenticate decides who is calling. Errors wrap ErrUnauthenticated (401
// invalid_api_key: missing, unknown, revoked or expired key, unknown account)
// or ErrForbidden (403: key of another account, model outside the key's
// allow-list), or are internal failures.
func (s *Service) Authenticate(ctx context.Context, in AuthInput) (Identity, error) {
	id, err := s.authenticate(ctx, in)
	if err != nil {
		return Identity{}, err
	}
	if in.Model != "" {
		if err := id.CheckModel(append([]string{in.Model}, in.ModelAliases...)...); err != nil {
			return Identity{}, err
		}
	}
	return id, nil
}

func (s *Service) authenticate(ctx context.Context, in AuthInput) (Identity, error) {
	mode := in.Mode
	if mode == "" {
		mode = s.Mode()
	}
	switch mode {
	case ModeNone:
		// Keys are ignored: local single-user use has nothing to protect.
		acc, err := s.localAccount(ctx)
		if err != nil {
			return Identity{}, err
		}
		return identity(acc, in.PathUserID, APIKey{}), nil
	case ModeKey:
		key, err := s.checkKey(ctx, in.BearerKey)
		if err != nil {
			return Identity{}, err
		}
		if in.PathOpenID != "" && in.PathOpenID != key.OpenID {
			return Identity{}, ErrAccountMismatch
		}
		return s.identityOf(ctx, key.OpenID, in.PathUserID, key)
	case ModeOpenID:
		if in.PathOpenID == "" {
			// Plain /v1/... routes carry no openid; the key must decide.
			key, err := s.checkKey(ctx, in.BearerKey)
			if err != nil {
				return Identity{}, err
			}
			return s.identityOf(ctx, key.OpenID, in.PathUserID, key)
		}
		// The openid in the path is the credential. Clients written for
		// the provider send a made-up Bearer value ("api_key can be
		// fake"): a value that is no key at all is ignored. A real key
		// still counts: one of another account is refused (403), a
		// revoked or expired one is refused, and its model allow-list
		// applies.
		var key APIKey
		if in.BearerKey != "" {
			var err error
			key, err = s.checkKey(ctx, in.BearerKey)
			switch {
			case errors.Is(err, ErrKeyInvalid):
				key = APIKey{}
			case err != nil:
				return Identity{}, err
			case key.OpenID != in.PathOpenID:
				return Identity{}, ErrAccountMismatch
			}
		}
		return s.identityOf(ctx, in.PathOpenID, in.PathUserID, key)
	default:
		return Identity{}, fmt.Errorf("authenticate: unknown auth mode %q", mode)
	}
}

// identity is the caller of acc, through key (zero when none was used).
func identity(acc Account, userid string, key APIKey) Identity {
	return Identity{OpenID: acc.OpenID, UserID: userid, KeyID: key.ID, Unmetered: acc.Unmetered, Limits: acc.Limits, Models: key.Models}
}

func (s *Service) identityOf(ctx context.Context, openid, userid string, key APIKey) (Identity, error) {
	acc, err := s.store.GetAccount(ctx, openid)
	if errors.Is(err, ErrAccountNotFound) {
		return Identity{}, ErrUnknownOwner
	}
	if err != nil {
		return Identity{}, fmt.Errorf("authenticate: %w", err)
	}
	return identity(acc, userid, key), nil
}

// checkKey validates a presented key (its allow-list is checked once the
// model is known: see Identity.CheckModel).
func (s *Service) checkKey(ctx context.Context, presented string) (APIKey, error) {
	presented = strings.TrimSpace(presented)
	if presented == "" {
		return APIKey{}, ErrKeyMissing
	}
	// The lookup is by hash, so timing reveals nothing about stored keys.
	key, err := s.store.KeyByHash(ctx, HashKey(presented))
	if err != nil {
		if errors.Is(err, ErrKeyInvalid) {
			return APIKey{}, ErrKeyInvalid
		}
		return APIKey{}, fmt.Errorf("authenticate: %w", err)
	}
	now := s.now()
	if key.RevokedAt != nil && !key.RevokedAt.After(now) {
		return APIKey{}, ErrKeyRevoked
	}
	if key.ExpiresAt != nil && !key.ExpiresAt.After(now) {
		return APIKey{}, ErrKeyExpired
	}
	return key, nil
}

// localAccount returns the account of mode none, creating it unmetered on
// first use: local use is recorded but free, unless an admin turns metering
// on with SetUnmetered(ctx, "local", false), after which it is billed like
// any account.
func (s *Service) localAccount(ctx context.Context) (Account, error) {
	acc, err := s.store.GetAccount(ctx, s.cfg.LocalOpenID)
	if err == nil {
		return acc, nil
	}
	if !errors.Is(err, ErrAccountNotFound) {
		return Account{}, fmt.Errorf("local account: %w", err)
	}
	err = s.store.CreateAccount(ctx, Account{OpenID: s.cfg.LocalOpenID, Name: "local user", Unmetered: true, CreatedAt: s.now()})
	if err != nil && !errors.Is(err, ErrAccountExists) {
		return Account{}, fmt.Errorf("local account: %w", err)
	}
	acc, err = s.store.GetAccount(ctx, s.cfg.LocalOpenID)
	if err != nil {
		return Account{}, fmt.Errorf("local account: %w", err)
	}
	return acc, nil
}
