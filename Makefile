# ttsaccel — see README.md.  `make`, `make test`, `make bench`, `make install`.
VERSION    = 0.1.0

PREFIX    ?= /usr/local
DESTDIR   ?=
BINDIR    ?= $(PREFIX)/bin
SBINDIR   ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR ?= $(PREFIX)/share/fish/vendor_completions.d
# The daemon reads /etc/ttsaccel/ttsaccel.conf whatever the PREFIX.
SYSCONFDIR ?= /etc
# systemd looks for units under /usr/local/lib and /usr/lib alike;
# SYSTEMDUNITDIR= (empty) installs no unit.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system

CC        ?= cc
PKGS       = libevent libcurl libcjson libutf8proc sndfile hiredis libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS    ?= -O2 -g
# daemon/ for #include "..." only: its sched.h must not hide the system's
# <sched.h> (that libcrypto's headers include through <pthread.h>).
CFLAGS    += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
             -Wno-unused-parameter -MMD -MP -DTTSACCEL_VERSION=\"$(VERSION)\" \
             -pthread -iquote daemon $(PKG_CFLAGS)
LDLIBS    += $(PKG_LIBS) -lm -pthread

ifeq ($(SANITIZE),1)
VARIANT    = san
CFLAGS    += -fsanitize=address,undefined -fno-sanitize-recover=all \
             -fno-omit-frame-pointer
LDFLAGS   += -fsanitize=address,undefined
else
VARIANT    = std
endif

ifeq ($(V),1)
Q =
else
Q = @
endif

B          = build/$(VARIANT)

DAEMON_SRC = $(filter-out daemon/main.c,$(wildcard daemon/*.c))
DAEMON_OBJ = $(DAEMON_SRC:%.c=$(B)/%.o)
CLI_SRC    = $(wildcard cli/*.c)
CLI_OBJ    = $(CLI_SRC:%.c=$(B)/%.o)
UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT_BIN   = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
FAKE_SRC   = $(wildcard tests/fakes/*.c)
FAKE_BIN   = $(FAKE_SRC:tests/fakes/%.c=$(B)/tests/%)
BENCH_SRC  = $(wildcard tests/bench/*.c)
BENCH_BIN  = $(BENCH_SRC:tests/bench/%.c=$(B)/tests/%)
FUZZ_SRC   = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN   = $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)

all: ttsaccel ttsaccelctl

# The binaries at the top are copies of the current variant's.
ttsaccel: $(B)/ttsaccel FORCE
	$(Q)cmp -s $< $@ || { cp $< $@.tmp && mv -f $@.tmp $@; }
ttsaccelctl: $(B)/ttsaccelctl FORCE
	$(Q)cmp -s $< $@ || { cp $< $@.tmp && mv -f $@.tmp $@; }

$(B)/libttsaccel.a: $(DAEMON_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/ttsaccel: $(B)/daemon/main.o $(B)/libttsaccel.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/ttsaccelctl: $(CLI_OBJ) $(B)/libttsaccel.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lreadline $(LDLIBS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/tests/%: $(B)/tests/unit/%.o $(B)/libttsaccel.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/tests/%: $(B)/tests/fakes/%.o $(B)/libttsaccel.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(B)/tests/%: $(B)/tests/bench/%.o $(B)/libttsaccel.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

testbins: all $(UNIT_BIN) $(FAKE_BIN) $(BENCH_BIN)

# Everything: unit tests, then end-to-end scripts against the real daemon.
test: testbins
	$(Q)TTSACCEL_BUILD=$(B) tests/run.sh

# Only the unit tests (fast).
unit: testbins
	$(Q)TTSACCEL_BUILD=$(B) tests/run.sh unit

# The end-to-end suite with the daemon under valgrind.
test-valgrind: testbins
	$(Q)TTSACCEL_BUILD=$(B) TTSACCEL_VALGRIND=1 tests/run.sh e2e

# The #include graph of daemon/ and cli/ (a module is x.c with x.h);
# fails naming the cycle if there is one (tests/deps/check.py).
check-deps:
	$(Q)python3 tests/deps/check.py -I daemon daemon cli

bench: testbins
	$(Q)TTSACCEL_BUILD=$(B) tests/bench/run.sh

# Not in CI: 10,000 chats at concurrency 20, the daemon's RSS as a series.
soak: testbins
	$(Q)TTSACCEL_BUILD=$(B) tests/bench/soak.sh

# libFuzzer targets (clang).  `make fuzz` builds them; run one with
# build/fuzz/fuzz_NAME -max_total_time=60 SCRATCH_DIR tests/fuzz/corpus/NAME
# (new inputs go to the first directory: give a scratch one first)
FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -pthread -iquote daemon $(PKG_CFLAGS) \
              -DTTSACCEL_VERSION=\"$(VERSION)\" \
              -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
fuzz: $(FUZZ_BIN)
# Every target for FUZZ_SECONDS (default 20) on its corpus; a crash fails.
FUZZ_SECONDS ?= 20
fuzz-smoke: $(FUZZ_BIN)
	$(Q)tests/fuzz/smoke.sh $(FUZZ_SECONDS) $(FUZZ_BIN)
build/fuzz/%: tests/fuzz/%.c $(DAEMON_SRC)
	@mkdir -p $(dir $@)
	@echo "  FUZZ    $@"
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $< $(DAEMON_SRC) $(LDLIBS)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR)
	install -m 0755 ttsaccel ttsaccelctl $(DESTDIR)$(BINDIR)/
	install -m 0644 man/ttsaccelctl.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 man/ttsaccel.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/ttsaccel.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 completions/ttsaccelctl.bash $(DESTDIR)$(BASHCOMPDIR)/ttsaccelctl
	install -m 0644 completions/_ttsaccelctl $(DESTDIR)$(ZSHCOMPDIR)/_ttsaccelctl
	install -m 0644 completions/ttsaccelctl.fish $(DESTDIR)$(FISHCOMPDIR)/ttsaccelctl.fish
	@# The default configuration, unless there is one already.
	install -d $(DESTDIR)$(SYSCONFDIR)/ttsaccel
	[ -e $(DESTDIR)$(SYSCONFDIR)/ttsaccel/ttsaccel.conf ] || \
	    install -m 0644 deploy/ttsaccel.conf $(DESTDIR)$(SYSCONFDIR)/ttsaccel/ttsaccel.conf
	@# The unit, pointed at the binary where it was installed.
	if [ -n "$(SYSTEMDUNITDIR)" ]; then \
	    install -d $(DESTDIR)$(SYSTEMDUNITDIR) && \
	    sed 's|^ExecStart=/usr/bin/|ExecStart=$(BINDIR)/|' deploy/ttsaccel.service \
	        >$(DESTDIR)$(SYSTEMDUNITDIR)/ttsaccel.service.tmp && \
	    chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/ttsaccel.service.tmp && \
	    mv -f $(DESTDIR)$(SYSTEMDUNITDIR)/ttsaccel.service.tmp \
	        $(DESTDIR)$(SYSTEMDUNITDIR)/ttsaccel.service; \
	fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/ttsaccel $(DESTDIR)$(BINDIR)/ttsaccelctl \
	    $(DESTDIR)$(MANDIR)/man1/ttsaccelctl.1 \
	    $(DESTDIR)$(MANDIR)/man5/ttsaccel.conf.5 \
	    $(DESTDIR)$(MANDIR)/man8/ttsaccel.8 \
	    $(DESTDIR)$(BASHCOMPDIR)/ttsaccelctl $(DESTDIR)$(ZSHCOMPDIR)/_ttsaccelctl \
	    $(DESTDIR)$(FISHCOMPDIR)/ttsaccelctl.fish
	if [ -n "$(SYSTEMDUNITDIR)" ]; then \
	    rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/ttsaccel.service; fi
	@# The configuration goes only if it is still the default one.
	if cmp -s deploy/ttsaccel.conf $(DESTDIR)$(SYSCONFDIR)/ttsaccel/ttsaccel.conf; then \
	    rm -f $(DESTDIR)$(SYSCONFDIR)/ttsaccel/ttsaccel.conf; \
	    rmdir $(DESTDIR)$(SYSCONFDIR)/ttsaccel 2>/dev/null || :; fi

# The deployment checks (slow: systemd unit, Debian package, container
# image, compose; root for the last three); not part of `make test`.
# See tests/deploy/run.sh.
test-deploy: testbins
	$(Q)TTSACCEL_BUILD=$(B) timeout -k 60 1800 tests/deploy/run.sh

# The README's quick start on a fresh Debian 12 (debootstrap minbase,
# cached), then make test there (root; see tests/fresh/run.sh).
test-fresh:
	$(Q)timeout -k 60 3600 tests/fresh/run.sh

# A Debian package of the tree, in the parent directory.
deb:
	dpkg-buildpackage -us -uc -b

lint-man:
	mandoc -Tlint -Wwarning man/*.[0-9]

clean:
	rm -rf build ttsaccel ttsaccelctl

FORCE:
.PHONY: all test unit test-valgrind check-deps bench soak fuzz fuzz-smoke install uninstall lint-man clean testbins \
        test-deploy test-fresh deb FORCE
.SECONDARY:

-include $(shell find build -name '*.d' 2>/dev/null)
