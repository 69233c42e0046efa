//go:build !linux

package engine

// allowedCPUs: without an affinity mask to read, every CPU counts.
func allowedCPUs() func(cpu int) bool { return nil }
