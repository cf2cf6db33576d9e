/*
 * parse_thread_backend.c
 *		The backend's parsing thread (parse_thread.c): started by the first
 *		scan that wants one, lent to one record stream at a time and reused
 *		by every scan after, joined when the backend exits.
 *
 * A stream that finds the thread lent out (two foreign scans read at once,
 * as in a join) parses in the backend, between rows.  Waiting for a chunk
 * answers interrupts; giving the thread back (at the end of a stream, an
 * ERROR's cleanup included) waits for its chunk without them, which takes
 * at most one chunk's parse, so that nothing the thread reads is freed
 * under it.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/guc.h"

#include "csv_export_fdw.h"
#include "parse_thread_backend.h"

/* how often a wait for the thread looks for interrupts */
#define PARSE_WAIT_SLICE_MS 100

static bool parse_thread_enabled = true;
static ParseThread *backend_thread = NULL;
static bool backend_thread_lent = false;

void
parse_thread_define_guc(void)
{
	DefineCustomBoolVariable("csv_export_fdw.parse_thread",
							 "Parses CSV on a thread of its own while rows are converted.",
							 "Off parses in the backend between rows, as a check or "
							 "where threads are unwelcome.",
							 &parse_thread_enabled,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
}

static void
stop_backend_thread(int code, Datum arg)
{
	if (backend_thread != NULL)
		parse_thread_destroy(backend_thread);
	backend_thread = NULL;
}

/*
 * The backend's thread for one stream, or NULL (the stream then parses in
 * the backend): csv_export_fdw.parse_thread is off, the thread is lent to
 * another stream, or none could be started.
 */
ParseThread *
parse_thread_borrow(void)
{
	int			error;

	if (!parse_thread_enabled || backend_thread_lent)
		return NULL;
	if (backend_thread == NULL)
	{
		backend_thread = parse_thread_create(&error);
		if (backend_thread == NULL)
		{
			ereport(DEBUG1,
					(errmsg_internal("csv_export_fdw: no parsing thread (%s), parsing in the backend",
									 strerror(error))));
			return NULL;
		}
		on_proc_exit(stop_backend_thread, (Datum) 0);
	}
	backend_thread_lent = true;
	return backend_thread;
}

/* Wait for the chunk handed out, answering interrupts meanwhile. */
CsvReaderStatus
parse_thread_finish(ParseThread *thread)
{
	CsvReaderStatus status;

	while (!parse_thread_wait(thread, PARSE_WAIT_SLICE_MS, &status))
		CHECK_FOR_INTERRUPTS();
	return status;
}

/* Let the chunk in hand finish, without interrupts: its memory may go next. */
void
parse_thread_settle(ParseThread *thread)
{
	CsvReaderStatus status;

	(void) parse_thread_wait(thread, -1, &status);
}

/* The stream is done with the thread; it waits for the next one. */
void
parse_thread_give_back(ParseThread *thread)
{
	Assert(thread == backend_thread);
	parse_thread_settle(thread);
	backend_thread_lent = false;
}
