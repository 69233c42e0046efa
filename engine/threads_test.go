package engine

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"golang.org/x/sys/unix"
)

// machine simulates step times: ms per step by thread count, quiet and with
// another process busy, with ±15% noise.
type machine struct {
	quiet, busy map[int]float64
	// stalls: beside the busy process, this share of the steps at that
	// thread count waits for a whole time slice of stallMs instead.
	stalls  map[int]float64
	stallMs float64
	// jitter: this share of all steps, quiet or not, takes 3× as long
	// (interrupts, a neighbour VM's burst): lone slow steps that are not
	// contention.
	jitter float64
	rng    *rand.Rand
}

func (m machine) step(threads int, contended bool) time.Duration {
	ms := m.quiet[threads]
	if contended {
		ms = m.busy[threads]
		if m.rng.Float64() < m.stalls[threads] {
			ms = m.stallMs
		}
	}
	ms *= 0.85 + 0.3*m.rng.Float64()
	if m.rng.Float64() < m.jitter {
		ms *= 3
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// mean is the expected ms per step.
func (m machine) mean(threads int, contended bool) float64 {
	j := 1 + 2*m.jitter
	if !contended {
		return m.quiet[threads] * j
	}
	p := m.stalls[threads]
	return ((1-p)*m.busy[threads] + p*m.stallMs) * j
}

// withJitter is m with lone slow steps.
func (m machine) withJitter(p float64) machine {
	m.jitter = p
	return m
}

var (
	// The 2-core AMD EPYC VM (110M model, one stream): 76 / 52 tok/s quiet
	// at 2 / 1 threads, 15 / 51 tok/s beside one busy process, every
	// 2-thread step slow.
	amdMachine = machine{
		quiet: map[int]float64{1: 1000 / 52.0, 2: 1000 / 76.0},
		busy:  map[int]float64{1: 1000 / 51.0, 2: 1000 / 15.0},
	}
	// The 2-core Intel Xeon VM (same model, BenchmarkContention): 95 / 52
	// tok/s quiet at 2 / 1 threads; beside a busy process 47 tok/s at 1
	// and 33 at 2, where most 2-thread steps are as fast as quiet ones and
	// about one in eleven waits a whole time slice (~230 ms). A short
	// trial of 2 threads there usually looks fast: the tuner must not
	// believe it while the machine has no idle core.
	// The AMD VM at 8 sequences a step (BenchmarkContention): 49 / 95 ms
	// quiet at 2 / 1 threads, 80–90 ms at 1 beside a busy process; at 2
	// threads 103–128 ms on average there (the usual time when a trial
	// came), uneven: here half the steps 60 ms, half 160.
	amd8Machine = machine{
		quiet:   map[int]float64{1: 95, 2: 49},
		busy:    map[int]float64{1: 90, 2: 60},
		stalls:  map[int]float64{2: 0.5},
		stallMs: 160,
	}
	intelMachine = machine{
		quiet:   map[int]float64{1: 1000 / 52.0, 2: 1000 / 95.0},
		busy:    map[int]float64{1: 1000 / 47.0, 2: 1000 / 95.0},
		stalls:  map[int]float64{2: 0.09},
		stallMs: 230,
	}
)

// tunerPhase is a stretch of steps with or without a busy process.
type tunerPhase struct {
	steps     int
	contended bool
}

func TestThreadTuner(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    machine
		// noIdle: the kernel's idle times cannot be read; timers alone
		// start trials.
		noIdle bool
		// requests of this many steps with pauseMs between them (the
		// model idle, the other process not); 0: one long request.
		requestSteps int
		pauseMs      float64
		// maxBusyTrials: steps at 2 threads in a contended phase after its
		// first step at 1 thread, at most (0: not checked).
		maxBusyTrials int
		// maxOnset: steps at 2 threads in a contended phase before its
		// first at 1 thread, at most (0: not checked).
		maxOnset int
		// maxQuietTrials: steps at 1 thread in a quiet phase that follows a
		// contended one, after its first step at 2 threads, at most (0:
		// not checked; -1: none allowed).
		maxQuietTrials int
		// phases of steps: contended or not
		phases []tunerPhase
		// minimum throughput of each phase relative to the best fixed count
		// for that phase
		minRatio []float64
		// threads in use at the end of each phase
		endThreads []int
	}{
		{
			name:       "quiet stays at 2 threads, trials cost under 3%",
			m:          amdMachine,
			phases:     []tunerPhase{{4000, false}},
			minRatio:   []float64{0.97},
			endThreads: []int{2},
		},
		{
			name:       "contention: drops to 1 thread, back to 2 when quiet",
			m:          amdMachine,
			phases:     []tunerPhase{{500, false}, {3000, true}, {1500, false}},
			minRatio:   []float64{0.95, 0.90, 0.95},
			endThreads: []int{2, 1, 2},
		},
		{
			name:       "busy from the start",
			m:          amdMachine,
			phases:     []tunerPhase{{3000, true}},
			minRatio:   []float64{0.90},
			endThreads: []int{1},
		},
		{
			name:       "stalling neighbour: stays at 1 thread while busy, back to 2 when quiet",
			m:          intelMachine,
			phases:     []tunerPhase{{500, false}, {6000, true}, {1500, false}},
			minRatio:   []float64{0.95, 0.95, 0.95},
			endThreads: []int{2, 1, 2},
		},
		{
			name:       "stalling neighbour from the start",
			m:          intelMachine,
			phases:     []tunerPhase{{6000, true}},
			minRatio:   []float64{0.93},
			endThreads: []int{1},
		},
		{
			// Measured: the quiet benchmark rounds on the shared VM lost
			// 4-6% to trials started by lone slow steps.
			name:       "quiet with lone slow steps (one in ten 3× slower): trials cost under 3%",
			m:          amdMachine.withJitter(0.1),
			phases:     []tunerPhase{{4000, false}},
			minRatio:   []float64{0.97},
			endThreads: []int{2},
		},
		{
			name:   "lone slow steps, then contention, then quiet",
			m:      amdMachine.withJitter(0.1),
			phases: []tunerPhase{{1000, false}, {3000, true}, {1500, false}},
			// Over twelve seeds: 0.970-1.00, 0.970-1.02, 0.955-1.01.
			minRatio:   []float64{0.96, 0.95, 0.95},
			endThreads: []int{2, 1, 2},
		},
		{
			// Between requests a core is idle beside the busy process only
			// because the model's own thread is not running. Read as a
			// free core (before the meter added the model's own decoding),
			// it started a failing trial of 2 threads at request after
			// request, backed the meter-started trials off to hundreds of
			// steps, and the quiet phase after it reached 0.88 of the
			// best; on the stalling neighbour the trials looked fast and
			// 325 contended steps ran at 2 threads.
			name:          "requests with pauses: beside a busy process the pauses start no trials, back to 2 when quiet",
			m:             amdMachine,
			requestSteps:  64,
			pauseMs:       150,
			maxBusyTrials: 2,
			phases:        []tunerPhase{{500, false}, {3000, true}, {300, false}},
			minRatio:      []float64{0.95, 0.95, 0.95},
			endThreads:    []int{2, 1, 2},
		},
		{
			// Back at 2 threads after contention, a trial of 1 thread
			// repeats the comparison the switch just made; it cost 2–3% of
			// the first quiet requests (BenchmarkContention: 2–3% of the
			// quiet single-stream steps on 1 thread, 64 tokens after each
			// busy phase). Contention coming back shows as slow steps.
			name:           "back to quiet: no trials of fewer threads soon after the switch up",
			m:              amdMachine,
			requestSteps:   64,
			pauseMs:        150,
			maxQuietTrials: -1,
			phases:         []tunerPhase{{500, false}, {3000, true}, {600, false}, {3000, true}, {600, false}},
			minRatio:       []float64{0.95, 0.95, 0.97, 0.95, 0.97},
			endThreads:     []int{2, 1, 2, 1, 2},
		},
		{
			// Beside a busy process, 8-sequence steps at 2 threads on the
			// AMD VM were 2.3× slower on average but uneven: each slow one
			// raised the usual time and no three in a row stood out, so
			// slow steps did not start the trial; the kernel's word that
			// another process uses the cores does. Over 40 seeds the
			// switch came after 3–197 contended steps (median 18; the
			// trials it starts compare with a usual time still catching
			// up, so some fail and back off); without that word after
			// 3 to over 600 (never, in half the phases), and seed 1's
			// first busy phase ran 598 steps at 2 threads, 0.85 of the best.
			name:       "uneven contended steps: other processes' CPU time starts the trial of fewer threads",
			m:          amd8Machine,
			maxOnset:   200,
			phases:     []tunerPhase{{500, false}, {600, true}, {300, false}, {600, true}, {300, false}},
			minRatio:   []float64{0.95, 0.92, 0.95, 0.92, 0.95},
			endThreads: []int{2, 1, 2, 1, 2},
		},
		{
			name:          "requests with pauses on the stalling neighbour",
			m:             intelMachine,
			requestSteps:  64,
			pauseMs:       150,
			maxBusyTrials: 2,
			phases:        []tunerPhase{{500, false}, {6000, true}, {300, false}},
			minRatio:      []float64{0.95, 0.95, 0.95},
			endThreads:    []int{2, 1, 2},
		},
		{
			name:   "no core meter: timer trials find the way back to 2 threads",
			m:      amdMachine,
			noIdle: true,
			phases: []tunerPhase{{500, false}, {3000, true}, {1500, false}},
			// The way back waits for a timer trial, whose gap grew to
			// 1024 steps during the busy phase.
			minRatio:   []float64{0.95, 0.90, 0.80},
			endThreads: []int{2, 1, 2},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m
			m.rng = rand.New(rand.NewPCG(1, 2))
			tuner := newThreadTuner(2)
			// The kernel's CPU times on a 2-core machine: while contended
			// the kernel shares the cores among the busy process's thread
			// and ours (2/3 of a core each beside our 2 threads, a core
			// each beside 1); quiet, our threads take theirs.
			var clock time.Time
			var times cpuTimes
			meter := &coreMeter{read: func() (cpuTimes, error) { return times, nil }, cpus: 2}
			elapse := func(d time.Duration, ours int, contended bool) {
				others, self := 0.0, float64(ours)
				if contended {
					others = min(1, 2/float64(ours+1))
					self = min(self, 2*self/float64(ours+1))
				}
				times.idle += max(0, 2-others-self) * 0.95 * d.Seconds()
				times.total += 2 * d.Seconds()
				times.self += self * d.Seconds()
				clock = clock.Add(d)
			}
			for i, ph := range tc.phases {
				var spent, best time.Duration
				afterBusy := i > 0 && tc.phases[i-1].contended && !ph.contended
				down, busyTrials, up, quietTrials, onset := false, 0, false, 0, 0
				for step := range ph.steps {
					th := tuner.threads(1)
					// down, up: the tuner switched (a trial alone is not a
					// switch); the counts are of steps off the switched-to
					// count after it, and of contended steps before it.
					switch {
					case ph.contended && down && th == 2:
						busyTrials++
					case ph.contended && !down && th == 2:
						onset++
					case afterBusy && up && th == 1:
						quietTrials++
					}
					meter.begin(clock)
					d := m.step(th, ph.contended)
					tuner.observe(1, th, d)
					cur := tuner.classes[stepClass(1)].cur
					down = down || ph.contended && cur == 1
					up = up || afterBusy && cur == 2
					elapse(d, th, ph.contended)
					meter.decoded(d, th)
					if use, ok := meter.sample(clock); ok && !tc.noIdle {
						tuner.observeCores(use)
					}
					if tc.requestSteps > 0 && (step+1)%tc.requestSteps == 0 {
						elapse(time.Duration(tc.pauseMs*float64(time.Millisecond)), 0, ph.contended)
					}
					spent += d
					bestMs := min(m.mean(1, ph.contended), m.mean(2, ph.contended))
					best += time.Duration(bestMs * float64(time.Millisecond))
				}
				if ph.contended && tc.maxBusyTrials > 0 && busyTrials > tc.maxBusyTrials {
					t.Errorf("phase %d: %d contended steps at 2 threads after switching to 1, want at most %d", i, busyTrials, tc.maxBusyTrials)
				}
				if ph.contended && tc.maxOnset > 0 && onset > tc.maxOnset {
					t.Errorf("phase %d: %d contended steps at 2 threads before the first at 1, want at most %d", i, onset, tc.maxOnset)
				}
				if afterBusy && tc.maxQuietTrials != 0 && quietTrials > max(tc.maxQuietTrials, 0) {
					t.Errorf("phase %d: %d quiet steps at 1 thread after switching back to 2, want at most %d", i, quietTrials, max(tc.maxQuietTrials, 0))
				}
				ratio := best.Seconds() / spent.Seconds()
				t.Logf("phase %d (contended=%v): %.3f of the best fixed count", i, ph.contended, ratio)
				if ratio < tc.minRatio[i] {
					t.Errorf("phase %d: throughput %.3f of the best fixed count, want ≥ %.2f", i, ratio, tc.minRatio[i])
				}
				if got, reason := tuner.snapshot(); got != tc.endThreads[i] && tuner.classes[0].cur != tc.endThreads[i] {
					t.Errorf("phase %d: ends at %d threads (%s), want %d", i, got, reason, tc.endThreads[i])
				}
			}
		})
	}
}

// TestThreadTunerClassesIndependent: prompt chunks, where more threads keep
// paying under contention, keep their count while single-token steps drop.
func TestThreadTunerClassesIndependent(t *testing.T) {
	tuner := newThreadTuner(2)
	for range 2000 {
		th := tuner.threads(1)
		tuner.observe(1, th, map[int]time.Duration{1: 20 * time.Millisecond, 2: 66 * time.Millisecond}[th])
		th = tuner.threads(512)
		tuner.observe(512, th, map[int]time.Duration{1: 900 * time.Millisecond, 2: 600 * time.Millisecond}[th])
	}
	if got := tuner.classes[stepClass(1)].cur; got != 1 {
		t.Errorf("single-token steps at %d threads, want 1", got)
	}
	if got := tuner.classes[stepClass(512)].cur; got != 2 {
		t.Errorf("prompt chunks at %d threads, want 2", got)
	}
	if _, reason := tuner.snapshot(); reason == "" {
		t.Error("no reason reported")
	}
}

func TestThreadTunerOneThread(t *testing.T) {
	tuner := newThreadTuner(1)
	for range 100 {
		if th := tuner.threads(1); th != 1 {
			t.Fatalf("threads %d with a maximum of 1", th)
		}
		tuner.observe(1, 1, time.Millisecond)
	}
}

func TestCoreMeter(t *testing.T) {
	var times cpuTimes
	m := &coreMeter{read: func() (cpuTimes, error) { return times, nil }, cpus: 2}
	start := time.Unix(1000, 0)
	m.begin(start)
	if _, ok := m.sample(start); ok {
		t.Fatal("a first reading has nothing to compare with")
	}
	for _, tc := range []struct {
		name string
		// unused: the model sat unused this long, these CPU seconds
		// passing, and then a step began (0: steps went on)
		unused  time.Duration
		idleD   cpuTimes
		after   time.Duration // since start
		d       cpuTimes      // CPU seconds since the last reading (or the step's beginning)
		decoded time.Duration // this model's decoding since the last reading, at 1 thread
		want    coreUse
		ok      bool
	}{
		{"too soon", 0, cpuTimes{}, 50 * time.Millisecond, cpuTimes{0.1, 0.2, 0}, 0, coreUse{}, false},
		{"half the CPU time idle, no decoding, another process on the other core", 0, cpuTimes{}, 200 * time.Millisecond,
			cpuTimes{0.2, 0.4, 0}, 0, coreUse{free: 1, others: 1}, true},
		{"busy, decoding throughout at 1 thread: one core ours, one another's", 0, cpuTimes{}, 300 * time.Millisecond,
			cpuTimes{0, 0.2, 0.1}, 100 * time.Millisecond, coreUse{free: 1, others: 1}, true},
		{"one core idle while decoding at 1 thread: both free, nobody else", 0, cpuTimes{}, 400 * time.Millisecond,
			cpuTimes{0.1, 0.2, 0.1}, 100 * time.Millisecond, coreUse{free: 2, others: 0}, true},
		{"decoding at 2 threads throughout, a third of our CPU time given to another process", 0, cpuTimes{}, 500 * time.Millisecond,
			cpuTimes{0, 0.2, 0.2 * 2 / 3}, 2 * 100 * time.Millisecond, coreUse{free: 2, others: 2.0 / 3}, true},
		{"busy, decoding half the time: half a core free", 0, cpuTimes{}, 600 * time.Millisecond,
			cpuTimes{0, 0.2, 0.05}, 50 * time.Millisecond, coreUse{free: 0.5, others: 1.5}, true},
		{"a step after the model sat unused: the quiet time before it is not counted", 3 * time.Second, cpuTimes{6, 6, 0}, 3100 * time.Millisecond,
			cpuTimes{0, 0.2, 0.1}, 100 * time.Millisecond, coreUse{free: 1, others: 1}, true},
		// The onset of contention at 2 threads: one 8-prompt step of 1.5 s.
		{"a step longer than meterStale is measured", 0, cpuTimes{}, 4600 * time.Millisecond,
			cpuTimes{0, 3, 2}, 2 * 1500 * time.Millisecond, coreUse{free: 2, others: 2.0 / 3}, true},
	} {
		if tc.unused > 0 {
			times.idle += tc.idleD.idle
			times.total += tc.idleD.total
			times.self += tc.idleD.self
			m.begin(start.Add(tc.unused))
		}
		times.idle += tc.d.idle
		times.total += tc.d.total
		times.self += tc.d.self
		m.decoded(tc.decoded, 1)
		got, ok := m.sample(start.Add(tc.after))
		near := func(a, b float64) bool { return a > b-0.01 && a < b+0.01 }
		if ok != tc.ok || (ok && (!near(got.free, tc.want.free) || !near(got.others, tc.want.others) || got.cpus != 2)) {
			t.Errorf("%s: %+v %v, want %+v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// TestReadCPUTimes: the real reading counts this process's CPU time.
func TestReadCPUTimes(t *testing.T) {
	before, err := readCPUTimes(allowedCPUs())
	if err != nil {
		t.Skipf("no CPU times here: %v", err)
	}
	// Spin for 50 ms of this thread's own CPU time, not of the wall clock:
	// on a loaded machine 50 ms of wall time held 9 ms of CPU (go test
	// -race -count=3 ./...), and the check below failed.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPUTime(t)
	for n := 0; threadCPUTime(t)-start < 50*time.Millisecond; n++ {
		_ = n * n
	}
	after, err := readCPUTimes(allowedCPUs())
	if err != nil {
		t.Fatal(err)
	}
	if d := after.self - before.self; d < 0.02 {
		t.Errorf("50 ms of spinning counted %.3f s of process CPU time", d)
	}
	if after.total <= before.total || after.idle < before.idle {
		t.Errorf("kernel times went from %+v to %+v", before, after)
	}
}

// threadCPUTime is the CPU time the calling OS thread has used.
func threadCPUTime(t *testing.T) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		t.Skipf("no thread CPU clock here: %v", err)
	}
	return time.Duration(ts.Nano())
}

// TestSumCPUTimes: the meter sums only the CPUs this process may run on.
func TestSumCPUTimes(t *testing.T) {
	ts := []cpu.TimesStat{
		{CPU: "cpu0", User: 8, Idle: 2},
		{CPU: "cpu1", User: 1, Idle: 9, Steal: 1, Iowait: 1},
		{CPU: "cpu2", System: 5, Idle: 5},
	}
	for _, tc := range []struct {
		name        string
		mine        func(int) bool
		idle, total float64
	}{
		{"every CPU", nil, 17, 32},
		{"pinned to cpu1", func(n int) bool { return n == 1 }, 10, 12},
		{"cpu0 and cpu2", func(n int) bool { return n != 1 }, 7, 20},
	} {
		idle, total := sumCPUTimes(ts, tc.mine)
		if idle != tc.idle || total != tc.total {
			t.Errorf("%s: idle %v total %v, want %v %v", tc.name, idle, total, tc.idle, tc.total)
		}
	}
	// The mask counts what runtime.NumCPU counts, the meter's CPUs.
	if mine := allowedCPUs(); mine != nil {
		n := 0
		for i := range 4096 {
			if mine(i) {
				n++
			}
		}
		if n != runtime.NumCPU() {
			t.Errorf("affinity mask has %d CPUs, runtime.NumCPU %d", n, runtime.NumCPU())
		}
	}
}

// TestThreadTunerSlowStepAtFewerThreads: a slow step while already at fewer
// threads (our one thread preempted) must not start a trial of more
// threads, which under contention costs whole time slices.
func TestThreadTunerSlowStepAtFewerThreads(t *testing.T) {
	tuner := newThreadTuner(2)
	c := &tuner.classes[0]
	c.cur, c.usual, c.samples, c.since = 1, 0.004, 10, 5
	tuner.observe(1, 1, 40*time.Millisecond)
	if th := tuner.threads(1); th != 1 {
		t.Fatalf("a slow step at 1 thread started a trial of %d", th)
	}
}

// TestThreadTunerMeterOnset: when the kernel says another process started
// using the cores, the usual time at the current count is from before it
// did. A trial of fewer threads that is slower than that usual time is
// compared with the next step at the current count, which is what the
// other process has made of it.
func TestThreadTunerMeterOnset(t *testing.T) {
	tests := []struct {
		name     string
		usualMs  float64 // at 2 threads, quiet
		trialMs  float64 // the trial's steps at 1 thread
		nextMs   float64 // the next step at 2 threads
		want     int     // threads after that step
		backsOff bool    // the meter's trials backed off
		// otherMs: a 33-token step (usually 100 ms at 2 threads) took
		// this long just before the kernel's word (0: none)
		otherMs float64
	}{
		// bench-serve CONTENTION=1, 8 streams: 39.5 ms usual, 58 ms at 1
		// thread, then 96–1106 ms at 2.
		{"the contended step at 2 threads is slower: switch", 39.5, 58, 100, 1, false, 0},
		{"prompt step: 129 tokens 400 ms at 1 thread, 958 at 2", 213, 400, 958, 1, false, 0},
		{"the step at 2 threads is as fast as usual: stay", 39.5, 58, 41, 2, true, 0},
		{"the trial beats the usual time: switch without waiting", 39.5, 30, 0, 1, false, 0},
		// bench-serve CONTENTION=1: the onset's first step was a 33-token
		// prompt at 2 threads, 1.1–1.3 s.
		{"a step of another shape at 2 threads was slow: switch without waiting", 39.5, 58, 0, 1, false, 1200},
		{"a step of another shape only a little slower: compare with the next step", 39.5, 58, 41, 2, true, 150},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tuner := newThreadTuner(2)
			ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
			tuner.observeCores(coreUse{free: 2, others: 0.05, cpus: 2})
			for range 20 {
				tuner.observe(33, tuner.threads(33), ms(100))
				tuner.observe(8, tuner.threads(8), ms(tc.usualMs))
			}
			if tc.otherMs > 0 {
				tuner.observe(33, tuner.threads(33), ms(tc.otherMs))
			}
			c := &tuner.classes[stepClass(8)]
			gap := c.meterGap
			tuner.observeCores(coreUse{free: 1, others: 1, cpus: 2})
			if th := tuner.threads(8); th != 1 {
				t.Fatalf("the kernel's word started no trial: %d threads", th)
			}
			tuner.observe(8, 1, ms(tc.trialMs))
			if c.trial != 0 { // not cut short
				tuner.observe(8, tuner.threads(8), ms(tc.trialMs))
			}
			if c.cur == 2 {
				if th := tuner.threads(8); th != 2 {
					t.Fatalf("next step at %d threads, want 2", th)
				}
				tuner.observe(8, 2, ms(tc.nextMs))
			}
			if c.cur != tc.want {
				t.Errorf("at %d threads (%s), want %d", c.cur, c.reason, tc.want)
			}
			if backedOff := c.meterGap > gap; backedOff != tc.backsOff {
				t.Errorf("meter gap %d → %d, backed off %v, want %v", gap, c.meterGap, backedOff, tc.backsOff)
			}
		})
	}
}

// TestThreadTunerConfirmedSwitchCarries: when prompt chunks switch to fewer
// threads and the kernel says another process uses a core, the token steps
// follow at once; without that word they only try.
func TestThreadTunerConfirmedSwitchCarries(t *testing.T) {
	tests := []struct {
		name       string
		meter      bool
		wantTokens int // token steps' count after the prompt chunks' switch
	}{
		{"the kernel confirms another process: token steps follow", true, 1},
		{"no word from the kernel: token steps only try", false, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const prompt = 100
			ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
			tuner := newThreadTuner(2)
			if tc.meter {
				tuner.observeCores(coreUse{free: 2, others: 0.05, cpus: 2})
			}
			for range 10 {
				for range 8 {
					tuner.observe(8, tuner.threads(8), ms(40))
				}
				tuner.observe(prompt, tuner.threads(prompt), ms(200))
			}
			if tc.meter {
				tuner.observeCores(coreUse{free: 1, others: 1, cpus: 2})
			}
			p := &tuner.classes[stepClass(prompt)]
			p.trial, p.trialN, p.trialT = 1, 0, 0
			for p.trial != 0 {
				tuner.observe(prompt, 1, ms(150))
			}
			if p.cur != 1 {
				t.Fatalf("prompt chunks at %d threads after a faster trial of 1", p.cur)
			}
			tok := &tuner.classes[stepClass(8)]
			if tok.cur != tc.wantTokens {
				t.Errorf("token steps at %d threads (%s), want %d", tok.cur, tok.reason, tc.wantTokens)
			}
			if th := tuner.threads(8); th != 1 {
				t.Errorf("next token step at %d threads, want 1 (followed or tried)", th)
			}
		})
	}
}

// TestThreadTunerPromptsFollowContention: when contention makes the token
// steps switch to fewer threads, the prompt-chunk classes (whose steps are
// rare, their usual times from the quiet machine) follow at once; a class
// with measurements of its own then verifies with a trial of its old count,
// and keeps that count where it is faster for prompt chunks even under
// contention.
func TestThreadTunerPromptsFollowContention(t *testing.T) {
	const eightPrompts = 200 // one prompt step of 8 short prompts
	tokenMs := map[bool]map[int]float64{false: {1: 19, 2: 13}, true: {1: 20, 2: 66}}
	tests := []struct {
		name          string
		promptTokens  int             // tokens per prompt step
		quietPrompts  int             // prompt steps measured before contention
		busyPromptMs  map[int]float64 // prompt step ms beside a busy process
		want          int             // the prompt class's count at the end
		withinPrompts int             // ...reached within this many contended prompt steps
		maxAt2        int             // contended prompt steps at 2 threads at most (-1: any)
		// meter: the kernel's CPU times are read, and beside the busy
		// process they say another process uses a core.
		meter bool
	}{
		{"unmeasured prompt class follows the token steps", eightPrompts, 0, map[int]float64{1: 200, 2: 800}, 1, 0, 0, false},
		{"measured prompt class follows, its verifying trial fails", eightPrompts, 10, map[int]float64{1: 200, 2: 400}, 1, 0, 1, false},
		{"measured prompt class, stalled steps", eightPrompts, 10, map[int]float64{1: 200, 2: 800}, 1, 0, 1, false},
		{"prompt chunks that prefer 2 threads beside a busy process go back", eightPrompts, 10, map[int]float64{1: 900, 2: 600}, 2, 5, -1, false},
		// bench-serve CONTENTION=1: one 36-token prompt, 0.13 s at 1
		// thread and 0.7–1.0 s at 2 beside the busy process.
		{"a short prompt moves with the token steps, no verifying trial", 36, 10, map[int]float64{1: 130, 2: 965}, 1, 0, 0, false},
		// bench-serve CONTENTION=1, 8 streams: 83–108-token prompt steps
		// took 1.1–1.4 s at 2 threads in the verifying trial, 0.37–0.45 s
		// at 1. With the kernel's word the follow is not verified.
		{"the kernel says another process uses a core: no verifying trial", 100, 10, map[int]float64{1: 400, 2: 1300}, 1, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			promptTokens := tc.promptTokens
			tuner := newThreadTuner(2)
			promptClass := &tuner.classes[stepClass(promptTokens)]
			at2 := 0
			quiet := coreUse{free: 2, others: 0.05, cpus: 2}
			busy := coreUse{free: 1, others: 1, cpus: 2}
			step := func(tokens int, contended bool) {
				if tc.meter {
					tuner.observeCores(map[bool]coreUse{false: quiet, true: busy}[contended])
				}
				th := tuner.threads(tokens)
				if contended && tokens == promptTokens && th == 2 {
					at2++
				}
				ms := tokenMs[contended][th]
				if tokens == promptTokens {
					ms = map[int]float64{1: 190, 2: 100}[th]
					if contended {
						ms = tc.busyPromptMs[th]
					}
				}
				tuner.observe(tokens, th, time.Duration(ms*float64(time.Millisecond)))
			}
			for i := range 200 {
				step(1, false)
				if i%16 == 0 && i/16 < tc.quietPrompts {
					step(promptTokens, false)
				}
			}
			// Contention: token steps until they have switched, then a
			// prompt step every 16 token steps.
			for range 100 {
				step(1, true)
			}
			if got := tuner.classes[0].cur; got != 1 {
				t.Fatalf("token steps at %d threads beside a busy process, want 1", got)
			}
			reached := -1
			for p := range 40 {
				if promptClass.cur == tc.want && promptClass.trial == 0 && reached < 0 {
					reached = p
				}
				step(promptTokens, true)
				for range 16 {
					step(1, true)
				}
			}
			t.Logf("reached after %d prompt steps", reached)
			if promptClass.cur != tc.want {
				t.Fatalf("prompt chunks end at %d threads (%s), want %d", promptClass.cur, promptClass.reason, tc.want)
			}
			if tc.maxAt2 >= 0 && at2 > tc.maxAt2 {
				t.Errorf("%d contended prompt steps at 2 threads, want at most %d", at2, tc.maxAt2)
			}
			if reached < 0 || reached > tc.withinPrompts {
				t.Errorf("prompt chunks reached %d threads after %d contended prompt steps, want at most %d", tc.want, reached, tc.withinPrompts)
			}
		})
	}
}

// manyCores simulates a machine of cpus CPUs, cores of them physical (the
// tuner's maximum), beside busy single-thread processes: a step at n
// threads takes 100 ms × (0.04 + 0.96/n) quiet, ±15%; when our n threads
// and the busy ones outnumber the CPUs, one of ours shares a CPU and every
// step waits for it, 5× slower (the 2-core VM: 76 → 15 tok/s). The kernel
// then shares the CPUs among all runnable threads.
type manyCores struct {
	cpus, cores int
	rng         *rand.Rand
}

func (m manyCores) meanMs(n, busy int) float64 {
	ms := 100 * (0.04 + 0.96/float64(n))
	if n+busy > m.cpus {
		ms *= 5
	}
	return ms
}

// TestThreadTunerManyCores: on a machine with many cores, the tuner runs
// as many threads as fit beside the busy processes (one fewer per busy
// process), not half of them, and all of them again once they have gone.
func TestThreadTunerManyCores(t *testing.T) {
	type phase struct{ steps, busy int }
	for _, tc := range []struct {
		name       string
		m          manyCores
		phases     []phase
		minRatio   []float64 // of the best fixed count, per phase
		endThreads []int
	}{
		{"16 cores, one busy process: 15 threads, then 16 again", manyCores{cpus: 16, cores: 16},
			[]phase{{500, 0}, {3000, 1}, {1500, 0}}, []float64{0.95, 0.90, 0.95}, []int{16, 15, 16}},
		{"16 cores, a second busy process joins the first: 15, then 14", manyCores{cpus: 16, cores: 16},
			[]phase{{500, 0}, {2000, 1}, {2000, 2}, {1500, 0}}, []float64{0.95, 0.90, 0.90, 0.95}, []int{16, 15, 14, 16}},
		{"16 cores, busy from the start", manyCores{cpus: 16, cores: 16},
			[]phase{{3000, 1}}, []float64{0.90}, []int{15}},
		{"8 cores, three busy processes", manyCores{cpus: 8, cores: 8},
			[]phase{{500, 0}, {3000, 3}, {1500, 0}}, []float64{0.95, 0.85, 0.95}, []int{8, 5, 8}},
		// 16 cores with two hardware threads each: the busy process fits
		// on a sibling CPU, nothing waits, trials of 15 threads fail.
		{"SMT: a busy process beside all physical cores costs no thread", manyCores{cpus: 32, cores: 16},
			[]phase{{500, 0}, {3000, 1}}, []float64{0.95, 0.97}, []int{16, 16}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m
			m.rng = rand.New(rand.NewPCG(1, 2))
			tuner := newThreadTuner(m.cores)
			var clock time.Time
			var times cpuTimes
			meter := &coreMeter{read: func() (cpuTimes, error) { return times, nil }, cpus: float64(m.cpus)}
			for i, ph := range tc.phases {
				var spent, best float64
				for range ph.steps {
					th := tuner.threads(1)
					meter.begin(clock)
					ms := m.meanMs(th, ph.busy) * (0.85 + 0.3*m.rng.Float64())
					d := time.Duration(ms * float64(time.Millisecond))
					tuner.observe(1, th, d)
					others, self := float64(ph.busy), float64(th)
					if runnable := float64(th + ph.busy); runnable > float64(m.cpus) {
						share := float64(m.cpus) / runnable
						others, self = others*share, self*share
					}
					sec := d.Seconds()
					times.idle += max(0, float64(m.cpus)-others-self) * sec
					times.total += float64(m.cpus) * sec
					times.self += self * sec
					clock = clock.Add(d)
					meter.decoded(d, th)
					if use, ok := meter.sample(clock); ok {
						tuner.observeCores(use)
					}
					spent += ms
					bestMs := math.Inf(1)
					for n := 1; n <= m.cores; n++ {
						bestMs = min(bestMs, m.meanMs(n, ph.busy))
					}
					best += bestMs
				}
				ratio := best / spent
				got, reason := tuner.snapshot()
				t.Logf("phase %d (%d busy): %.3f of the best fixed count, ends at %d threads (%s)", i, ph.busy, ratio, got, reason)
				if ratio < tc.minRatio[i] {
					t.Errorf("phase %d: throughput %.3f of the best fixed count, want ≥ %.2f", i, ratio, tc.minRatio[i])
				}
				if cur := tuner.classes[0].cur; cur != tc.endThreads[i] {
					t.Errorf("phase %d: ends at %d threads (%s), want %d", i, cur, reason, tc.endThreads[i])
				}
			}
		})
	}
}
