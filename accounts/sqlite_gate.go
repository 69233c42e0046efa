package accounts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// writeGate queues the writers of a SQLite file, those of this process and
// those of every other process on the same file, for SQLite's write lock.
//
// Why: SQLite's write lock is not a queue. A waiter polls it (busy_timeout:
// every 100 ms after its first few tries) while a busy daemon releases it
// for microseconds between back-to-back transactions, so the waiter rarely
// finds it free. Measured: with a process settling requests in a loop
// beside it, a top-up from a second process waited up to 9 s and in 2 of 15
// runs failed with SQLITE_BUSY after busy_timeout's 10 s
// (TestSIGKILLLosesNoSettledRequest -count=15).
//
// So a writer first takes its process's turn, held until its transaction
// ends: within a process writers follow one another without polling. It
// then takes the gate between processes, held only while it waits for
// SQLite's lock, never while it writes: whoever waits holds it, the busy
// process cannot begin its next transaction, and the waiter gets SQLite's
// lock as soon as the current transaction commits.
//
// PostgreSQL needs no gate: its row and advisory locks are queues.
type writeGate struct {
	// turn is this process's writer; goroutines blocked on a channel send
	// are served in order.
	turn chan struct{}
	// file is the gate between processes, "<database>-writers", locked with
	// flock: not fcntl, whose locks on the database SQLite holds and any
	// other descriptor of it closed in this process would drop. It stays
	// open for the store's life: opening and closing it per write, as
	// gofrs/flock's Unlock does, left FuzzBilledAPI's workers minimising
	// for whole runs (16–34 executions in 20–60 s, four runs of four;
	// 16,532 and 21,465 in 40 and 30 s without a gate).
	file *os.File
}

// gateRetry is how often a writer retries the file lock while another
// process holds it. The holder keeps it for one wait on SQLite's lock
// (milliseconds: one transaction's commit), so a short retry wastes little.
const gateRetry = time.Millisecond

func openWriteGate(databasePath string) (*writeGate, error) {
	f, err := os.OpenFile(databasePath+"-writers", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the database's writer gate: %w", err)
	}
	return &writeGate{turn: make(chan struct{}, 1), file: f}, nil
}

// enter waits for this process's turn and then for the gate between
// processes. The caller takes SQLite's write lock, calls admitted, writes,
// and calls leave when its transaction has ended.
func (g *writeGate) enter(ctx context.Context) error {
	select {
	case g.turn <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("wait for this process's turn to write: %w", ctx.Err())
	}
	for {
		ok, err := tryLockFile(g.file)
		if ok {
			return nil
		}
		if err == nil {
			t := time.NewTimer(gateRetry)
			select {
			case <-t.C:
				continue
			case <-ctx.Done():
				t.Stop()
				err = ctx.Err()
			}
		}
		g.leave()
		return fmt.Errorf("wait for the database's writer gate %s: %w", g.file.Name(), err)
	}
}

// admitted leaves the gate between processes once SQLite's lock is taken
// (or its wait failed).
func (g *writeGate) admitted() {
	// An unlock fails only on a closed descriptor, whose lock went with it.
	_ = unlockFile(g.file)
}

// leave ends this process's turn.
func (g *writeGate) leave() { <-g.turn }

// close closes the gate file; a second close is not an error, as for the
// store's pools.
func (g *writeGate) close() error {
	if err := g.file.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return err
	}
	return nil
}
