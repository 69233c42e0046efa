package accounts

import (
	"context"
	"fmt"
)

// AccountInfo is what an account may see about itself.
type AccountInfo struct {
	OpenID   string `json:"openid"`
	Name     string `json:"name,omitempty"`
	Currency string `json:"currency"`
	Balance  Money  `json:"balance"`
	// Reserved is held by requests in flight on every daemon; Available =
	// Balance − Reserved.
	Reserved   Money `json:"reserved"`
	Available  Money `json:"available"`
	TotalSpent Money `json:"total_spent"`
	TotalTopUp Money `json:"total_top_up"`
	Unmetered  bool  `json:"unmetered"`
	// Running counts the account's requests in flight on every daemon.
	Running int          `json:"running"`
	Limits  Limits       `json:"limits"`
	Usage   []ModelUsage `json:"usage"`
}

// Info gathers an account's balance, totals, usage by model and limits.
func (s *Service) Info(ctx context.Context, openid string) (AccountInfo, error) {
	snap, err := s.store.Snapshot(ctx, openid, s.now())
	if err != nil {
		return AccountInfo{}, fmt.Errorf("info: %w", err)
	}
	acc, totals, usage, holds := snap.Account, snap.Totals, snap.Usage, snap.Holds
	if usage == nil {
		usage = []ModelUsage{}
	}
	reserved, running := reservedBy(holds), 0
	for _, h := range holds {
		if h.Kind == HoldRun {
			running++
		}
	}
	return AccountInfo{
		OpenID:     acc.OpenID,
		Name:       acc.Name,
		Currency:   s.Currency(),
		Balance:    acc.Balance,
		Reserved:   reserved,
		Available:  acc.Balance - reserved,
		TotalSpent: totals.Spent,
		TotalTopUp: totals.TopUps,
		Unmetered:  acc.Unmetered,
		Running:    running,
		Limits:     acc.Limits,
		Usage:      usage,
	}, nil
}
