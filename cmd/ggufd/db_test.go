package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ggufd/ggufd/internal/pgtest"
)

// TestDBCommand shows and applies migrations on a new database of each
// backend: all pending, then applied once, then up to date.
func TestDBCommand(t *testing.T) {
	tests := []struct {
		name     string
		database func(t *testing.T) string // "" : the SQLite file in data_dir
	}{
		{"sqlite", func(*testing.T) string { return "" }},
		{"postgres", func(t *testing.T) string { return pgtest.DSN(t) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "ggufd.yaml")
			body := "data_dir: data\n"
			if db := tt.database(t); db != "" {
				body += fmt.Sprintf("database: '%s'\n", db)
			}
			if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			db := func(args ...string) string {
				t.Helper()
				var stdout, stderr bytes.Buffer
				if err := run(context.Background(), append([]string{"db"}, append(args, "--config", cfg)...), &stdout, &stderr); err != nil {
					t.Fatalf("ggufd db %s: %v: %s", strings.Join(args, " "), err, stderr.String())
				}
				return stdout.String()
			}
			// A SQLite file that is not there is not created unless asked.
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"db", "status", "--config", cfg}, &stdout, &stderr)
			if sqlite := tt.name == "sqlite"; sqlite != (err != nil) {
				t.Fatalf("status of a new database without --create-db: %v", err)
			}
			if out := db("status", "--create-db"); !strings.Contains(out, "2 pending") || !strings.Contains(out, "pending  accounts, top-ups") {
				t.Fatalf("status of a new database:\n%s", out)
			}
			if out := db("migrate"); !strings.Contains(out, "applied 1") || !strings.Contains(out, "applied 2") {
				t.Fatalf("migrate:\n%s", out)
			}
			if out := db("status"); strings.Contains(out, "pending") {
				t.Fatalf("status after migrate:\n%s", out)
			}
			if out := db("migrate"); !strings.Contains(out, "up to date (version 2)") {
				t.Fatalf("migrate again:\n%s", out)
			}
			if out := db("status", "--json"); !strings.Contains(out, `"applied_at"`) || strings.Contains(out, "password") {
				t.Fatalf("status --json:\n%s", out)
			}
		})
	}
}
