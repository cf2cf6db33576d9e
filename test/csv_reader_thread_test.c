/*
 * csv_reader_thread_test.c
 *		The CSV reader's two-thread contract (csv_reader.h), under
 *		ThreadSanitizer: one thread parses a chunk while the other reads the
 *		records published before, as the scan's parsing thread does.  The
 *		records must be the same as read on one thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/csv_reader.h"

#define CHUNK 4096

typedef struct Job
{
	CsvReader  *reader;
	const char *data;			/* NULL: the end */
	size_t		len;
	CsvReaderStatus status;
} Job;

static void *
parse_job(void *arg)
{
	Job		   *job = arg;

	job->status = job->data ? csv_reader_parse(job->reader, job->data, job->len)
		: csv_reader_parse_end(job->reader);
	return NULL;
}

static unsigned long long
digest_records(CsvReader *reader, unsigned long long digest)
{
	CsvRecord	record;
	int			i;

	while (csv_reader_next(reader, &record))
	{
		digest = (digest ^ record.line) * 0x100000001b3ULL;
		for (i = 0; i < record.nkept; i++)
		{
			const char *c;

			for (c = record.fields[i].value; *c; c++)
				digest = (digest ^ (unsigned char) *c) * 0x100000001b3ULL;
			digest = (digest ^ 0xff) * 0x100000001b3ULL;
		}
	}
	return digest;
}

/* Every chunk parsed on a thread of its own while the one before is read. */
static unsigned long long
read_on_two_threads(const char *input, size_t len)
{
	CsvReader  *reader = csv_reader_create(',', '"', false);
	unsigned long long digest = 0xcbf29ce484222325ULL;
	size_t		pos = 0;
	int			done = 0;

	while (!done)
	{
		Job			job = {reader, input + pos, len - pos < CHUNK ? len - pos : CHUNK, 0};
		pthread_t	thread;

		if (pos == len)
			job.data = NULL;
		pthread_create(&thread, NULL, parse_job, &job);
		digest = digest_records(reader, digest);
		pthread_join(thread, NULL);
		if (job.status != CSV_READER_OK || csv_reader_publish(reader) != CSV_READER_OK)
			abort();
		done = (job.data == NULL);
		pos += job.len;
	}
	digest = digest_records(reader, digest);
	csv_reader_destroy(reader);
	return digest;
}

static unsigned long long
read_on_one_thread(const char *input, size_t len)
{
	CsvReader  *reader = csv_reader_create(',', '"', false);
	unsigned long long digest = 0xcbf29ce484222325ULL;

	if (csv_reader_parse(reader, input, len) != CSV_READER_OK ||
		csv_reader_publish(reader) != CSV_READER_OK)
		abort();
	digest = digest_records(reader, digest);
	if (csv_reader_parse_end(reader) != CSV_READER_OK ||
		csv_reader_publish(reader) != CSV_READER_OK)
		abort();
	digest = digest_records(reader, digest);
	csv_reader_destroy(reader);
	return digest;
}

int
main(void)
{
	size_t		cap = 4 << 20;
	char	   *input = malloc(cap);
	size_t		len = 0;
	int			i;
	int			ok;

	for (i = 1; i <= 20000; i++)
		len += snprintf(input + len, cap - len,
						i % 7 ? "usr_%d,\"%d Main St, Springfield\",\"say \"\"hi\"\"\"\n"
						: "usr_%d,\"%d Main St\nApt 4\",\n", i, i);
	ok = read_on_two_threads(input, len) == read_on_one_thread(input, len);
	printf("csv_reader %-45s %s\n", "parsing on one thread, reading on another",
		   ok ? "ok" : "FAILED");
	printf("%d passed, %d failed\n", ok, !ok);
	free(input);
	return ok ? 0 : 1;
}
