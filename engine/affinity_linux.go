package engine

import "golang.org/x/sys/unix"

// allowedCPUs reports which CPUs this process may run on (its affinity
// mask, which a container's cpuset sets), nil when that is unknown. It is
// what runtime.NumCPU counts, so the meter's sums and its CPU count agree.
// The mask is read when called: keep the result, not the call, on a hot path.
func allowedCPUs() func(cpu int) bool {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil
	}
	return set.IsSet
}
