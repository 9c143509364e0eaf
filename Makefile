# Thin wrapper over CMake for the README's commands.
#   make          build (build/backprop, build/libbackprop.a, build/libbackprop.so)
#   make install  the tool, both libraries, the header, backprop.pc, a CMake package and
#                 the man page under PREFIX (default /usr/local): make install PREFIX=$HOME/.local
#   make test     install missing build dependencies, build, run all tests,
#                 then again under AddressSanitizer + UndefinedBehaviorSanitizer
#   make demo     the main job (see README)
#   make fuzz     each libFuzzer target FUZZ_SECONDS seconds (tests/fuzz/README.md)
#   make bench    benchmarks side by side with PyTorch (see bench/README.md);
#                 make bench BENCH_ARGS=--quick for the one-minute version
#   make bench-mpi  training over MPI against PyTorch DDP, the allreduce (docs/scaling.md)

BUILD      ?= build
SAN_BUILD  ?= build-san
JOBS       ?= 2
PREFIX     ?= /usr/local
BUILD_DEPS  = cmake gcc make pkg-config libopenblas-dev libjansson-dev zlib1g-dev libopenmpi-dev openmpi-bin
DEMO_DEPS   = dataset-fashion-mnist
FUZZ_DEPS   = clang libclang-rt-14-dev
FUZZ_SECONDS ?= 60
# No "Entering directory" lines from the builds below.
MAKEFLAGS  += --no-print-directory
# Warnings are errors in CI.
ifneq ($(CI),)
WERROR = -DBP_WERROR=ON
endif

.PHONY: all deps build test test-fast test-san test-fuzz fuzz demo bench bench-mpi clean install

all: build

deps:
	@scripts/install-deps.sh $(BUILD_DEPS)

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(WERROR) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-san: deps
	@cmake -S . -B $(SAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DBP_SANITIZE=ON $(WERROR) >/dev/null
	@cmake --build $(SAN_BUILD) -j $(JOBS)
	cd $(SAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

# The fuzz targets' smoke run (tests/fuzz/run.sh prints "skip: ..." without clang's libFuzzer).
test-fuzz: deps
	@scripts/install-deps.sh $(FUZZ_DEPS) || echo "test-fuzz: could not install $(FUZZ_DEPS)" >&2
	@tests/fuzz/run.sh --smoke

fuzz: deps
	@scripts/install-deps.sh $(FUZZ_DEPS) || echo "fuzz: could not install $(FUZZ_DEPS)" >&2
	@tests/fuzz/run.sh --seconds $(FUZZ_SECONDS)

test: test-fast test-san test-fuzz

demo: build
	@scripts/install-deps.sh $(DEMO_DEPS)
	@scripts/demo.sh $(BUILD)/backprop

bench: build
	@bench/run.sh --build $(BUILD) $(BENCH_ARGS)

bench-mpi: build
	@bench/mpi/run.sh --build $(BUILD) $(BENCH_ARGS)

# make install PREFIX=/opt/backprop (default /usr/local; DESTDIR is honoured)
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD) $(SAN_BUILD) build-fuzz
