/*
 * parse_worker.c
 *		Parsing CSV on a thread of its own, while the backend uses the
 *		records parsed before.
 *
 * libcsv's byte-at-a-time parse is most of what a scan costs, and it does
 * not need the backend: so while the backend converts the records of one
 * chunk and hands them to the executor, a second thread parses the next
 * chunk.  On a machine with two cores that hides most of the parse.
 *
 * The thread runs no PostgreSQL code.  All it calls is csv_reader_parse(),
 * which allocates with malloc and reports errors as codes (csv_reader.c is
 * built without PostgreSQL).  It is created with every signal blocked, so
 * PostgreSQL's signal handlers only ever run on the backend's thread.  The backend hands it one chunk at a time and, until
 * parse_worker_wait() says the chunk is done, touches neither the chunk nor
 * the reader except through csv_reader_next() (see csv_reader.h).
 *
 * The thread is stopped and joined by a reset callback of the memory
 * context it was started in, so neither an ERROR nor the end of a scan
 * leaves it running.  Whoever frees a reader or a chunk the thread may be
 * parsing calls parse_worker_wait() first.
 */
#include "postgres.h"

#include <pthread.h>
#include <signal.h>

#include "utils/guc.h"
#include "utils/memutils.h"

#include "csv_export_fdw.h"

struct ParseWorker
{
	pthread_t	thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;

	/* guarded by lock */
	bool		has_chunk;		/* set by the backend, cleared by the thread */
	bool		stopping;
	CsvReaderStatus status;		/* of the last chunk */

	/* the chunk; set while the thread is idle */
	CsvReader  *reader;
	const char *data;
	size_t		len;

	/* the backend's own: whether a chunk is out and not waited for */
	bool		chunk_out;

	MemoryContextCallback stop_callback;
};

static bool parse_thread = true;

void
parse_worker_define_guc(void)
{
	DefineCustomBoolVariable("csv_export_fdw.parse_thread",
							 "Parses CSV on a thread of its own while rows are converted.",
							 "Off parses in the backend between rows, as a check or "
							 "where threads are unwelcome.",
							 &parse_thread,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
}

static void *
parse_chunks(void *arg)
{
	ParseWorker *worker = arg;

	pthread_mutex_lock(&worker->lock);
	for (;;)
	{
		CsvReaderStatus status;

		while (!worker->has_chunk && !worker->stopping)
			pthread_cond_wait(&worker->changed, &worker->lock);
		if (worker->stopping)
			break;
		pthread_mutex_unlock(&worker->lock);

		status = csv_reader_parse(worker->reader, worker->data, worker->len);

		pthread_mutex_lock(&worker->lock);
		worker->status = status;
		worker->has_chunk = false;
		pthread_cond_broadcast(&worker->changed);
	}
	pthread_mutex_unlock(&worker->lock);
	return NULL;
}

/* Reset callback: let the chunk in hand finish, then end the thread. */
static void
stop_worker(void *arg)
{
	ParseWorker *worker = arg;

	pthread_mutex_lock(&worker->lock);
	worker->stopping = true;
	pthread_cond_broadcast(&worker->changed);
	pthread_mutex_unlock(&worker->lock);
	pthread_join(worker->thread, NULL);
	pthread_cond_destroy(&worker->changed);
	pthread_mutex_destroy(&worker->lock);
}

/*
 * A parsing thread that lives as long as CurrentMemoryContext, or NULL if
 * csv_export_fdw.parse_thread is off or no thread could be started: the
 * caller then parses in the backend.
 */
ParseWorker *
parse_worker_start(void)
{
	ParseWorker *worker;
	sigset_t	all_signals;
	sigset_t	old_mask;
	int			rc;

	if (!parse_thread)
		return NULL;
	worker = palloc0(sizeof(ParseWorker));
	if (pthread_mutex_init(&worker->lock, NULL) != 0)
		return NULL;
	if (pthread_cond_init(&worker->changed, NULL) != 0)
	{
		pthread_mutex_destroy(&worker->lock);
		return NULL;
	}

	/* the thread inherits the mask: it must never take a backend's signal */
	sigfillset(&all_signals);
	pthread_sigmask(SIG_SETMASK, &all_signals, &old_mask);
	rc = pthread_create(&worker->thread, NULL, parse_chunks, worker);
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	if (rc != 0)
	{
		ereport(DEBUG1,
				(errmsg_internal("csv_export_fdw: no parsing thread (%s), parsing in the backend",
								 strerror(rc))));
		pthread_cond_destroy(&worker->changed);
		pthread_mutex_destroy(&worker->lock);
		return NULL;
	}
	worker->stop_callback.func = stop_worker;
	worker->stop_callback.arg = worker;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &worker->stop_callback);
	return worker;
}

/*
 * Have the thread parse len bytes at data with reader.  Both must stay as
 * they are until parse_worker_wait().
 */
void
parse_worker_begin(ParseWorker *worker, CsvReader *reader, const char *data, size_t len)
{
	Assert(!worker->chunk_out);
	pthread_mutex_lock(&worker->lock);
	worker->reader = reader;
	worker->data = data;
	worker->len = len;
	worker->has_chunk = true;
	pthread_cond_broadcast(&worker->changed);
	pthread_mutex_unlock(&worker->lock);
	worker->chunk_out = true;
}

/*
 * Wait until the chunk handed out is parsed, and return how that went;
 * CSV_READER_OK at once if none is out.  The wait is for at most one
 * chunk's parse (milliseconds), so it does not look for interrupts.
 */
CsvReaderStatus
parse_worker_wait(ParseWorker *worker)
{
	CsvReaderStatus status;

	if (!worker->chunk_out)
		return CSV_READER_OK;
	pthread_mutex_lock(&worker->lock);
	while (worker->has_chunk)
		pthread_cond_wait(&worker->changed, &worker->lock);
	status = worker->status;
	pthread_mutex_unlock(&worker->lock);
	worker->chunk_out = false;
	return status;
}

/* Whether a chunk was handed out and not yet waited for. */
bool
parse_worker_busy(const ParseWorker *worker)
{
	return worker->chunk_out;
}
