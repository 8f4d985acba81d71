# strata - one binary, `./strata`, with a subcommand per component.
#
#   make            build ./strata (objects under build/)
#   make run        install what is missing, build, start the local demo
#   make test       install what is missing, build, run unit + integration tests
#   make sanitize   the same tests against an ASan+UBSan build
#   make fuzz       build the libFuzzer targets (clang) and run each briefly
#   make bench      the side-by-side benchmarks of bench/ (see docs/PERFORMANCE.md)

CC      ?= cc
PKGS    := inih libxxhash openssl lmdb
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Isrc -pthread -MMD -MP
LDLIBS  := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -linih -lxxhash -lssl -lcrypto -llmdb) -lm -pthread

SRC      := $(shell find src -name '*.c' | sort)
LIB_SRC  := $(filter-out src/main.c,$(SRC))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_SECONDS ?= 20

B        := build
OBJ      := $(SRC:%.c=$(B)/obj/%.o)
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/obj/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/unit/%)

SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
S         := $(B)/sanitize
SAN_OBJ   := $(SRC:%.c=$(S)/obj/%.o)
SAN_LIB   := $(LIB_SRC:%.c=$(S)/obj/%.o)
SAN_UNIT  := $(UNIT_SRC:tests/unit/%.c=$(S)/unit/%)

PYTEST := /usr/bin/python3 -m pytest

.PHONY: all deps run test unit integration sanitize fuzz fuzz-build bench clean

all: strata

deps:
	@scripts/install-deps.sh build

strata: $(OBJ)
	@echo "  LINK    $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

$(B)/unit/%: tests/unit/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJ) $(LDLIBS) -lcmocka -lhttp_parser && echo "  LINK    $@"

# --- sanitizer build: same sources, separate objects ---
$(S)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (sanitize)"
	@$(CC) $(CFLAGS) $(SAN_FLAGS) -c -o $@ $<

$(S)/strata: $(SAN_OBJ)
	@echo "  LINK    $@"
	@$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

$(S)/unit/%: tests/unit/%.c $(SAN_LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	@$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $< $(SAN_LIB) $(LDLIBS) -lcmocka -lhttp_parser

run: deps strata
	@scripts/demo.sh

unit: $(UNIT_BIN)
	@scripts/run-unit.sh $(UNIT_BIN)

integration: strata
	STRATA_BIN=$(CURDIR)/strata $(PYTEST) -q tests/integration

test: deps
	@$(MAKE) --no-print-directory strata $(UNIT_BIN)
	@$(MAKE) --no-print-directory unit integration

sanitize: deps
	@$(MAKE) --no-print-directory $(S)/strata $(SAN_UNIT)
	@scripts/run-unit.sh $(SAN_UNIT)
	STRATA_BIN=$(CURDIR)/$(S)/strata $(PYTEST) -q tests/integration

# --- libFuzzer (clang): one binary per tests/fuzz/fuzz_*.c ---
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%)
FUZZ_LIB := $(LIB_SRC)

$(B)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	@clang -std=gnu11 -D_GNU_SOURCE -g -O1 -Isrc -pthread -fsanitize=fuzzer,address,undefined \
		-o $@ $< $(FUZZ_LIB) $(LDLIBS)

fuzz-build: deps $(FUZZ_BIN)

fuzz: fuzz-build
	@scripts/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BIN)

bench: strata
	@scripts/install-deps.sh bench
	bench/lb_tcp.sh
	bench/lb_http.sh
	bench/ratelimit.sh
	bench/id.sh
	bench/kv.sh

clean:
	rm -rf $(B) strata

-include $(OBJ:.o=.d) $(SAN_OBJ:.o=.d)
