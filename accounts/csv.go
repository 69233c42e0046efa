package accounts

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"
)

// LedgerCSVHeader names the columns of WriteLedgerCSV.
var LedgerCSVHeader = []string{"id", "time", "request_id", "openid", "userid", "key_id", "model",
	"prompt_tokens", "cached_tokens", "completion_tokens", "processing_ms", "cost", "finish_reason", "http_status"}

// csvPage is how many rows WriteLedgerCSV reads at a time, so exports of any
// size stream in bounded memory.
const csvPage = 1000

// WriteLedgerCSV streams the rows matching f as CSV. f.Limit 0 exports every
// matching row (unlike Ledger, which caps at DefaultLedgerLimit).
func (s *Service) WriteLedgerCSV(ctx context.Context, w io.Writer, f LedgerFilter) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(LedgerCSVHeader); err != nil {
		return fmt.Errorf("ledger csv: %w", err)
	}
	total := f.Limit
	written := 0
	page := f
	for {
		page.Limit = csvPage
		if total > 0 {
			page.Limit = min(csvPage, total-written)
		}
		if page.Limit <= 0 {
			break
		}
		rows, err := s.store.Ledger(ctx, page)
		if err != nil {
			return fmt.Errorf("ledger csv: %w", err)
		}
		for _, e := range rows {
			if err := cw.Write(csvRecord(e)); err != nil {
				return fmt.Errorf("ledger csv: %w", err)
			}
		}
		written += len(rows)
		page.Offset += len(rows)
		if len(rows) < page.Limit {
			break
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("ledger csv: %w", err)
	}
	return nil
}

func csvRecord(e LedgerEntry) []string {
	// Spreadsheets run cells starting with = + - @ as formulas; user ids are
	// caller-chosen, so neutralise them.
	return []string{
		strconv.FormatInt(e.ID, 10), e.Time.UTC().Format(time.RFC3339Nano), safeCell(e.RequestID), safeCell(e.OpenID),
		safeCell(e.UserID), safeCell(e.KeyID), safeCell(e.Model), strconv.Itoa(e.PromptTokens), strconv.Itoa(e.CachedTokens),
		strconv.Itoa(e.CompletionTokens), strconv.FormatInt(e.ProcessingMS, 10), e.Cost.String(), safeCell(e.FinishReason),
		strconv.Itoa(e.HTTPStatus),
	}
}

func safeCell(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}
