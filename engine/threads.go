package engine

import (
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
)

// threadTuner chooses how many CPU threads each decode step uses.
//
// ggml's threads meet at a spinning barrier after every graph node. When
// another process takes one of their cores, every other thread spins until
// the preempted one runs again, so a step takes whole scheduler time slices
// instead of microseconds. Measured on the 2-core machine, 110M model, one
// stream: 76 tok/s quiet and 15 tok/s beside one busy process at 2 threads,
// 52 and 51 tok/s at 1 thread. No fixed count is right for both states, so
// the tuner measures: it runs the current count, now and then tries another
// for a step or two (the count that fits beside the other processes' CPU
// use, see alternative), and switches when that is clearly faster for steps
// of the same shape. A step far slower than usual
// (contention starting) triggers a trial at once instead of waiting, and so
// does the kernel's word: other processes using CPU while the model runs
// all its threads (contention starting), idle cores while it runs fewer
// (contention over). Reading the kernel's CPU times costs nothing.
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
	// meterKnown: the kernel's CPU times have been read (observeCores was
	// called), so the cores' use, not timers, starts most trials, and
	// use, the latest reading, sets the count they try (fit).
	meterKnown bool
	use        coreUse
	// lastAt, lastSlow: the threads of the latest step outside a trial,
	// and how many times its class's usual time it took (0: no usual yet).
	lastAt   int
	lastSlow float64
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
	tunerMaxGapUp   = 1024 // trials of more threads cost most under contention; idle cores start them sooner
	// tunerMeterKnownGap: steps between timer trials of more threads once
	// the kernel's CPU times are known. Idle cores then say when
	// contention is over, and a timer trial is only a safety net: on the
	// Intel VM a short 2-thread trial beside a busy process usually looks
	// fast (most steps are; one in eleven waits a 230 ms time slice), so
	// trials every 48–1024 steps switched up, stalled and came back down,
	// and cost 7–10% against a fixed single thread (TestThreadTuner,
	// BenchmarkContention).
	tunerMeterKnownGap = 8192
	tunerTrialSteps    = 2    // steps a trial lasts
	tunerSwitch        = 0.92 // a trial must be this much faster (ratio) to switch
	tunerIdleCores     = 0.7  // idle cores per missing thread that start a trial of more
	// tunerOtherCores: cores other processes use that start a trial of
	// fewer threads. One busy process beside the 2-thread model on the
	// 2-core VM takes 0.67 of a core (the kernel shares the cores among
	// three runnable threads); a quiet machine shows under 0.1.
	tunerOtherCores = 0.5
	// tunerOtherSlack: other processes' use that costs no thread in fit:
	// a desktop's or a shell's background of under a quarter core leaves
	// every core usable most of the time.
	tunerOtherSlack = 0.25
	tunerMeterGap   = 8   // steps between meter-started trials; doubles after each failure
	tunerSpike      = 1.8 // a step this much slower than usual is slow
	tunerRetryGap   = 8   // steps before retrying a failed trial that slow steps started
	// tunerSlowRun: slow steps in a row that start a trial at once. One
	// slow step alone is more often an interrupt or a neighbour's burst
	// than contention, and the trial it starts is compared with a usual
	// time that the slow step itself just raised: in TestThreadTuner's
	// "lone slow steps" cases (one step in ten 3× slower) such trials
	// switched to 1 thread falsely and cost 9% (3.6% with a run of 2,
	// under 1% with 3). Contention at the AMD VM slows every step.
	tunerSlowRun = 3
	// tunerStall: a step this much slower than usual starts a trial on its
	// own: a thread waited out a whole time slice, the mark of contention
	// at the Intel VM, where only one step in about eleven is slow, but
	// by 20×.
	tunerStall = 6
)

// classTuner is the state of one step-shape class.
type classTuner struct {
	cur      int
	usual    float64 // EWMA seconds per step at cur
	samples  int
	gap      int  // steps between trials now
	meterGap int  // steps between trials started by the core meter
	byMeter  bool // the coming or running trial was started by the core meter
	bySlow   bool // the coming or running trial was started by slow steps
	verify   bool // the coming trial checks a count followed from the other kind of step
	class    int  // its index in threadTuner.classes
	since    int  // steps since the last trial
	slow     int  // slow steps in a row (tunerSpike)
	trial    int  // threads being tried, 0 when none
	trialN   int
	trialT   float64
	// pairedTo, pairedS: a meter-started trial of fewer threads that was
	// slower than the usual time (its count and mean seconds per step),
	// waiting to be compared with the next step at cur (see conclude).
	pairedTo int
	pairedS  float64
	reason   string
}

func newThreadTuner(max int) *threadTuner {
	why := threadsDefaultReason(max)
	t := &threadTuner{max: max, last: max, reason: why}
	for i := range t.classes {
		t.classes[i] = classTuner{cur: max, gap: tunerFirstGap, meterGap: tunerMeterGap, reason: why, class: i}
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

// alternative is the count a trial tries. With the kernel's CPU times read,
// a count other than the current one that fits beside the other processes
// (fit); at the top with other processes busy but every core fitting (SMT:
// the maximum is the physical cores, the busy process may sit on a
// sibling), one fewer. Otherwise halve while at the top (contention costs
// a whole core's share on the 2-core machines, and halving recovers it),
// else go back up towards the configured count.
func (t *threadTuner) alternative(cur int) int {
	if t.meterKnown {
		if fit := t.fit(); fit != cur {
			return fit
		}
		if cur >= t.max && t.use.others >= tunerOtherCores {
			return cur - 1
		}
	}
	if cur >= t.max {
		return max(1, cur/2)
	}
	return min(t.max, cur*2)
}

// fit is the thread count that fits beside other processes, by their CPU
// use at the latest meter reading: every CPU less one per core they use.
// ggml's threads wait for each other at every graph node, so one thread
// sharing a core with a busy process holds all of them back; one thread
// fewer than the cores left keeps the rest at full speed. Halving did
// that on 2 cores but on 16 ran 8 threads beside one busy process
// (TestThreadTunerManyCores: 0.65 of the best count, against 0.998 at 15).
func (t *threadTuner) fit() int {
	n := int(t.use.cpus) - int(math.Ceil(t.use.others-tunerOtherSlack))
	return min(t.max, max(1, n))
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
	if c.pairedTo != 0 && threads == c.cur {
		to, mean := c.pairedTo, c.pairedS
		c.pairedTo, c.pairedS = 0, 0
		if mean < sec*tunerSwitch {
			t.switchTo(c, to, mean, sec)
			t.reason = c.reason
			return
		}
		c.meterGap = min(c.meterGap*2, tunerMaxGapUp)
	}
	c.since++
	t.lastAt, t.lastSlow = threads, 0
	if c.samples >= tunerMinSamples {
		t.lastSlow = sec / c.usual
	}
	// Only a trial of fewer threads helps against a sudden slowdown: at
	// fewer threads already, a slow step is a preempted thread, and trying
	// more threads then costs whole time slices (measured: 230 ms for one
	// 2-thread step of the 110M model beside a busy process, against 4 ms).
	if c.samples >= tunerMinSamples && sec > c.usual*tunerSpike {
		c.slow++
	} else {
		c.slow = 0
	}
	stalled := c.samples >= tunerMinSamples && sec > c.usual*tunerStall
	if (c.slow >= tunerSlowRun || stalled) && c.since >= tunerTrialSteps && t.alternative(c.cur) < c.cur {
		// Much slower than usual: contention may have started. Try now.
		c.since = c.gap
		c.bySlow = true
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
	if c.trialN == 0 {
		c.trial = 0
		return
	}
	mean := c.trialT / float64(c.trialN)
	margin := tunerSwitch
	if c.byMeter && c.trial == t.max && c.trial > c.cur {
		// Back to every core when the kernel says they are idle: it is
		// what a quiet machine runs, and the margin is for noise. From
		// 15 threads to 16 a step is 6% faster, under the margin, and the
		// model stayed at 15 after the busy process left
		// (TestThreadTunerManyCores). If the kernel was wrong, slow steps
		// and its next reading bring the count back down.
		margin = 1
	}
	// A meter-started trial of fewer threads: the kernel says another
	// process started using the cores, but the usual time at cur is from
	// before it did, and the steps at cur since may be much slower.
	// Measured (bench-serve CONTENTION=1, 8 streams): at the onset a
	// 1-thread trial of 58 ms lost against the quiet usual 39.5 ms at 2
	// threads, and the model then ran 2-thread steps of 96–1106 ms until
	// slow steps started another trial; a 129-token prompt step at 1
	// thread (400 ms) lost against 213 ms, and the next one at 2 threads
	// took 958. So when the latest step at cur, of any shape, was slow
	// against its own usual time (there: a 33-token step, 1.1–1.3 s
	// against about 0.1), that slowdown stands for this class too; failing
	// that, the trial is compared with the next step at cur (paired).
	onset := c.byMeter && c.trial < c.cur
	base := c.usual
	if onset && t.lastAt == c.cur && t.lastSlow >= tunerSpike {
		base *= t.lastSlow
	}
	better := mean < base*margin
	paired := onset && !better
	if better {
		t.switchTo(c, c.trial, mean, base)
	} else if paired {
		c.pairedTo, c.pairedS = c.trial, mean
	} else if c.verify {
		// The old count was not better after all: the follow holds.
		c.gap = t.gapAfterSwitch(c.cur)
	} else if c.byMeter {
		c.meterGap = min(c.meterGap*2, tunerMaxGapUp)
	} else if c.trial > c.cur {
		c.gap = max(c.gap, min(c.gap*2, tunerMaxGapUp))
	} else if !c.bySlow {
		c.gap = min(c.gap*2, tunerMaxGap)
	}
	retry := c.bySlow && !better && !paired
	c.trial, c.since, c.byMeter, c.bySlow, c.verify = 0, 0, false, false, false
	if retry {
		// A failed trial that slow steps started is tried once more soon,
		// with the gap left as it was: one unlucky trial step (an
		// interrupt during the trial) must not leave a contended model at
		// the old count for the 1024 steps a backed-off gap can be, by
		// which time the usual time has caught up with the slow steps and
		// no longer flags them. A false alarm costs that one retry.
		c.since = max(0, c.gap-tunerRetryGap)
	}
}

// switchTo moves class c to n threads, whose steps took mean seconds
// against base at c.cur, and carries the switch over to the other classes.
func (t *threadTuner) switchTo(c *classTuner, n int, mean, base float64) {
	c.reason = fmt.Sprintf("%d threads: %.2f ms per step against %.2f ms at %d", n, mean*1e3, base*1e3, c.cur)
	if n < c.cur {
		c.reason += " (another process is competing for the cores)"
	}
	// What made this count better (another process arriving or leaving)
	// holds for every step shape: the classes still at the old count move
	// to the new one at once and measure from there (a class that is
	// better off at the old count finds out by its own trials). Waiting for
	// each shape's own trial left single-token steps at the old count for
	// a whole 64-token reply in the contention benchmark.
	//
	// Prompt chunks (long graph nodes) may well prefer another count than
	// token steps. Still, when contention starts they follow the token
	// steps down at once: prompt steps are rare, and their usual times are
	// from the quiet machine; a trial compared with those failed and left
	// prompt chunks at 2 threads beside a busy process, 4–8× slower than
	// quiet (bench-serve HOG=1: 1.0–2.2 s of prompt processing for 8 short
	// prompts), and re-measuring first cost three such steps. Without the
	// kernel's word that another process uses the cores, the slowdown may
	// have been something else, so a class with measurements of its own
	// verifies: its first trial, after tunerMinSamples steps at the new
	// count, is of the old one. With that word the verifying trial only
	// stalls: 1.1–1.4 s for a 83–108-token prompt step at 2 threads beside
	// the busy process, against 0.37–0.45 s at 1 (bench-serve
	// CONTENTION=1, 8 streams). Idle cores start the way back up.
	//
	// With that word, a switch down of prompt chunks carries the token
	// steps too: at the onset the first steps are often a burst of new
	// prompts, and the token steps' own trial then lost against their
	// quiet usual time and had to wait for one stalled step at the old
	// count to compare with (1.3 s for 8 tokens at 2 threads).
	//
	// When contention ends (a switch up), and when prompt chunks switch
	// without the kernel's word (a rarer, noisier signal), the other kind
	// only tries it.
	confirmed := t.meterKnown && t.use.others >= tunerOtherCores && t.fit() <= n
	for i := range t.classes {
		o := &t.classes[i]
		if o == c || o.cur != c.cur || o.trial != 0 {
			continue
		}
		tokens := t.isTokenClass(o) && t.isTokenClass(c)
		unmeasured := o.samples < tunerMinSamples
		promptsDown := t.isTokenClass(c) && !t.isTokenClass(o) && n < c.cur
		confirmedDown := confirmed && n < c.cur
		if !tokens && !unmeasured && !promptsDown && !confirmedDown {
			o.since = max(o.since, o.gap)
			continue
		}
		o.cur, o.usual, o.samples, o.since, o.byMeter, o.bySlow = n, 0, 0, 0, false, false
		o.pairedTo, o.pairedS = 0, 0
		o.gap, o.meterGap = t.gapAfterSwitch(n), tunerMeterGap
		o.reason = c.reason
		if promptsDown && !unmeasured && !confirmed {
			o.gap, o.verify = tunerMinSamples, true
		}
	}
	c.cur, c.usual, c.samples, c.since = n, mean, 1, 0
	c.gap = t.gapAfterSwitch(c.cur)
	c.meterGap = tunerMeterGap
}

// gapAfterSwitch is the gap before the first timer trial at a new count
// cur. Below the maximum the next trial is one of more threads, the kind
// that stalls under contention; with the core meter working, idle cores
// start that trial when it can pay. Back at the maximum, with the meter
// working, a trial of fewer threads would repeat the comparison the switch
// just made; what would change its outcome, another process arriving,
// shows in the meter (and often as slow steps), which start a trial at
// once. The timer is then only a safety net, so it starts at the
// backed-off gap: trials 48, 96, 192… steps after each return cost 2–3% of
// the quiet single-stream steps that followed a busy phase in
// BenchmarkContention.
func (t *threadTuner) gapAfterSwitch(cur int) int {
	switch {
	case cur < t.max && t.meterKnown:
		return tunerMeterKnownGap
	case t.meterKnown:
		return tunerMaxGap
	}
	return tunerFirstGap
}

// isTokenClass reports whether c is a class of short steps (under 64
// tokens: generation steps, one token per sequence, and short prompts)
// rather than long prompt chunks. Short prompts bear contention as token
// steps do: beside a busy process a 36-token prompt step took 0.7–1.0 s at
// 2 threads against 0.13 s at 1 (bench-serve CONTENTION=1), so their class
// moves with the token steps; treated as a prompt class it paid that
// stall once per onset of contention in its verifying trial, about 10% of
// a single-stream busy phase.
func (t *threadTuner) isTokenClass(c *classTuner) bool { return c.class < 5 }

// observeCores reports what other processes did with the cores lately (see
// coreMeter). Classes running fewer threads than the maximum try more at
// their next step when the cores left free are enough for the extra
// threads; classes at the maximum try fewer when other processes use
// tunerOtherCores or more. Slow steps alone missed that: beside a busy
// process the 8-sequence steps at 2 threads were 2.3× slower on average
// but uneven, each slow one raised the usual time, and no three in a row
// stood out, so the model ran the whole settling load of
// BenchmarkContention at 2 threads, 0.46 of its quiet speed.
func (t *threadTuner) observeCores(u coreUse) {
	t.use = u
	if !t.meterKnown {
		t.meterKnown = true
		for i := range t.classes {
			if c := &t.classes[i]; c.cur < t.max {
				c.gap = max(c.gap, tunerMeterKnownGap)
			}
		}
	}
	for i := range t.classes {
		c := &t.classes[i]
		if c.trial != 0 || c.samples < tunerMinSamples || c.since < c.meterGap {
			continue
		}
		alt := t.alternative(c.cur)
		up := alt > c.cur && u.free-float64(c.cur) >= tunerIdleCores*float64(alt-c.cur)
		down := alt < c.cur && u.others >= tunerOtherCores
		if up || down {
			c.since = max(c.since, c.gap)
			c.byMeter = true
		}
	}
}

// snapshot reports the threads of the last step and why.
func (t *threadTuner) snapshot() (int, string) { return t.last, t.reason }

// coreMeter tells how many cores other processes left free: the kernel's
// idle time over the CPUs this process may run on plus the cores this model's own decode steps
// occupied (ggml's threads spin, so a step of d at n threads holds n cores
// for d), over the time since its last reading, read at most every
// meterEvery; and how many cores other processes used: the kernel's busy
// time less this process's CPU time.
//
// The two are measured differently on purpose. Free cores count the
// model's decoding by wall time: a preempted thread still holds its place
// in the next step's barrier, so a trial of more threads finds no more
// than that. Other processes' use counts this process by its CPU time: at
// all its threads beside a busy process the model decodes the whole time
// (free looks full) while the kernel gives part of its cores away. Other
// models in this process count as this process: between them the step
// times and the timer trials decide.
//
// Idle time alone overstates what a trial of more threads would find
// whenever the model did not decode the whole time: between two requests
// beside a busy process a core is idle only because the model's own thread
// was not running. Read at a request's first step, that idle core started
// a trial of 2 threads, which stalled, failed and doubled the gap before
// the next meter-started trial; after many requests the gap had grown to
// hundreds of steps, so when the busy process left, the model stayed at 1
// thread that much longer (TestThreadTuner's "requests with pauses": 0.88
// of the best count quiet; on the Intel VM's stalling neighbour, where a
// short 2-thread trial often looks fast, 325 contended steps at 2 threads).
type coreMeter struct {
	read func() (cpuTimes, error)
	cpus float64
	last time.Time
	prev cpuTimes
	ours float64 // thread-seconds of this model's decode steps since last
}

// cpuTimes are cumulative CPU seconds: the kernel's idle and total over all
// CPUs, and this process's own.
type cpuTimes struct{ idle, total, self float64 }

// coreUse is one coreMeter reading, in cores.
type coreUse struct {
	free   float64 // left free by other processes
	others float64 // used by other processes
	cpus   float64 // the CPUs the kernel schedules on
}

const (
	meterEvery = 100 * time.Millisecond
	// meterStale: a step that begins this long after the last reading
	// starts a new one (begin). Averaged over the minutes a model sat
	// unused, a machine that just became busy still looks free.
	meterStale = time.Second
)

// newCoreMeter reads the affinity mask once, as runtime.NumCPU counted it
// once at start: the sums and the CPU count stay over the same CPUs.
func newCoreMeter() *coreMeter {
	mine := allowedCPUs()
	return &coreMeter{read: func() (cpuTimes, error) { return readCPUTimes(mine) }, cpus: float64(runtime.NumCPU())}
}

// begin is called as a decode step starts. After the model sat unused for
// meterStale or longer (or at its first step), the next reading covers only
// what follows. Deciding that here, and not by a reading's span, keeps
// long steps measured: beside a busy process a step of 8 prompts at 2
// threads took 1.1–1.6 s (bench-serve CONTENTION=1), and when readings
// over a second were discarded as stale, the onset of contention went
// unread for exactly the steps that stalled; on CPU a large model's every
// step can take that long.
func (m *coreMeter) begin(now time.Time) {
	if !m.last.IsZero() && now.Sub(m.last) < meterStale {
		return
	}
	t, err := m.read()
	if err != nil {
		return
	}
	m.last, m.prev, m.ours = now, t, 0
}

// decoded records a decode step of d on threads threads.
func (m *coreMeter) decoded(d time.Duration, threads int) {
	m.ours += d.Seconds() * float64(threads)
}

// sample returns what other processes did with the cores since the
// previous reading, false when it is too early, there was none (begin
// starts one), or the times cannot be read.
func (m *coreMeter) sample(now time.Time) (coreUse, bool) {
	span := now.Sub(m.last)
	if span < meterEvery {
		return coreUse{}, false
	}
	t, err := m.read()
	if err != nil {
		return coreUse{}, false
	}
	fresh := !m.last.IsZero()
	d, ours := cpuTimes{t.idle - m.prev.idle, t.total - m.prev.total, t.self - m.prev.self}, m.ours
	m.last, m.prev, m.ours = now, t, 0
	if !fresh || d.total <= 0 {
		return coreUse{}, false
	}
	sec := span.Seconds()
	// ours is wall time: at most every core for the whole span. Steal
	// time (a hypervisor running another machine on our CPUs) is busy
	// and not ours: contention too.
	return coreUse{
		free:   d.idle/d.total*m.cpus + min(ours/sec, m.cpus),
		others: max(0, (d.total-d.idle)/d.total*m.cpus-d.self/sec),
		cpus:   m.cpus,
	}, true
}

// readCPUTimes sums the kernel's times over the CPUs mine allows (see
// allowedCPUs; nil: all), those this process may run on. A container pinned to 4 of a host's 64 CPUs must not read the other
// 60's load as contention: summed over all of them, other containers at
// half the host would look like 2 of its 4 cores taken, and the tuner
// would try 2 threads.
func readCPUTimes(mine func(cpu int) bool) (cpuTimes, error) {
	ts, err := cpu.Times(true)
	if err != nil || len(ts) == 0 {
		return cpuTimes{}, fmt.Errorf("cpu times: %w", err)
	}
	idle, total := sumCPUTimes(ts, mine)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return cpuTimes{}, fmt.Errorf("process cpu time: %w", err)
	}
	self := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	return cpuTimes{idle: idle, total: total, self: self}, nil
}

// sumCPUTimes adds up the idle and total seconds of the CPUs mine allows
// (every CPU when mine is nil).
func sumCPUTimes(ts []cpu.TimesStat, mine func(cpu int) bool) (idle, total float64) {
	for _, t := range ts {
		if n, err := strconv.Atoi(strings.TrimPrefix(t.CPU, "cpu")); err == nil && mine != nil && !mine(n) {
			continue
		}
		// Guest time is already inside user and nice on Linux, so it is
		// left out (gopsutil's deprecated Total counts it twice).
		total += t.User + t.Nice + t.System + t.Idle + t.Iowait + t.Irq + t.Softirq + t.Steal
		idle += t.Idle + t.Iowait
	}
	return idle, total
}
