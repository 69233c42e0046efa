package engine

import (
	"fmt"
	"time"
)

// threadTuner chooses how many CPU threads each decode step uses.
//
// ggml's threads meet at a spinning barrier after every graph node. When
// another process takes one of their cores, every other thread spins until
// the preempted one runs again, so a step takes whole scheduler time slices
// instead of microseconds. Measured on the 2-core machine, 110M model, one
// stream: 76 tok/s quiet and 15 tok/s beside one busy process at 2 threads,
// 52 and 51 tok/s at 1 thread. No fixed count is right for both states, so
// the tuner measures: it runs the current count, now and then tries the
// neighbouring count for a step or two, and switches when that is clearly
// faster for steps of the same shape. A step far slower than usual
// (contention starting) triggers a trial at once instead of waiting.
//
// Step shapes differ in cost by orders of magnitude (one token vs a
// 512-token prompt chunk), and the best count differs too (long prompt
// chunks have long graph nodes and suffer less from barriers), so each
// shape class is tuned on its own. Only the scheduler goroutine uses a
// tuner; it needs no lock.
type threadTuner struct {
	max     int
	classes [tunerClasses]classTuner
	last    int    // threads of the last step
	reason  string // why the last step's class runs at its count
}

// tunerClasses: steps of 1, 2-3, 4-7, 8-15, 16-63, 64-255 and 256+ tokens.
const tunerClasses = 7

func stepClass(tokens int) int {
	switch {
	case tokens <= 1:
		return 0
	case tokens < 4:
		return 1
	case tokens < 8:
		return 2
	case tokens < 16:
		return 3
	case tokens < 64:
		return 4
	case tokens < 256:
		return 5
	}
	return 6
}

const (
	tunerAlpha      = 0.15 // EWMA weight of a new step time
	tunerMinSamples = 3    // steps at the current count before any trial
	tunerFirstGap   = 48   // steps between trials; doubles after each failed trial
	tunerMaxGap     = 1024 // so a quiet machine spends <0.5% of its steps on trials
	tunerMaxGapUp   = 256  // trials of more threads: sooner back to speed once quiet
	tunerTrialSteps = 2    // steps a trial lasts
	tunerSwitch     = 0.88 // a trial must be this much faster (ratio) to switch
	tunerSpike      = 1.8  // a step this much slower than usual starts a trial
)

// classTuner is the state of one step-shape class.
type classTuner struct {
	cur     int
	usual   float64 // EWMA seconds per step at cur
	samples int
	gap     int // steps between trials now
	since   int // steps since the last trial
	trial   int // threads being tried, 0 when none
	trialN  int
	trialT  float64
	reason  string
}

func newThreadTuner(max int) *threadTuner {
	why := threadsDefaultReason(max)
	t := &threadTuner{max: max, last: max, reason: why}
	for i := range t.classes {
		t.classes[i] = classTuner{cur: max, gap: tunerFirstGap, reason: why}
	}
	return t
}

func threadsDefaultReason(n int) string {
	return fmt.Sprintf("%d threads: the default (physical cores; one for tiny models)", n)
}

// threads is the count to use for a step of n tokens.
func (t *threadTuner) threads(n int) int {
	c := &t.classes[stepClass(n)]
	if t.max <= 1 {
		return t.max
	}
	if c.trial == 0 && c.samples >= tunerMinSamples && c.since >= c.gap {
		c.trial = t.alternative(c.cur)
		c.trialN, c.trialT = 0, 0
	}
	if c.trial != 0 {
		return c.trial
	}
	return c.cur
}

// alternative is the count a trial tries: halve while at the top (contention
// costs a whole core's share, and halving is what recovers it), else go
// back up towards the configured count.
func (t *threadTuner) alternative(cur int) int {
	if cur >= t.max {
		return max(1, cur/2)
	}
	return min(t.max, cur*2)
}

// observe records that a step of n tokens took d with the given threads.
func (t *threadTuner) observe(n, threads int, d time.Duration) {
	c := &t.classes[stepClass(n)]
	t.last = threads
	sec := d.Seconds()
	if t.max <= 1 {
		return
	}
	if c.trial != 0 && threads == c.trial {
		c.trialN++
		c.trialT += sec
		// A trial that is already clearly slower is cut short: under
		// contention a trial of more threads costs whole time slices.
		if c.trialN >= tunerTrialSteps || sec > c.usual/tunerSwitch*1.5 {
			t.conclude(c)
		}
		t.reason = c.reason
		return
	}
	c.since++
	if c.samples > 0 && c.samples >= tunerMinSamples && sec > c.usual*tunerSpike && c.since >= tunerTrialSteps {
		// Much slower than usual: contention may have started. Try now.
		c.since = c.gap
	}
	if c.samples == 0 {
		c.usual = sec
	} else {
		c.usual += tunerAlpha * (sec - c.usual)
	}
	c.samples++
	t.reason = c.reason
}

func (t *threadTuner) conclude(c *classTuner) {
	mean := c.trialT / float64(c.trialN)
	if mean < c.usual*tunerSwitch {
		c.reason = fmt.Sprintf("%d threads: %.2f ms per step against %.2f ms at %d", c.trial, mean*1e3, c.usual*1e3, c.cur)
		if c.trial < c.cur {
			c.reason += " (another process is competing for the cores)"
		}
		c.cur, c.usual, c.samples = c.trial, mean, 1
		c.gap = tunerFirstGap
	} else if c.trial > c.cur {
		c.gap = min(c.gap*2, tunerMaxGapUp)
	} else {
		c.gap = min(c.gap*2, tunerMaxGap)
	}
	c.trial, c.since = 0, 0
}

// snapshot reports the threads of the last step and why.
func (t *threadTuner) snapshot() (int, string) { return t.last, t.reason }
