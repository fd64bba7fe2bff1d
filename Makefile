# certcast - build, test, demo, bench.
#
#   make            build every program into build/bin
#   make test       unit + integration tests, plain and ASan+UBSan builds
#   make demo       a whole federation on this host, then a report
#   make bench      benchmarks (figures, never a pass/fail)
#
# Every target first makes sure the Debian packages are there (deploy/deps.sh).
# V=1 shows the commands.

BUILD    ?= build
SAN      ?=
PKGS      = libzmq libczmq libprotobuf-c libcrypto lmdb
CC       ?= cc
WARN      = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wpointer-arith -Wno-unused-parameter
CFLAGS   ?= -O2 -g
SANFLAGS  = -fsanitize=address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer
# Not added to CFLAGS/LDFLAGS: a CFLAGS given on the command line (as
# `make asan` does) would silently drop them and leave our code unchecked.
ifeq ($(SAN),1)
SAN_FLAGS = $(SANFLAGS)
endif
# Asserts stay on in every build: they guard our own invariants.
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(SAN_FLAGS) -UNDEBUG -MMD -MP \
             -I$(BUILD)/gen -Iproto -Ibroker -Iagents \
             $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS       = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

ifeq ($(V),1)
Q =
else
Q = @
endif

GEN      = $(BUILD)/gen/certcast.pb-c.c
LIB_SRC  = $(wildcard proto/cc_*.c broker/cc_*.c agents/cc_*.c)
CLI_SRC  = broker/certcast.c $(wildcard broker/cmd_*.c)
LIB_OBJ  = $(BUILD)/gen/certcast.pb-c.o $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB      = $(BUILD)/libcertcast.a

PROGRAMS = $(BUILD)/bin/certcast-broker $(BUILD)/bin/certcast-relay \
           $(BUILD)/bin/certcast-agent $(BUILD)/bin/certcast \
           $(BUILD)/bin/cc_selftest $(BUILD)/bin/cc_probe \
           $(BUILD)/bin/cc_history $(BUILD)/bin/cc_bench $(BUILD)/bin/cc_swarm \
           $(BUILD)/bin/cc_floor $(BUILD)/bin/cc_fanout \
           $(BUILD)/bin/cc_fakerelay $(BUILD)/bin/cc_fakeupstream

.PHONY: all deps programs test test-unit test-integration demo bench fuzz \
        install clean asan
all: deps
	$(Q)$(MAKE) --no-print-directory programs

deps:
	@./deploy/deps.sh

programs: $(PROGRAMS)

$(BUILD)/gen/certcast.pb-c.c $(BUILD)/gen/certcast.pb-c.h: proto/certcast.proto
	@mkdir -p $(BUILD)/gen
	@echo "  PROTOC  $<"
	$(Q)protoc-c --proto_path=proto --c_out=$(BUILD)/gen $<

$(BUILD)/gen/certcast.pb-c.o: $(GEN)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -c -o $@ $<

$(BUILD)/%.o: %.c $(BUILD)/gen/certcast.pb-c.h
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/certcast-broker: $(BUILD)/broker/broker_main.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(LIBS)

$(BUILD)/bin/certcast-relay: $(BUILD)/broker/relay_main.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(LIBS)

$(BUILD)/bin/certcast-agent: $(BUILD)/agents/agent_main.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(LIBS)

$(BUILD)/bin/certcast: $(CLI_SRC:%.c=$(BUILD)/%.o) $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(LIBS)

$(BUILD)/bin/cc_selftest: $(BUILD)/tests/unit/selftest.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(LIBS)

$(BUILD)/bin/cc_%: $(BUILD)/tests/tools/cc_%.o $(LIB)
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(LDFLAGS) $(SAN_FLAGS) -o $@ $^ $(LIBS)

asan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan SAN=1 CFLAGS="-O1 -g" programs

# The whole suite, twice: once with the optimised build and once with
# AddressSanitizer + UBSan. tests/run prints the single "N passed, N failed".
test: all asan
	$(Q)./tests/run build build-asan

demo: all
	$(Q)./deploy/demo.sh build/bin

bench: all
	$(Q)./tests/bench/run.sh build/bin

PREFIX ?= /usr/local
install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 build/bin/certcast build/bin/certcast-broker \
	    build/bin/certcast-relay build/bin/certcast-agent $(DESTDIR)$(PREFIX)/bin

# libFuzzer targets over the real decoders and verifier (needs clang).
FUZZ_TARGETS = $(patsubst tests/fuzz/%.c,build-fuzz/%,$(wildcard tests/fuzz/*.c))
fuzz: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang \
	    CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" build-fuzz/libcertcast.a
	$(Q)for target in $(FUZZ_TARGETS); do \
	    clang -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined -Ibuild-fuzz/gen -Iproto -Ibroker \
	        $$(pkg-config --cflags $(PKGS)) -o $$target tests/fuzz/$$(basename $$target).c \
	        build-fuzz/libcertcast.a $(LIBS) || exit 1; \
	    echo "  FUZZ    $$target (run: $$target -max_total_time=60)"; \
	done

clean:
	rm -rf build build-asan build-fuzz bench.json

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
