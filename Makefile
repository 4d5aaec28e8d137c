# pasar — build, run, test, bench.
#
#   make            bin/pasar (installs missing Debian packages first)
#   make run        keys + node n1 of ./cluster.toml (HTTP on 127.0.0.1:8080)
#   make test       unit tests (cmocka) + process-level tests (pytest)
#   make test-asan  the whole suite under AddressSanitizer + UBSan
#   make fuzz       each libFuzzer target for FUZZ_SECONDS (default 20)
#   make bench      figures, one `bench: <name> <value> <unit>` line each
#   make clean

.DEFAULT_GOAL := all

BUILD    ?= build
BIN      ?= bin
PYTHON   := /usr/bin/python3
PKGS     := libczmq libzmq msgpack lmdb hiredis rdkafka jansson libjwt \
            libsodium libcurl tomlplusplus libutf8proc
OPT      ?= -O2
SAN      ?=
CFLAGS   := -std=gnu11 $(OPT) -g -Wall -Wextra -Werror -pthread -I. \
            -fno-omit-frame-pointer $(SAN)
CXXFLAGS := -std=c++17 $(OPT) -g -Wall -Wextra -Werror -pthread -I. $(SAN)
LDFLAGS  := -pthread $(SAN)

# Library flags come from pkg-config, after scripts/deps has made sure the
# packages are there: build/flags.mk is a target, so make builds it (and
# restarts) before anything that needs it.
# jemalloc replaces glibc's malloc (its arenas' locks and consolidation
# were ~12 % of the CPU under load; +12 % transfers/s, BENCHMARKS.md),
# except under the sanitizers, which bring their own.
MALLOC   := $(if $(SAN),,-ljemalloc)
-include $(BUILD)/flags.mk
$(BUILD)/flags.mk: scripts/deps Makefile
	@scripts/deps build
	@mkdir -p $(@D)
	@{ echo "PKG_CFLAGS := $$(pkg-config --cflags $(PKGS))"; \
	   echo "PKG_LIBS := $(MALLOC) $$(pkg-config --libs $(PKGS)) -lcivetweb -lstdc++ -lm"; } > $@

LIB_C    := $(wildcard runtime/*.c store/*.c actors/*.c edge/*.c)
LIB_CXX  := $(wildcard runtime/*.cpp)
LIB_OBJ  := $(LIB_C:%.c=$(BUILD)/obj/%.o) $(LIB_CXX:%.cpp=$(BUILD)/obj/%.o)
CMD_OBJ  := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard cmd/*.c))
SUP_OBJ  := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/support/*.c))
UNIT     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
TOOLS    := $(patsubst tests/bin/%.c,$(BUILD)/tests/bin/%,$(wildcard tests/bin/*.c))
BENCHES  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
FUZZERS  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all run test test-unit test-proc test-asan fuzz bench clean deps
all: $(BIN)/pasar

deps:
	@scripts/deps

$(BUILD)/obj/%.o: %.c $(BUILD)/flags.mk
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.cpp $(BUILD)/flags.mk
	@mkdir -p $(@D)
	@echo "  CXX     $<"
	@$(CXX) $(CXXFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libpasar.a: $(LIB_OBJ)
	@rm -f $@
	@echo "  AR      $@"
	@$(AR) rcs $@ $^

$(BUILD)/libtestsupport.a: $(SUP_OBJ)
	@rm -f $@
	@echo "  AR      $@"
	@$(AR) rcs $@ $^

$(BIN)/pasar: $(CMD_OBJ) $(BUILD)/libpasar.a
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS) -o $@ $(CMD_OBJ) $(BUILD)/libpasar.a $(PKG_LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libtestsupport.a $(BUILD)/libpasar.a
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(BUILD)/libtestsupport.a \
	    $(BUILD)/libpasar.a $(PKG_LIBS) -lcmocka

$(BUILD)/tests/bin/%: tests/bin/%.c $(BUILD)/libtestsupport.a $(BUILD)/libpasar.a
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(BUILD)/libtestsupport.a \
	    $(BUILD)/libpasar.a $(PKG_LIBS)

$(BUILD)/bench/http_ceiling: bench/http_ceiling.c $(BUILD)/flags.mk
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(PKG_LIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libtestsupport.a $(BUILD)/libpasar.a
	@mkdir -p $(@D)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(BUILD)/libtestsupport.a \
	    $(BUILD)/libpasar.a $(PKG_LIBS)

run: deps $(BIN)/pasar
	$(BIN)/pasar keys -c cluster.toml
	$(BIN)/pasar node -c cluster.toml -n n1

# The whole suite: unit binaries, then the process-level pytest suite, which
# drives bin/pasar and the tests/bin helpers as real processes.
test: deps $(BIN)/pasar $(UNIT) $(TOOLS)
	@scripts/run-tests $(BUILD) $(BIN)

test-unit: deps $(UNIT)
	@scripts/run-tests $(BUILD) $(BIN) unit

test-asan:
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=build-asan/bin \
	    SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    OPT=-O1 test

# Fuzzers need clang's libFuzzer; they link the sources directly so the
# whole decoder is instrumented.
FUZZ_SECONDS ?= 20
FUZZ_FLAGS := -std=gnu11 -g -O1 -I. -fsanitize=fuzzer,address,undefined
$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_C) $(BUILD)/flags.mk
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	@clang $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ $< $(filter-out %/rt_toml.cpp,$(FUZZ_SRC_$*)) $(PKG_LIBS)

FUZZ_SRC_fuzz_envelope := runtime/rt_envelope.c runtime/rt_error.c
FUZZ_SRC_fuzz_json_body := edge/ed_json.c edge/ed_schemas.c

fuzz: deps $(FUZZERS)
	@for f in $(FUZZERS); do \
	  n=$$(basename $$f); mkdir -p $(BUILD)/fuzz/corpus-$$n; \
	  echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
	  if ! $$f -max_total_time=$(FUZZ_SECONDS) $(BUILD)/fuzz/corpus-$$n \
	       tests/fuzz/seeds-$$n > $(BUILD)/fuzz/$$n.log 2>&1; then \
	    tail -n 40 $(BUILD)/fuzz/$$n.log; echo "fuzz: $$n FAILED"; exit 1; fi; \
	  tail -n 1 $(BUILD)/fuzz/$$n.log; \
	done

bench: deps $(BIN)/pasar $(BENCHES)
	@scripts/bench $(BUILD) $(BIN)

clean:
	rm -rf build build-asan bin

-include $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(SUP_OBJ:.o=.d)
