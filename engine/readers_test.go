package engine

import (
	"testing"
	"time"
)

// TestAwaitReadersSkipsReadersBehind: after a step the scheduler waits up
// to readerGrace for the readers of the events it pushed, unless a reader
// was still busy with earlier events when the step began. Waiting for such
// a reader (its client reads slowly, or not at all) cost every other
// stream of the model readerGrace a step: 3x slower beside one client that
// had stopped reading. The clock is a fake that advances a millisecond per
// reading, so how long the wait lasted is how often it read the clock.
func TestAwaitReadersSkipsReadersBehind(t *testing.T) {
	caughtUp := func() *request { // its reader has returned Done: nothing to wait for
		st := newStream()
		st.read = true
		return &request{stream: st}
	}
	unread := func() *request { // an event of an earlier step, never read
		st := newStream()
		st.push(Event{Text: "x"})
		return &request{stream: st}
	}
	tests := []struct {
		name   string
		active []*request
		reads  int // clock readings: 1 is no wait past the first check
	}{
		{"every reader caught up", []*request{caughtUp(), caughtUp()}, 1},
		{"a reader behind since an earlier step", []*request{caughtUp(), unread()}, 1},
		{"only readers behind", []*request{unread()}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range tt.active {
				markBehind(r)
			}
			reads, clock := 0, time.Unix(0, 0)
			awaitReaders(tt.active, func() time.Time {
				reads++
				clock = clock.Add(time.Millisecond)
				return clock
			})
			if reads != tt.reads {
				t.Errorf("the clock was read %d times, want %d: the step waited for a reader that was behind", reads, tt.reads)
			}
		})
	}
	// A reader that falls behind during the step (it has not finished with
	// this step's events) is still waited for, up to readerGrace.
	r := caughtUp()
	markBehind(r)
	r.stream.read = false
	r.stream.push(Event{Text: "y"})
	reads, clock := 0, time.Unix(0, 0)
	awaitReaders([]*request{r}, func() time.Time {
		reads++
		clock = clock.Add(time.Millisecond)
		return clock
	})
	if want := int(readerGrace/time.Millisecond) + 2; reads != want {
		t.Errorf("a reader keeping up was waited for over %d clock readings, want %d (readerGrace)", reads, want)
	}
}
