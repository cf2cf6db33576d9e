/*
 * csv_reader_thread_test.c
 *		The scan's parsing thread (src/parse_thread.c) and the CSV reader's
 *		two-thread contract (csv_reader.h), under ThreadSanitizer: the
 *		thread parses a chunk while this one reads the records published
 *		before, as a scan does.  The records must be the same as read on one
 *		thread; one thread parses several streams in turn, as a backend's
 *		does for every scan; waits with a timeout give up and come back.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/csv_reader.h"
#include "../src/parse_thread.h"

#define CHUNK 4096

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

/*
 * Every chunk parsed on the parsing thread while the one before is read;
 * the waits poll with a short timeout, as the backend's do to answer
 * interrupts.
 */
static unsigned long long
read_on_two_threads(ParseThread *thread, const char *input, size_t len, int *timeouts)
{
	CsvReader  *reader = csv_reader_create(',', '"', false);
	unsigned long long digest = 0xcbf29ce484222325ULL;
	size_t		pos = 0;
	int			done = 0;

	while (!done)
	{
		size_t		n = len - pos < CHUNK ? len - pos : CHUNK;
		CsvReaderStatus status;

		parse_thread_begin(thread, reader, pos == len ? NULL : input + pos, n);
		digest = digest_records(reader, digest);
		while (!parse_thread_wait(thread, 0, &status))
			(*timeouts)++;
		if (status != CSV_READER_OK || csv_reader_publish(reader) != CSV_READER_OK)
			abort();
		done = (pos == len);
		pos += n;
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
	{
		int			error;
		int			timeouts = 0;
		ParseThread *thread = parse_thread_create(&error);
		unsigned long long expected = read_on_one_thread(input, len);

		if (thread == NULL)
			abort();
		ok = 1;
		/* one thread, three streams in turn */
		for (i = 0; i < 3; i++)
			ok &= read_on_two_threads(thread, input, len, &timeouts) == expected;
		parse_thread_destroy(thread);
		printf("csv_reader %-45s %s\n", "parsed on the parsing thread, three streams",
			   ok ? "ok" : "FAILED");
		printf("%d passed, %d failed\n", ok, !ok);
	}
	free(input);
	return ok ? 0 : 1;
}
