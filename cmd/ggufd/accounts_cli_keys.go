package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ggufd/ggufd/accounts"
)

// keys runs "ggufd keys create|revoke|list".
func (c *cli) keys(ctx context.Context, sub string, args []string) error {
	switch sub {
	case "create":
		fs := newFlagSet("keys create", "keys create OPENID [--label L] [--models m1,m2] [--expires 90d]", c.errOut)
		label := fs.String("label", "", "what the key is for")
		models := fs.String("models", "", "comma-separated model allow-list (default: all models)")
		expires := fs.String("expires", "", "lifetime (90d, 12h) or expiry date")
		pos, svc, err := c.parse(fs, args, 1)
		if err != nil {
			return err
		}
		o := accounts.KeyOptions{OpenID: pos[0], Label: *label, Models: splitList(*models)}
		if *expires != "" {
			t, err := parseExpiry(*expires, svc.Now())
			if err != nil {
				return err
			}
			o.ExpiresAt = &t
		}
		secret, k, err := svc.CreateKey(ctx, o)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.out, "%s\n", secret)
		fmt.Fprintf(c.errOut, "created key %s for %s; the key above is shown only once, store it now\n", k.ID, k.OpenID)
		return nil
	case "revoke":
		fs := newFlagSet("keys revoke", "keys revoke KEY_ID", c.errOut)
		pos, svc, err := c.parse(fs, args, 1)
		if err != nil {
			return err
		}
		if err := svc.RevokeKey(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(c.out, "revoked %s\n", pos[0])
		return nil
	case "list":
		fs := newFlagSet("keys list", "keys list [OPENID] [--json]", c.errOut)
		asJSON := fs.Bool("json", false, "print JSON")
		pos, err := parseInterleaved(fs, args)
		if err != nil {
			return err
		}
		if len(pos) > 1 {
			return fmt.Errorf("keys list: want at most one OPENID")
		}
		openid := ""
		if len(pos) == 1 {
			openid = pos[0]
		}
		svc, err := c.open()
		if err != nil {
			return err
		}
		keys, err := svc.ListKeys(ctx, openid)
		if err != nil {
			return err
		}
		if *asJSON {
			if keys == nil {
				keys = []accounts.APIKey{}
			}
			return c.printJSON(keys)
		}
		now := svc.Now()
		tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "ID\tOPENID\tLABEL\tKEY\tMODELS\tSTATUS\tCREATED\n")
		for _, k := range keys {
			models := strings.Join(k.Models, ",")
			if models == "" {
				models = "*"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.OpenID, k.Label, k.Hint, models, keyStatus(k, now), k.CreatedAt.Format(time.DateTime))
		}
		return tw.Flush()
	case "", "help", "-h", "-help", "--help":
		return c.help(nil)
	default:
		return c.help(fmt.Errorf("unknown command: keys %s (see ggufd keys help)", sub))
	}
}

func keyStatus(k accounts.APIKey, now time.Time) string {
	switch {
	case k.RevokedAt != nil:
		return "revoked " + k.RevokedAt.Format(time.DateOnly)
	case k.ExpiresAt != nil && !k.ExpiresAt.After(now):
		return "expired " + k.ExpiresAt.Format(time.DateOnly)
	case k.ExpiresAt != nil:
		return "active until " + k.ExpiresAt.Format(time.DateOnly)
	default:
		return "active"
	}
}
