package accounts

import (
	"context"
	"net/url"
	"strings"
)

// OpenOptions tune Open.
type OpenOptions struct {
	// SkipMigrations opens the database as it is, for "ggufd db status";
	// everything else migrates at open so the schema is the one it knows.
	SkipMigrations bool
}

// Open opens the accounts database named by database: a postgres:// (or
// postgresql://) URL selects PostgreSQL, anything else is the path of a
// SQLite file. Pending migrations are applied unless opts says not to.
func Open(ctx context.Context, database string, opts OpenOptions) (Store, error) {
	if IsPostgresURL(database) {
		return openPostgres(ctx, database, opts)
	}
	return openSQLite(ctx, database, opts)
}

// IsPostgresURL reports whether database names a PostgreSQL server.
func IsPostgresURL(database string) bool {
	lower := strings.ToLower(database)
	return strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://")
}

// RedactDatabase returns database fit for logs: a URL's password is
// replaced by xxxxx.
func RedactDatabase(database string) string {
	if !IsPostgresURL(database) {
		return database
	}
	u, err := url.Parse(database)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	return u.Redacted()
}

func (s *sqlStore) open(ctx context.Context, opts OpenOptions) error {
	if opts.SkipMigrations {
		return nil
	}
	_, err := s.Migrate(ctx)
	return err
}
