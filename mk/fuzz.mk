# libFuzzer harnesses (tests/fuzz/fuzz_<name>.c) for every parser of untrusted
# input, built with clang against a clang build of the product modules they
# drive (in $(BUILD)/fuzz, apart from the gcc objects).
#
#   make fuzz          build, then run each harness for FUZZ_SECONDS (600), one at
#                      a time; new inputs go to $(BUILD)/fuzz/corpus/<name>
#   make fuzz-smoke    each harness for FUZZ_SMOKE_SECONDS (10) over the corpus
#                      (a step of `make test`; skipped, saying why, without clang)
#   make fuzz-bins     build only; FUZZ=name1,name2 limits `fuzz` to some harnesses
# The checked-in seeds are tests/fuzz/corpus/<name>/; see docs/security.md.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_O := $(BUILD)/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=gnu11 -g -O1 -D_GNU_SOURCE -DKC_VERSION='"$(VERSION)"' -Wall -Wextra -Werror \
	-Wno-unused-parameter $(FUZZ_SAN) -I$(BUILD)/gen -Ilib
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst %,$(FUZZ_O)/bin/fuzz_%,$(FUZZ_NAMES))

# The product modules the harnesses reach (instrumented for coverage).
FUZZ_PROD_SRCS := $(LIB_SRCS) $(addprefix guest-init/,spec.c spec_json.c spec_linux.c seccomp.c \
	seccomp_stub.c cmdline.c streams.c blkdev.c blkwait.c blkctr.c) \
	$(addprefix host/sandboxer/,toml.c config.c state.c sandbox.c qmp.c pod_config.c podnet.c \
	podnet_nl.c taskep.c taskep_stream.c disk.c disk_op.c chapi.c) $(TASKAPI_SRCS)
FUZZ_PROD_OBJS := $(patsubst %.c,$(FUZZ_O)/obj/%.o,$(FUZZ_PROD_SRCS)) \
	$(patsubst $(BUILD)/gen/%.c,$(FUZZ_O)/obj/gen/%.o,$(PB_C))

$(FUZZ_O)/obj/gen/%.o: $(BUILD)/gen/%.c $(BUILD)/gen/.stamp
	@mkdir -p $(@D)
	$(call qecho,FUZZCC,$<)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(FUZZ_O)/obj/%.o: %.c $(BUILD)/gen/.stamp
	@mkdir -p $(@D)
	$(call qecho,FUZZCC,$<)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Ihost/taskapi -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(FUZZ_O)/libfuzz-prod.a: $(FUZZ_PROD_OBJS)
	@rm -f $@; ar rcs $@ $^

# libseccomp and protobuf-c from the Debian sources setup-deps.sh keeps for
# the guest (tests/fuzz/build-dep.sh); the system libraries when they are not
# there.
FUZZ_DEPS :=
define fuzz_dep # source package, library file, fallback link flag
$(eval _dsc := $(firstword $(wildcard $(KC_CACHE)/src/dl/$(1)_*.dsc)))
ifneq ($(_dsc),)
FUZZ_DEPS += $(FUZZ_O)/deps/$(2)
$(FUZZ_O)/deps/$(2): $(_dsc) tests/fuzz/build-dep.sh
	$$(call qecho,FUZZCC,$(1) ($(notdir $(_dsc))))
	$$(Q)bash tests/fuzz/build-dep.sh $$(FUZZ_CC) $$< $$(@D)
else
FUZZ_DEPS += $(3)
endif
endef
$(eval $(call fuzz_dep,protobuf-c,libprotobuf-c.a,-lprotobuf-c))
$(eval $(call fuzz_dep,libseccomp,libseccomp.a,-lseccomp))

# Harnesses include the modules' headers (not their system namesakes: only
# harnesses get these -I's, so <seccomp.h> stays libseccomp's).
$(FUZZ_O)/bin/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_O)/libfuzz-prod.a \
		$(filter %.a,$(FUZZ_DEPS))
	@mkdir -p $(@D)
	$(call qecho,FUZZLD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Iguest-init -Ihost/sandboxer -fsanitize=fuzzer -o $@ $< \
	  $(FUZZ_O)/libfuzz-prod.a $(FUZZ_DEPS) -ljansson -lblkid -lmnl -lnghttp2

FUZZ_ENV = KC_FUZZ_BIN=$(abspath $(FUZZ_O)/bin) KC_FUZZ_CORPUS=$(CURDIR)/tests/fuzz/corpus
# Prints why clang cannot build libFuzzer harnesses here, or nothing.
FUZZ_PROBE = bash tests/fuzz/probe.sh $(FUZZ_CC)

.PHONY: fuzz fuzz-bins fuzz-smoke
fuzz-bins: $(FUZZ_BINS)

fuzz: deps
	@why=$$($(FUZZ_PROBE)); if [ -n "$$why" ]; then echo "fuzz: $$why"; exit 1; fi
	@$(MAKE) --no-print-directory fuzz-bins
	@$(FUZZ_ENV) KC_FUZZ_MODE=long KC_FUZZ_SECONDS=$(FUZZ_SECONDS) \
	  KC_FUZZ_OUT=$(abspath $(FUZZ_O)) KC_FUZZ_ONLY=$(FUZZ) bash tests/fuzz/run-fuzzers.sh

fuzz-smoke:
	@why=$$($(FUZZ_PROBE)); \
	if [ -z "$$why" ]; then $(MAKE) --no-print-directory fuzz-bins || exit 1; fi; \
	$(FUZZ_ENV) KC_FUZZ_MODE=smoke KC_FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS) KC_FUZZ_SKIP="$$why" \
	  bash tests/run-tests.sh fuzz tests/fuzz/run-fuzzers.sh

# The binary seeds (ttrpc frames, protobuf messages), packed with the generated
# code: `make fuzz-seeds` rewrites them in tests/fuzz/corpus/.
$(O)/tests/fuzz-gen-seeds: tests/fuzz/gen_seeds.c $(O)/host/libkc.a
	@mkdir -p $(@D)
	$(call qecho,CC,$@)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< $(O)/host/libkc.a -ljansson -lprotobuf-c
.PHONY: fuzz-seeds
fuzz-seeds: $(O)/tests/fuzz-gen-seeds
	@$< tests/fuzz/corpus
