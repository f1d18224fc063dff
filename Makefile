# The commands a person runs. Each one installs what it needs first.
#   make build   configure and build into build/
#   make demo    build and run the demo app (ARGS="--store memcached://..." passes flags)
#   make check   the whole test suite (also under ASan+UBSan, plus short fuzz runs)
#   make fuzz    longer fuzz runs (FUZZ_SECONDS per target)
#   make bench   side-by-side benchmarks, one table (BENCH_SECONDS, BENCH_RUNS)
#   make install PREFIX=/usr/local   install libraries, headers, pkg-config
#                files, the CMake package, the tool, mcsession-gate and
#                their man pages (a build of its own in build-install/,
#                without the tests: no cmocka needed; docs/install.md)
#   make clean   remove the build trees

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_SECONDS ?= 300
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

# What each command needs: the library alone needs a C compiler, CMake,
# pkg-config, libsodium and jansson; the demo adds libmicrohttpd; an
# install adds the adapters' HTTP libraries and scdoc (man pages); a build
# with the tests adds cmocka.
LIB_PACKAGES     := cmake make gcc pkg-config libsodium-dev libjansson-dev
DEMO_PACKAGES    := $(LIB_PACKAGES) libmicrohttpd-dev
INSTALL_PACKAGES := $(DEMO_PACKAGES) libevent-dev scdoc
BUILD_PACKAGES   := $(INSTALL_PACKAGES) libcmocka-dev
# Node.js and npm (the browser test) only where the commands are missing: a
# machine may have Node.js from elsewhere, whose nodejs package conflicts
# with Debian's npm.
NODE_PACKAGES  := $(if $(shell command -v node),,nodejs) \
                  $(if $(shell command -v npm),,npm)
TEST_PACKAGES  := $(BUILD_PACKAGES) clang libclang-rt-14-dev \
                  python3 python3-tornado python3-memcache memcached redis-server \
                  chromium groff-base nginx nginx-dev python3-h2 $(NODE_PACKAGES)

.PHONY: all build demo check fuzz bench install clean deps-build deps-test

all: build

deps-build:
	@scripts/install-deps.sh $(BUILD_PACKAGES)

deps-test:
	@scripts/install-deps.sh $(TEST_PACKAGES)

build: deps-build
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON
	cmake --build $(BUILD) -j $(JOBS)

# The demo on the memory store at 127.0.0.1:8080 (it prints its URL);
# make demo ARGS="--store memcached://127.0.0.1:11211" passes flags.
ARGS ?=
demo:
	@scripts/install-deps.sh $(DEMO_PACKAGES)
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS) --target mcsession-demo
	$(BUILD)/mcsession-demo $(ARGS)

PREFIX ?= /usr/local
INSTALL_BUILD ?= build-install
install:
	@scripts/install-deps.sh $(INSTALL_PACKAGES)
	cmake -S . -B $(INSTALL_BUILD) -DCMAKE_BUILD_TYPE=Release \
	  -DBUILD_TESTING=OFF -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build $(INSTALL_BUILD) -j $(JOBS)
	cmake --install $(INSTALL_BUILD)
	@scripts/after-install.sh $(PREFIX)

check: deps-test
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMCS_WERROR=ON \
	  -DBUILD_TESTING=ON -DMCS_REQUIRE_TESTS=ON
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@echo "== again under AddressSanitizer + UndefinedBehaviorSanitizer, with short fuzz runs =="
	CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMCS_WERROR=ON \
	  -DMCS_SANITIZE=ON -DMCS_FUZZ=ON -DBUILD_TESTING=ON -DMCS_REQUIRE_TESTS=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -L 'unit|fuzz'
	@echo "== the threaded tests (ctest label 'threads') again under ThreadSanitizer =="
	CC=clang cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DMCS_WERROR=ON \
	  -DMCS_TSAN=ON -DBUILD_TESTING=ON -DMCS_REQUIRE_TESTS=ON
	cmake --build build-tsan -j $(JOBS) --target test_store_memory \
	  test_concurrency test_memcached_threads test_revcache test_session_async \
	  test_memcached_loop test_loop_store test_redis_loop test_redis_cluster_loop \
	  test_store_contract \
	  test_sessions_threads
	cd build-tsan && TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp" \
	  ctest --output-on-failure -L threads

fuzz: deps-test
	CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug \
	  -DMCS_SANITIZE=ON -DMCS_FUZZ=ON -DMCS_FUZZ_SECONDS=$(FUZZ_SECONDS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -L fuzz

# Benchmarks (issue 6): the demo, the Tornado recipe and express-session on
# one memcached, plus bench_lib (no HTTP); the demo and the library on Redis
# beside them, with hiredis as the floor (issue 15; bench/redis_lines.py
# runs that part alone); prints one table and writes it to
# bench/results/latest.md. BENCH_SECONDS=2 BENCH_RUNS=1 for a quick look;
# BENCH_ONLY=instructions runs only the callgrind lines (sealing on and
# off, a few minutes), BENCH_ONLY=growth only the growth lines (about 3
# minutes); run.py lists the other knobs.
BENCH_BUILD    ?= build-bench
BENCH_ONLY     ?=
BENCH_PACKAGES := $(BUILD_PACKAGES) python3 python3-tornado python3-memcache \
                  memcached wrk valgrind nginx nginx-dev redis-server \
                  libhiredis-dev $(NODE_PACKAGES)
bench:
	@scripts/install-deps.sh $(BENCH_PACKAGES)
	@test bench/node/node_modules/.installed -nt bench/node/package-lock.json \
	  || (cd bench/node && npm ci --no-audit --no-fund && touch node_modules/.installed)
	cmake -S . -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BENCH_BUILD) -j $(JOBS) --target mcsession-demo mcsession \
	  mcsession-gate ngx_http_mcsession_module
	cmake -S bench -B $(BENCH_BUILD)/bench -DMCS_BUILD_DIR=$(abspath $(BENCH_BUILD))
	cmake --build $(BENCH_BUILD)/bench
	/usr/bin/python3 bench/run.py --demo $(BENCH_BUILD)/mcsession-demo \
	  --bench-lib $(BENCH_BUILD)/bench/bench_lib \
	  --gate $(BENCH_BUILD)/mcsession-gate \
	  --module $(BENCH_BUILD)/ngx_http_mcsession_module.so \
	  --bench-redis $(BENCH_BUILD)/bench/bench_redis \
	  $(if $(BENCH_ONLY),--only $(BENCH_ONLY))

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-tsan build-bench $(INSTALL_BUILD)
