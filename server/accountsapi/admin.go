package accountsapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/ggufd/ggufd/accounts"
	"github.com/labstack/echo/v4"
)

// adminBodyLimit bounds admin request bodies; they are small JSON objects.
const adminBodyLimit = 1 << 20

// registerAdmin mounts the admin API, all behind the admin key:
//
//	GET    /admin/accounts                    list accounts
//	POST   /admin/accounts                    create {openid,name,balance,unmetered,limits}
//	GET    /admin/accounts/:openid            account info (balance, usage, limits)
//	POST   /admin/accounts/:openid/topup      {amount, note}; negative: adjustment, note required
//	PUT    /admin/accounts/:openid/limits     {requests_per_minute,tokens_per_minute,max_concurrent}
//	PUT    /admin/accounts/:openid/metering   {metered: bool}
//	GET    /admin/accounts/:openid/keys       list the account's keys
//	POST   /admin/accounts/:openid/keys       {label, models, expires_at | expires_in_days} → secret, once
//	GET    /admin/keys[?openid=]              list keys
//	DELETE /admin/keys/:id                    revoke (also POST /admin/keys/:id/revoke)
//	GET    /admin/ledger?openid&userid&model&since&until&limit&offset[&format=csv]
//	POST   /admin/suspend?openid=&userid=     stop any account's generations
func (h *handlers) registerAdmin(g *echo.Group) {
	g.Use(h.requireAdmin)
	g.GET("/accounts", h.adminListAccounts)
	g.POST("/accounts", h.adminCreateAccount)
	g.GET("/accounts/:openid", h.adminInfo)
	g.POST("/accounts/:openid/topup", h.adminTopUp)
	g.PUT("/accounts/:openid/limits", h.adminSetLimits)
	g.POST("/accounts/:openid/limits", h.adminSetLimits)
	g.PUT("/accounts/:openid/metering", h.adminMetering)
	g.GET("/accounts/:openid/keys", h.adminListKeys)
	g.POST("/accounts/:openid/keys", h.adminCreateKey)
	g.GET("/keys", h.adminListKeys)
	g.DELETE("/keys/:id", h.adminRevokeKey)
	g.POST("/keys/:id/revoke", h.adminRevokeKey)
	g.GET("/ledger", h.adminLedger)
	g.POST("/suspend", h.adminSuspend)
}

// requireAdmin accepts the admin key as a Bearer token or X-Admin-Key.
func (h *handlers) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return RequireAdmin(h.svc)(next)
}

// RequireAdmin guards other packages' admin routes (the model manager's,
// metrics) with the same admin key as /admin/accounts.
func RequireAdmin(svc *accounts.Service) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			key := c.Request().Header.Get("X-Admin-Key")
			if key == "" {
				key = bearer(c.Request().Header)
			}
			if err := svc.CheckAdminKey(key); err != nil {
				return writeError(c, APIError(err, svc.Currency()))
			}
			return next(c)
		}
	}
}

// decode reads a JSON body strictly: unknown fields are mistakes in an
// admin call, better refused than ignored.
func decode(c echo.Context, v any) error {
	dec := json.NewDecoder(io.LimitReader(c.Request().Body, adminBodyLimit))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: request body: %v", accounts.ErrInvalidArgument, err)
	}
	return nil
}

func (h *handlers) adminListAccounts(c echo.Context) error {
	accs, err := h.svc.ListAccounts(c.Request().Context())
	if err != nil {
		return h.fail(c, err)
	}
	if accs == nil {
		accs = []accounts.Account{}
	}
	return c.JSON(http.StatusOK, map[string]any{"object": "list", "data": accs})
}

type createAccountBody struct {
	OpenID    string          `json:"openid"`
	Name      string          `json:"name"`
	Balance   accounts.Money  `json:"balance"`
	Unmetered bool            `json:"unmetered"`
	Limits    accounts.Limits `json:"limits"`
}

func (h *handlers) adminCreateAccount(c echo.Context) error {
	var b createAccountBody
	if err := decode(c, &b); err != nil {
		return h.fail(c, err)
	}
	acc, err := h.svc.CreateAccount(c.Request().Context(), accounts.Account{
		OpenID: b.OpenID, Name: b.Name, Balance: b.Balance, Unmetered: b.Unmetered, Limits: b.Limits,
	})
	if err != nil {
		return h.fail(c, err)
	}
	return c.JSON(http.StatusCreated, acc)
}

func (h *handlers) adminInfo(c echo.Context) error {
	info, err := h.svc.Info(c.Request().Context(), c.Param("openid"))
	if err != nil {
		return h.fail(c, err)
	}
	return c.JSON(http.StatusOK, info)
}

type topUpBody struct {
	Amount accounts.Money `json:"amount"`
	Note   string         `json:"note"`
}

func (h *handlers) adminTopUp(c echo.Context) error {
	var b topUpBody
	if err := decode(c, &b); err != nil {
		return h.fail(c, err)
	}
	openid := c.Param("openid")
	bal, err := h.svc.TopUp(c.Request().Context(), openid, b.Amount, b.Note)
	if err != nil {
		return h.fail(c, err)
	}
	return c.JSON(http.StatusOK, map[string]any{"openid": openid, "amount": b.Amount, "balance": bal, "currency": h.svc.Currency()})
}

func (h *handlers) adminSetLimits(c echo.Context) error {
	var l accounts.Limits
	if err := decode(c, &l); err != nil {
		return h.fail(c, err)
	}
	if err := h.svc.SetLimits(c.Request().Context(), c.Param("openid"), l); err != nil {
		return h.fail(c, err)
	}
	return c.JSON(http.StatusOK, l)
}

func (h *handlers) adminMetering(c echo.Context) error {
	var b struct {
		Metered *bool `json:"metered"`
	}
	if err := decode(c, &b); err != nil {
		return h.fail(c, err)
	}
	if b.Metered == nil {
		return badRequest(c, "metered", "Missing 'metered' (true or false).")
	}
	if err := h.svc.SetUnmetered(c.Request().Context(), c.Param("openid"), !*b.Metered); err != nil {
		return h.fail(c, err)
	}
	return c.JSON(http.StatusOK, map[string]any{"openid": c.Param("openid"), "metered": *b.Metered})
}

func (h *handlers) adminListKeys(c echo.Context) error {
	openid := c.Param("openid")
	if openid == "" {
		openid = c.QueryParam("openid")
	}
	keys, err := h.svc.ListKeys(c.Request().Context(), openid)
	if err != nil {
		return h.fail(c, err)
	}
	if keys == nil {
		keys = []accounts.APIKey{}
	}
	return c.JSON(http.StatusOK, map[string]any{"object": "list", "data": keys})
}

type createKeyBody struct {
	Label         string     `json:"label"`
	Models        []string   `json:"models"`
	ExpiresAt     *time.Time `json:"expires_at"`
	ExpiresInDays int        `json:"expires_in_days"`
}

// createdKey is the one response that carries a secret.
type createdKey struct {
	accounts.APIKey
	Key string `json:"key"`
}

func (h *handlers) adminCreateKey(c echo.Context) error {
	var b createKeyBody
	if err := decode(c, &b); err != nil {
		return h.fail(c, err)
	}
	o := accounts.KeyOptions{OpenID: c.Param("openid"), Label: b.Label, Models: b.Models, ExpiresAt: b.ExpiresAt, ExpiresInDays: b.ExpiresInDays}
	secret, key, err := h.svc.CreateKey(c.Request().Context(), o)
	if err != nil {
		return h.fail(c, err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusCreated, createdKey{APIKey: key, Key: secret})
}

func (h *handlers) adminRevokeKey(c echo.Context) error {
	if err := h.svc.RevokeKey(c.Request().Context(), c.Param("id")); err != nil {
		return h.fail(c, err)
	}
	return c.JSON(http.StatusOK, map[string]any{"id": c.Param("id"), "revoked": true})
}

func (h *handlers) adminLedger(c echo.Context) error {
	f := accounts.LedgerFilter{OpenID: c.QueryParam("openid"), UserID: c.QueryParam("userid"), Model: c.QueryParam("model")}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := c.QueryParam(p.name); v != "" {
			t, err := parseTime(v)
			if err != nil {
				return badRequest(c, p.name, "Invalid '%s': want RFC 3339, a date (2006-01-02) or Unix seconds.", p.name)
			}
			*p.dst = t
		}
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"limit", &f.Limit}, {"offset", &f.Offset}} {
		if v := c.QueryParam(p.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return badRequest(c, p.name, "Invalid '%s': want a non-negative integer.", p.name)
			}
			*p.dst = n
		}
	}
	ctx := c.Request().Context()
	if c.QueryParam("format") == "csv" {
		res := c.Response()
		res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		res.Header().Set("Content-Disposition", `attachment; filename="ggufd-usage.csv"`)
		res.WriteHeader(http.StatusOK)
		// Headers are sent; a failure midway can only cut the file short.
		if err := h.svc.WriteLedgerCSV(ctx, res, f); err != nil {
			h.opts.logger().Error("ledger csv export", "err", err)
		}
		return nil
	}
	rows, err := h.svc.Ledger(ctx, f)
	if err != nil {
		return h.fail(c, err)
	}
	if rows == nil {
		rows = []accounts.LedgerEntry{}
	}
	return c.JSON(http.StatusOK, map[string]any{"object": "list", "data": rows})
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(n, 0), nil
}

func (h *handlers) adminSuspend(c echo.Context) error {
	openid := c.QueryParam("openid")
	if openid == "" {
		return badRequest(c, "openid", "Missing 'openid'.")
	}
	userid := c.QueryParam("userid")
	n, err := h.svc.Suspend(c.Request().Context(), openid, userid)
	if err != nil {
		return writeError(c, APIError(err, h.svc.Currency()))
	}
	return c.JSON(http.StatusOK, SuspendResult{OpenID: openid, UserID: userid, Stopped: n})
}
