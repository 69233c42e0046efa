package accounts_test

import (
	"context"
	"testing"

	"github.com/ggufd/ggufd/accounts"
	"github.com/ggufd/ggufd/accounts/storetest"
	"github.com/ggufd/ggufd/internal/pgtest"
)

// dsns remembers each store's database, so Share can open a second handle.
var dsns = map[accounts.Store]string{}

func TestPostgresStoreConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t *testing.T) accounts.Store {
			dsn := pgtest.DSN(t)
			s, err := accounts.OpenPostgres(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			dsns[s] = dsn
			return s
		},
		Share: func(t *testing.T, s accounts.Store) accounts.Store {
			other, err := accounts.OpenPostgres(context.Background(), dsns[s])
			if err != nil {
				t.Fatal(err)
			}
			return other
		},
		Broadcasts: true,
	})
}
