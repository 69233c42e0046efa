// Package accounts is ggufd's tenant layer: who is calling (accounts, end
// users, API keys), what they may do (model allow-lists, rate limits), what
// it costs (per-model prices, balances, a usage ledger) and how to stop them
// (suspending running generations).
//
// It knows nothing of HTTP or llama.cpp: the server asks it to Authenticate a
// request, Admit it against the limits, Reserve the worst-case cost, Track the
// generation so it can be suspended, and finally Settle the exact cost.
//
// Money is an integer count of micro-units of the configured currency, so
// balances never drift through float rounding. Everything that moves money
// (top-ups, settled requests) is one SQL transaction that keeps
// accounts.balance = sum(top-ups) − sum(ledger costs).
//
// What requests in flight claim (reservations, concurrency slots) and the
// per-minute rate windows live in the database too, so several daemons on
// one PostgreSQL database (or one SQLite file) share them: a claim is a Hold
// stamped with its daemon and an expiry that the daemon renews while the
// request runs (Service.Run), so a daemon that dies releases its claims by
// letting them lapse. Each decision for an account locks its row first, so
// none interleaves with another daemon's.
//
// Content of prompts and completions never reaches this package.
package accounts
