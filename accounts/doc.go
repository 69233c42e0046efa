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
// balances never drift through float rounding. Reservations live in memory
// only: a crash drops them, which is the same as releasing them. Everything
// that moves money (top-ups, settled requests) is one SQL transaction that
// keeps accounts.balance = sum(top-ups) − sum(ledger costs).
//
// Content of prompts and completions never reaches this package.
package accounts
