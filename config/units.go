package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written in YAML as a Go duration string
// ("30s", "5m", "1h30m"), a bare number of seconds, or -1 / "never" for no
// limit. Any negative value means "never".
type Duration time.Duration

// Never is the Duration that keep_alive uses for "never unload".
const Never = Duration(-1)

// Std returns the value as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// IsNever reports whether d means "no limit".
func (d Duration) IsNever() bool { return d < 0 }

func (d Duration) String() string {
	if d.IsNever() {
		return "never"
	}
	return time.Duration(d).String()
}

// ParseDuration parses the forms Duration accepts in YAML.
func ParseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "":
		return 0, fmt.Errorf("empty duration")
	case "never", "forever", "-1":
		return Never, nil
	}
	// A bare number is seconds, as in Ollama's keep_alive.
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) {
			// NaN would convert to the minimum int64, which reads as never.
			return 0, fmt.Errorf("duration %q is not a number", s)
		}
		if f < 0 {
			return Never, nil
		}
		if f > float64(math.MaxInt64)/float64(time.Second) {
			return 0, fmt.Errorf("duration %q is too large", s)
		}
		return Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want e.g. 30s, 5m, 1h, or -1 for never)", s)
	}
	if d < 0 {
		return Never, nil
	}
	return Duration(d), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a duration such as 5m, got a %s", kindName(n))
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) {
	if d.IsNever() {
		return -1, nil
	}
	return time.Duration(d).String(), nil
}

// ByteSize is a number of bytes written in YAML as an integer or with a unit:
// KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB (and the short K/M/G/T)
// powers of 1024. Fractions are allowed ("1.5GiB").
type ByteSize uint64

var byteUnits = []struct {
	suffix string
	mult   uint64
}{
	// Longest suffixes first so "KiB" is not read as "B".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// ParseByteSize parses the forms ByteSize accepts in YAML.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return 0, fmt.Errorf("empty size")
	}
	mult := uint64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			mult = u.mult
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			break
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("invalid size %q (want e.g. 512MiB, 16GB or a number of bytes)", s)
	}
	if f < 0 {
		return 0, fmt.Errorf("invalid size %q: must not be negative", s)
	}
	v := f * float64(mult)
	if v >= math.MaxUint64 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return ByteSize(v), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a size such as 512MiB, got a %s", kindName(n))
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (b ByteSize) MarshalYAML() (any, error) { return b.String(), nil }

// String formats the size with a binary unit, e.g. "1.5GiB".
func (b ByteSize) String() string { return FormatBytes(uint64(b)) }

// FormatBytes formats n bytes for people: "512B", "3.2MiB", "1.5GiB".
func FormatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	f := float64(n)
	i := -1
	for f >= unit && i < len(units)-1 {
		f /= unit
		i++
	}
	s := strconv.FormatFloat(f, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return s + units[i]
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return "scalar"
	case yaml.AliasNode:
		return "alias"
	}
	return "node"
}

// GPULayers is the gpu_layers setting: how many of a model's layers run on
// GPUs. In YAML it is "auto" (as many as fit in the GPUs' free memory, the
// rest on the CPU), -1 (every layer; a load that does not fit fails) or a
// number of layers (0: CPU only). Layers count as llama.cpp counts them: the
// repeating layers from the last one down, then the output layer as one
// more, so a model of N blocks has N+1.
type GPULayers int

const (
	// GPULayersAuto offloads what fits; it is the default.
	GPULayersAuto GPULayers = -2
	// GPULayersAll puts every layer on GPUs.
	GPULayersAll GPULayers = -1
)

// ParseGPULayers parses the forms GPULayers accepts in YAML.
func ParseGPULayers(s string) (GPULayers, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "auto") {
		return GPULayersAuto, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < -1 {
		return 0, fmt.Errorf("want auto, -1 (all) or a number of layers, got %q", s)
	}
	return GPULayers(n), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (g *GPULayers) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want auto, -1 (all) or a number of layers, got a %s", kindName(n))
	}
	v, err := ParseGPULayers(n.Value)
	if err != nil {
		return err
	}
	*g = v
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (g GPULayers) MarshalYAML() (any, error) {
	if g == GPULayersAuto {
		return "auto", nil
	}
	return int(g), nil
}

func (g GPULayers) String() string {
	if g == GPULayersAuto {
		return "auto"
	}
	return strconv.Itoa(int(g))
}
