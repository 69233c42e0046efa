# ggufd build. `make run` builds and serves; `make test` runs vet and every test.
#
# llama.cpp and ggml come from the pinned Go module github.com/ollama/ollama and
# compile through cgo. Their module zip has no vendor/ folders, so the build
# needs three headers from elsewhere: nlohmann/json and stb_image from Debian
# (`make deps` installs them) and a miniaudio.h of our own (third_party/).
#
# The compat header is installed to a fixed folder under the user's cache so
# that CGO_CPPFLAGS is the same string for every checkout of this repo: the Go
# build cache keys cgo packages on that string, and a path inside the checkout
# would make every fresh clone recompile llama.cpp (~5 minutes on 2 cores).

SHELL := /bin/bash
GO ?= go
GGUFD_CACHE ?= $(HOME)/.cache/ggufd
COMPAT_INC := $(GGUFD_CACHE)/include
COMPAT_HDR := $(COMPAT_INC)/miniaudio/miniaudio.h
OLLAMA_DIR := $(shell $(GO) mod download -json github.com/ollama/ollama 2>/dev/null | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p')

# Our engine calls llama.h directly, so its headers go on the include path too.
export CGO_CPPFLAGS := -I$(COMPAT_INC) -I$(OLLAMA_DIR)/llama/llama.cpp/include -I$(OLLAMA_DIR)/ml/backend/ggml/ggml/include
# ggml picks its SIMD kernels at compile time; without -march=native the CPU
# backend falls back to baseline x86-64 and decodes several times slower.
# On AMX Xeons -march=native also enables ggml's AMX kernels (compiled by
# engine/internal/ggmlamx). GGUFD_PORTABLE=1 builds for any x86-64; `make dist`
# pairs such a binary with ggml's CPU variant libraries, chosen at run time.
ifeq ($(GGUFD_PORTABLE),1)
export CGO_CFLAGS := -O3
export CGO_CXXFLAGS := -O3
else
export CGO_CFLAGS := -O3 -march=native
export CGO_CXXFLAGS := -O3 -march=native
endif
export CGO_ENABLED := 1

DEB_PACKAGES := nlohmann-json3-dev libstb-dev gcc g++ make
# The tests also run a throwaway PostgreSQL (initdb + postgres from Debian's
# postgresql package) and check docs/nginx.conf with nginx -t when nginx is
# there. nginx is optional: its package may fail to configure on a machine
# where something else holds port 80, and the nginx test then skips.
TEST_DEB_PACKAGES := postgresql
TEST_DEB_OPTIONAL := nginx
# The browser test of the test page (cmd/ggufd TestWebUIInBrowser) drives
# Debian's Chromium with playwright-core from npm; the font draws the Chinese
# UI in its screenshots.
BROWSER_PACKAGES := chromium fonts-wqy-microhei nodejs npm
BROWSER_DIR := scripts/browsertest
BIN := bin/ggufd
# VERSION is what `ggufd version` prints: the nearest tag, commits since it
# and the commit (v1.2.0-3-gabc1234, -dirty with uncommitted changes), or
# the commit alone before the first tag. Outside a git checkout it is empty
# and the binary falls back to what the Go toolchain recorded.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)
LDFLAGS := $(if $(VERSION),-X main.version=$(VERSION))
# Backend libraries (GPU backends, CPU variants) go beside the binary's
# folder: ggufd loads them from <prefix>/lib/ggufd for <prefix>/bin/ggufd and
# nowhere else (see docs/build.md).
LIB_DIR := lib/ggufd
# ARGS are passed to `ggufd serve` by `make run`, e.g. make run ARGS="--config my.yaml".
ARGS ?=

.PHONY: all deps deps-test browser-deps cmake-deps cuda-deps build run test test-race vet bench bench-serve bench-admission bench-dist cuda dist clean env

all: build

# apt_install installs the Debian packages of $(1) that are missing (apt-get
# update first: a fresh machine has no package lists); with $(2) = optional
# a failure is reported and ignored. A package counts as present when dpkg
# has it or, for nodejs/npm, when the command is on PATH (Node often comes
# from elsewhere than Debian).
define apt_install
	@missing=""; for p in $(1); do \
		case $$p in nodejs) command -v node >/dev/null && continue;; npm) command -v npm >/dev/null && continue;; esac; \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "ggufd: installing missing packages:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO=sudo; else \
			echo "ggufd: not root and no sudo; run as root: apt-get update && apt-get install -y$$missing" >&2; \
			[ "$(2)" = optional ] || exit 1; exit 0; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq$$missing || { \
			echo "ggufd: could not install$$missing; install them with apt-get and retry" >&2; [ "$(2)" = optional ] || exit 1; }; \
	fi
endef

# deps checks for the Debian packages the cgo build needs and installs the
# missing ones.
deps: $(COMPAT_HDR)
	$(call apt_install,$(DEB_PACKAGES))
	@test -n "$(OLLAMA_DIR)" || { echo "ggufd: could not download github.com/ollama/ollama (go mod download)" >&2; exit 1; }

# deps-test adds what the tests run besides the build: PostgreSQL's server
# binaries (required) and nginx (optional).
deps-test:
	$(call apt_install,$(TEST_DEB_PACKAGES))
	$(call apt_install,$(TEST_DEB_OPTIONAL),optional)

# browser-deps installs what the browser test needs when it is missing:
# Chromium, a CJK font, Node and the pinned playwright-core (npm ci from the
# committed lockfile into $(BROWSER_DIR)/node_modules; no browser download).
browser-deps:
	$(call apt_install,$(BROWSER_PACKAGES))
	@test -f $(BROWSER_DIR)/node_modules/playwright-core/package.json || \
		(cd $(BROWSER_DIR) && npm ci --no-audit --no-fund --loglevel=error)

$(COMPAT_HDR): third_party/miniaudio-compat/miniaudio/miniaudio.h
	@install -D -m 0644 $< $@

# env prints the variables a manual `go build` / `go test` needs:
#   eval "$(make -s env)"
env: $(COMPAT_HDR)
	@echo "export CGO_ENABLED=1 CGO_CPPFLAGS='$(CGO_CPPFLAGS)' CGO_CFLAGS='$(CGO_CFLAGS)' CGO_CXXFLAGS='$(CGO_CXXFLAGS)'"

build: deps
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/ggufd

# run serves ./ggufd.yaml if it exists, else built-in defaults: every GGUF in
# ./data/models (a small demo model is generated there when it is empty) on
# http://127.0.0.1:8080.
run: build
	./$(BIN) serve $(ARGS)

vet: deps
	$(GO) vet ./...

# GGUFD_REQUIRE_POSTGRES=1 makes the PostgreSQL tests fail, not skip, if
# its binaries are missing after all; GGUFD_BROWSER_TEST=require does the
# same for the browser test.
test: deps deps-test browser-deps vet
	GGUFD_REQUIRE_POSTGRES=1 GGUFD_BROWSER_TEST=require $(GO) test -count=1 -timeout 30m ./...

# test-race runs every test again under the race detector (CI runs it after
# test): the daemon is concurrent throughout, and only -race sees a data race
# that has not yet corrupted anything.
test-race: deps deps-test browser-deps
	GGUFD_REQUIRE_POSTGRES=1 GGUFD_BROWSER_TEST=require $(GO) test -race -count=1 -timeout 30m ./...

bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./engine/

# bench-admission measures the accounting cost of one request on SQLite and
# on PostgreSQL (docs/benchmarks.md).
bench-admission: deps deps-test
	GGUFD_REQUIRE_POSTGRES=1 $(GO) test -run '^$$' -bench Admission -benchtime 400x -count 3 ./accounts/

bench-serve: build
	scripts/bench-serve

clean:
	rm -rf bin

# ---------------------------------------------------------------------------
# Backend libraries built with ggml's CMake build, which the pinned module
# carries (its root CMakeLists.txt builds ggml with GGML_BACKEND_DL: every
# backend a shared library that ggufd loads at startup). Kept out of `make
# test` and CI: the CUDA compile is long.

CMAKE_BUILD ?= build
JOBS ?= $(shell nproc)
# GPU architectures to compile for: Turing (75), Ampere (80, 86), Ada (89),
# Hopper (90). One architecture compiles in about 16 minutes on 2 cores,
# five in about five times that; `make cuda CUDA_ARCHITECTURES=90` builds
# only for the GPU at hand (check yours with nvidia-smi --query-gpu=compute_cap).
CUDA_ARCHITECTURES ?= 75;80;86;89;90
# Debian's CUDA 11.8 nvcc needs gcc 11; nvidia-cuda-toolkit-gcc provides
# cuda-g++ (g++-11) for it.
CUDA_HOST_CXX ?= cuda-g++

cmake-deps:
	@scripts/apt-install cmake gcc g++ make

cuda-deps:
	@scripts/apt-install --nonfree cmake nvidia-cuda-toolkit nvidia-cuda-toolkit-gcc g++-11

# cuda builds libggml-cuda.so and the libggml-base.so it needs into
# $(LIB_DIR), where bin/ggufd loads them at startup. No RPATH: ggufd loads
# libggml-base.so.0 by its full path first; the CUDA runtime comes from the
# system's library path.
cuda: deps cuda-deps
	cmake -S $(OLLAMA_DIR) -B $(CMAKE_BUILD)/cuda -DCMAKE_BUILD_TYPE=Release -DCMAKE_SKIP_RPATH=ON \
		-DCMAKE_CUDA_ARCHITECTURES='$(CUDA_ARCHITECTURES)' -DCMAKE_CUDA_HOST_COMPILER=$(CUDA_HOST_CXX)
	time nice cmake --build $(CMAKE_BUILD)/cuda --target ggml-cuda -j $(JOBS)
	install -d -m 0755 $(LIB_DIR)
	cp -P $(CMAKE_BUILD)/cuda/lib/ollama/libggml-base.so* $(CMAKE_BUILD)/cuda/lib/ollama/libggml-cuda.so $(LIB_DIR)/
	chmod go-w $(LIB_DIR)/*
	@echo "ggufd: CUDA backend in $(LIB_DIR)/ for $(BIN); 'bin/ggufd serve' logs the GPUs it finds"

# dist writes dist/ggufd-<version>-linux-amd64.tar.gz: a baseline-x86-64
# binary, ggml's CPU variants (the best one for the CPU is loaded at start),
# the CUDA backend if `make cuda` built it, an example config, a systemd unit
# and INSTALL. See scripts/dist.
dist: deps cmake-deps
	OLLAMA_DIR=$(OLLAMA_DIR) CMAKE_BUILD=$(CMAKE_BUILD) JOBS=$(JOBS) scripts/dist

# bench-dist compares the dist build's decode speed with the native build's
# (engine benchmark, interleaved rounds; docs/benchmarks.md).
bench-dist: dist
	scripts/bench-dist
