package llamacpp

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// On an AMX host every binary that links ggml's CPU backend must link this
// package too, or its link fails (undefined ggml_backend_amx_buffer_type).
// An AMD or older Intel machine links either way, so CI there would not
// notice a new test or tool that imports the ollama binding directly; this
// test checks the import graph instead, on every machine.
func TestEveryBinaryWithGGMLCPULinksAMXKernels(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the whole module")
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	const ggmlCPU = "github.com/ollama/ollama/ml/backend/ggml/ggml/src/ggml-cpu"
	const amx = "github.com/ggufd/ggufd/engine/internal/ggmlamx"
	// -test adds each package's test binary ("p.test") with its own deps.
	cmd := exec.Command(goBin, "list", "-test", "-deps=false", "-f",
		`{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "github.com/ggufd/ggufd/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	checked := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || !strings.HasSuffix(fields[0], ".test") && !isMain(fields[0]) {
			continue
		}
		deps := map[string]bool{}
		for _, d := range fields[1:] {
			deps[d] = true
		}
		if !deps[ggmlCPU] {
			continue
		}
		checked++
		if !deps[amx] {
			t.Errorf("%s links ggml-cpu without %s: import it (blank) next to the ollama binding", fields[0], amx)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no binary of the module links ggml-cpu: the check looks at the wrong package path")
	}
}

// isMain reports the module's commands, which are binaries too.
func isMain(path string) bool {
	return strings.HasPrefix(path, "github.com/ggufd/ggufd/cmd/") || strings.HasPrefix(path, "github.com/ggufd/ggufd/scripts/")
}
