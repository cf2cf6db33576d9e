/*
 * parse_thread.h
 *		A thread that parses CSV chunks with a CsvReader while its caller
 *		reads the records parsed before (see csv_reader.h for the two-thread
 *		contract).
 *
 * Like the reader, this part is free of PostgreSQL: it allocates with
 * malloc, calls only libc, pthreads and the reader, and is built on its own
 * for the ThreadSanitizer test.  The backend's side (one thread per
 * backend, reused by every scan) is in parse_thread_backend.c.
 */
#ifndef PARSE_THREAD_H
#define PARSE_THREAD_H

#include <stdbool.h>
#include <stddef.h>

#include "csv_reader.h"

typedef struct ParseThread ParseThread;

/* NULL, and an errno value in *error, if no thread could be started */
extern ParseThread *parse_thread_create(int *error);
extern void parse_thread_destroy(ParseThread *thread);

/* parse len bytes at data with reader (NULL data: the end of the data) */
extern void parse_thread_begin(ParseThread *thread, CsvReader *reader,
							   const char *data, size_t len);

/*
 * Wait at most timeout_ms (< 0: for good) for the chunk handed out: true,
 * with its status, once it is parsed (at once if none is out), false if
 * the time ran out first.
 */
extern bool parse_thread_wait(ParseThread *thread, int timeout_ms, CsvReaderStatus *status);
extern bool parse_thread_busy(const ParseThread *thread);

#endif							/* PARSE_THREAD_H */
