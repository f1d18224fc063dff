# The commands a person runs. Each one installs what it needs first.
#   make build   configure and build into build/
#   make check   the whole test suite (also under ASan+UBSan, plus short fuzz runs)
#   make fuzz    longer fuzz runs (FUZZ_SECONDS per target)
#   make clean   remove the build trees

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_SECONDS ?= 300
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

BUILD_PACKAGES := cmake make gcc pkg-config libsodium-dev libjansson-dev
TEST_PACKAGES  := $(BUILD_PACKAGES) libcmocka-dev clang libclang-rt-14-dev \
                  python3 python3-tornado

.PHONY: all build check fuzz clean deps-build deps-test

all: build

deps-build:
	@scripts/install-deps.sh $(BUILD_PACKAGES)

deps-test:
	@scripts/install-deps.sh $(TEST_PACKAGES)

build: deps-build
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

check: deps-test
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMCS_WERROR=ON
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@echo "== again under AddressSanitizer + UndefinedBehaviorSanitizer, with short fuzz runs =="
	CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMCS_WERROR=ON \
	  -DMCS_SANITIZE=ON -DMCS_FUZZ=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -L 'unit|fuzz'

fuzz: deps-test
	CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug \
	  -DMCS_SANITIZE=ON -DMCS_FUZZ=ON -DMCS_FUZZ_SECONDS=$(FUZZ_SECONDS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -L fuzz

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
