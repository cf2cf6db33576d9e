/*
 * parse_thread.c
 *		A thread that parses CSV chunks while its caller uses the records
 *		parsed before.
 *
 * libcsv's byte-at-a-time parse is most of what a scan costs, and it does
 * not need the backend: so while the backend converts the records of one
 * chunk and hands them to the executor, this thread parses the next chunk.
 * On a machine with two cores that hides most of the parse.
 *
 * Nothing here is PostgreSQL's (a test checks the object's undefined
 * symbols): the thread calls only csv_reader_parse() and
 * csv_reader_parse_end(), which allocate with malloc and report errors as
 * codes.  It is created with every signal blocked, so PostgreSQL's signal
 * handlers only ever run on the backend's thread.  Until a wait says the
 * chunk is done, the caller touches neither the chunk nor the reader except
 * through csv_reader_next().
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "parse_thread.h"

struct ParseThread
{
	pthread_t	thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;		/* on CLOCK_MONOTONIC, for timed waits */

	/* guarded by lock */
	bool		has_chunk;		/* set by the caller, cleared by the thread */
	bool		stopping;
	CsvReaderStatus status;		/* of the last chunk */

	/* the chunk; set while the thread is idle */
	CsvReader  *reader;
	const char *data;			/* NULL: the end of the data */
	size_t		len;

	/* the caller's own: whether a chunk is out and not waited for */
	bool		chunk_out;
};

static void *
parse_chunks(void *arg)
{
	ParseThread *thread = arg;

	pthread_mutex_lock(&thread->lock);
	for (;;)
	{
		CsvReaderStatus status;

		while (!thread->has_chunk && !thread->stopping)
			pthread_cond_wait(&thread->changed, &thread->lock);
		if (thread->stopping)
			break;
		pthread_mutex_unlock(&thread->lock);

		status = thread->data ? csv_reader_parse(thread->reader, thread->data, thread->len)
			: csv_reader_parse_end(thread->reader);

		pthread_mutex_lock(&thread->lock);
		thread->status = status;
		thread->has_chunk = false;
		pthread_cond_broadcast(&thread->changed);
	}
	pthread_mutex_unlock(&thread->lock);
	return NULL;
}

static int
init_sync(ParseThread *thread)
{
	pthread_condattr_t attr;
	int			rc;

	if ((rc = pthread_mutex_init(&thread->lock, NULL)) != 0)
		return rc;
	if ((rc = pthread_condattr_init(&attr)) == 0)
	{
		rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		if (rc == 0)
			rc = pthread_cond_init(&thread->changed, &attr);
		pthread_condattr_destroy(&attr);
	}
	if (rc != 0)
		pthread_mutex_destroy(&thread->lock);
	return rc;
}

ParseThread *
parse_thread_create(int *error)
{
	ParseThread *thread = calloc(1, sizeof(ParseThread));
	sigset_t	all_signals;
	sigset_t	old_mask;

	if (thread == NULL)
	{
		*error = ENOMEM;
		return NULL;
	}
	if ((*error = init_sync(thread)) != 0)
	{
		free(thread);
		return NULL;
	}
	/* the thread inherits the mask: it must never take the caller's signals */
	sigfillset(&all_signals);
	pthread_sigmask(SIG_SETMASK, &all_signals, &old_mask);
	*error = pthread_create(&thread->thread, NULL, parse_chunks, thread);
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	if (*error != 0)
	{
		pthread_cond_destroy(&thread->changed);
		pthread_mutex_destroy(&thread->lock);
		free(thread);
		return NULL;
	}
	return thread;
}

/* Let the chunk in hand finish, then end the thread. */
void
parse_thread_destroy(ParseThread *thread)
{
	pthread_mutex_lock(&thread->lock);
	thread->stopping = true;
	pthread_cond_broadcast(&thread->changed);
	pthread_mutex_unlock(&thread->lock);
	pthread_join(thread->thread, NULL);
	pthread_cond_destroy(&thread->changed);
	pthread_mutex_destroy(&thread->lock);
	free(thread);
}

void
parse_thread_begin(ParseThread *thread, CsvReader *reader, const char *data, size_t len)
{
	pthread_mutex_lock(&thread->lock);
	thread->reader = reader;
	thread->data = data;
	thread->len = len;
	thread->has_chunk = true;
	pthread_cond_broadcast(&thread->changed);
	pthread_mutex_unlock(&thread->lock);
	thread->chunk_out = true;
}

/* now plus ms, on the clock the condition variable waits on */
static struct timespec
deadline_after(int ms)
{
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (long) (ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L)
	{
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	return deadline;
}

bool
parse_thread_wait(ParseThread *thread, int timeout_ms, CsvReaderStatus *status)
{
	struct timespec deadline = {0, 0};
	bool		done;

	*status = CSV_READER_OK;
	if (!thread->chunk_out)
		return true;
	if (timeout_ms >= 0)
		deadline = deadline_after(timeout_ms);
	pthread_mutex_lock(&thread->lock);
	while (thread->has_chunk)
	{
		if (timeout_ms < 0)
			pthread_cond_wait(&thread->changed, &thread->lock);
		else if (pthread_cond_timedwait(&thread->changed, &thread->lock, &deadline) == ETIMEDOUT)
			break;
	}
	done = !thread->has_chunk;
	if (done)
		*status = thread->status;
	pthread_mutex_unlock(&thread->lock);
	if (done)
		thread->chunk_out = false;
	return done;
}

bool
parse_thread_busy(const ParseThread *thread)
{
	return thread->chunk_out;
}
