package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
)

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux configuration Go supports (the kernel fixes it for user space).
const clockTicks = 100

// groupCPUSeconds sums the user and system CPU time of every live process
// in process group pgid (a server started with setsid, with the runner
// subprocesses it spawned). Measured before and after a run, it gives the
// CPU a server spent on it, which other load on a shared machine disturbs
// far less than wall-clock rates do. It returns -1 where /proc is missing.
func groupCPUSeconds(pgid int) float64 {
	dirs, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(dirs) == 0 {
		return -1
	}
	var ticks int64
	for _, path := range dirs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue // exited meanwhile
		}
		if g, t, ok := parseStat(b); ok && g == pgid {
			ticks += t
		}
	}
	return float64(ticks) / clockTicks
}

// parseStat returns the process group and utime+stime of one
// /proc/PID/stat line. The command name (field 2) may hold spaces and
// parentheses, so fields are counted from its last ')'.
func parseStat(b []byte) (pgid int, ticks int64, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state): pgrp is field 5, utime 14, stime 15.
	if len(f) < 13 {
		return 0, 0, false
	}
	g, err1 := strconv.Atoi(string(f[2]))
	u, err2 := strconv.ParseInt(string(f[11]), 10, 64)
	s, err3 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, false
	}
	return g, u + s, true
}

// machineBusySeconds is the CPU time all processes have spent, from the
// first line of /proc/stat (everything but idle and iowait); -1 where it
// cannot be read.
func machineBusySeconds() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 6 || string(f[0]) != "cpu" {
		return -1
	}
	var busy int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return -1
		}
		// Fields: user nice system idle iowait irq softirq steal guest
		// guest_nice; guest time is already counted in user.
		if i == 3 || i == 4 || i >= 8 {
			continue
		}
		busy += n
	}
	return float64(busy) / clockTicks
}

// cpuSample is a snapshot of the counters a run is measured by.
type cpuSample struct{ server, self, machine float64 }

func sampleCPU(pgid int) cpuSample {
	return cpuSample{server: groupCPUSeconds(pgid), self: selfCPUSeconds(), machine: machineBusySeconds()}
}

// selfCPUSeconds is this process's own CPU time (the load generator's
// share of the machine).
func selfCPUSeconds() float64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return -1
	}
	_, t, ok := parseStat(b)
	if !ok {
		return -1
	}
	return float64(t) / clockTicks
}
