# csv_export_fdw: PGXS build
MODULE_big = csv_export_fdw
OBJS = \
	csv_export_fdw.o \
	src/archive.o \
	src/convert.o \
	src/csv_reader.o \
	src/decoder.o \
	src/drift.o \
	src/export_scan.o \
	src/fetch_check.o \
	src/http.o \
	src/import.o \
	src/manifest.o \
	src/option.o \
	src/pagination.o \
	src/parse_thread.o \
	src/parse_thread_backend.o \
	src/privileged.o \
	src/record_stream.o \
	src/rejects.o \
	src/sync_match.o \
	src/sync_state.o \
	src/sync.o \
	src/url.o

EXTENSION = csv_export_fdw
DATA = csv_export_fdw--1.0.sql csv_export_fdw--1.0--1.1.sql csv_export_fdw--1.1--1.2.sql \
	csv_export_fdw--1.2--1.3.sql csv_export_fdw--1.3--1.4.sql csv_export_fdw--1.4--1.5.sql \
	csv_export_fdw--1.5--1.6.sql csv_export_fdw--1.6--1.7.sql
PGFILEDESC = "csv_export_fdw - foreign data wrapper for CSV exports over HTTP"

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=csv_export_fdw

SHLIB_LINK += -lcurl -lcsv -lz -lzstd -lbz2 -llzma -pthread
PG_CFLAGS += -pthread -Wextra -Wno-unused-parameter -Wno-missing-field-initializers
ifdef WERROR
PG_CFLAGS += -Werror
endif

# PGXS does not track headers: each source's dependencies are written to a
# .dep file (for its object and its JIT bitcode), so that a changed header
# rebuilds what includes it.
DEPS = $(OBJS:.o=.dep)
EXTRA_CLEAN += $(DEPS)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

%.dep: %.c
	@mkdir -p $(dir $@)
	@$(CC) $(CPPFLAGS) -MM -MP -MT $*.o -MT $*.bc -MF $@ $<
ifeq ($(filter clean distclean,$(MAKECMDGOALS)),)
-include $(DEPS)
endif

# The CSV reader's libFuzzer target (clang, outside the server): runs for
# FUZZ_SECONDS, then replays the kept crash inputs in test/fuzz/regressions.
FUZZ_SECONDS ?= 60
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

test/fuzz/csv_reader_fuzz: test/fuzz/csv_reader_fuzz.c src/csv_reader.c src/csv_reader.h
	clang $(FUZZ_FLAGS) -o $@ test/fuzz/csv_reader_fuzz.c src/csv_reader.c -lcsv

.PHONY: fuzz
fuzz: test/fuzz/csv_reader_fuzz
	mkdir -p test/fuzz/corpus
	test/fuzz/csv_reader_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
		-artifact_prefix=test/fuzz/ test/fuzz/corpus test/fuzz/seeds
	test/fuzz/csv_reader_fuzz test/fuzz/regressions/*
