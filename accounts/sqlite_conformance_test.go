package accounts_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/accounts/storetest"
)

func TestSQLiteStoreConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) accounts.Store {
			s, err := accounts.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "conformance.db"))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Share: func(t *testing.T, s accounts.Store) accounts.Store {
			other, err := accounts.OpenSQLite(context.Background(), s.(*accounts.SQLiteStore).Path())
			if err != nil {
				t.Fatal(err)
			}
			return other
		},
	})
}
