package accounts_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/accounts/storetest"
)

func TestSQLiteStoreConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) accounts.Store {
		s, err := accounts.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "conformance.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
