/*
 * csv_reader_fuzz.c
 *		libFuzzer target for src/csv_reader.c, outside the server.
 *
 * The first four bytes of an input choose the dialect (delimiter, quote,
 * byte-order mark), the record limit and what happens to longer records,
 * the chunk size the rest is fed in, and which of the first eight fields
 * are kept.  Chunks are parsed the way a parsing thread does it: each one
 * before the records of the one before are read.  Besides crashes and
 * sanitizer reports, it checks what the reader promises about every record
 * it hands out, and that reading the same bytes whole gives the same
 * records.
 *
 *   make fuzz FUZZ_SECONDS=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/csv_reader.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

/* what a reading handed out, to compare readings fed in different chunks */
typedef struct Reading
{
	uint64_t	digest;
	uint64_t	last_line;
	CsvReaderStatus status;
	uint64_t	error_line;
} Reading;

static void
mix(Reading *reading, uint64_t value)
{
	reading->digest = (reading->digest ^ value) * 0x100000001b3ULL;
}

static void
check_records(CsvReader *reader, size_t limit, Reading *reading)
{
	CsvRecord	record;

	while (csv_reader_next(reader, &record))
	{
		size_t		bytes = 0;
		int			previous = -1;
		int			i;

		CHECK(record.line >= reading->last_line);
		reading->last_line = record.line;
		mix(reading, record.line);
		mix(reading, (uint64_t) record.nfields * 2 + record.too_long);
		mix(reading, (uint64_t) record.malformed);
		if (record.too_long || record.malformed != CSV_READER_OK)
		{
			CHECK(record.nfields == 0 && record.nkept == 0);
			continue;
		}
		CHECK(record.nfields > 0 && record.nkept <= record.nfields);
		for (i = 0; i < record.nkept; i++)
		{
			const CsvField *field = &record.fields[i];

			CHECK(field->number > previous && field->number < record.nfields);
			previous = field->number;
			CHECK(field->value[field->len] == '\0');
			CHECK(!field->is_null || field->len == 0);
			bytes += field->len;
		}
		CHECK(bytes + (size_t) record.nfields * CSV_READER_FIELD_OVERHEAD <= limit);
	}
}

/*
 * Read data in chunks of the given size; the first four bytes of the input
 * chose the reader's settings.
 */
static Reading
read_in_chunks(const uint8_t *settings, const uint8_t *data, size_t size, size_t chunk)
{
	static const char delimiters[] = {',', ';', '|', '\t'};
	Reading		reading = {0xcbf29ce484222325ULL, 0, CSV_READER_OK, 0};
	CsvReader  *reader;
	CsvReaderStatus published;
	bool		keep[8];
	size_t		limit;
	int			i;

	reader = csv_reader_create(delimiters[settings[0] & 3], (settings[0] & 4) ? '\'' : '"',
							   (settings[0] & 8) != 0);
	CHECK(reader != NULL);
	limit = settings[1] ? (size_t) settings[1] * 4 : SIZE_MAX;
	if (settings[1])
		csv_reader_limit_record(reader, limit, (settings[0] & 16) != 0);
	csv_reader_skip_malformed(reader, (settings[0] & 32) != 0);
	csv_reader_trim_spaces(reader, (settings[0] & 64) != 0);
	if (settings[3] != 0xff)
	{
		for (i = 0; i < 8; i++)
			keep[i] = (settings[3] >> i) & 1;
		CHECK(csv_reader_keep_fields(reader, keep, 8));
	}

	while (size > 0 && reading.status == CSV_READER_OK)
	{
		size_t		n = size < chunk ? size : chunk;

		/* as with a parsing thread: the records before are read meanwhile */
		reading.status = csv_reader_parse(reader, (const char *) data, n);
		check_records(reader, limit, &reading);
		published = csv_reader_publish(reader);
		if (reading.status == CSV_READER_OK)
			reading.status = published;
		data += n;
		size -= n;
	}
	if (reading.status == CSV_READER_OK)
	{
		reading.status = csv_reader_parse_end(reader);
		check_records(reader, limit, &reading);
		published = csv_reader_publish(reader);
		if (reading.status == CSV_READER_OK)
			reading.status = published;
	}
	check_records(reader, limit, &reading);
	if (reading.status != CSV_READER_OK)
		reading.error_line = csv_reader_current_line(reader);
	csv_reader_destroy(reader);
	return reading;
}

/*
 * Besides the promises checked on every record, the records (their lines
 * and field counts) and how the reading ends must not depend on how the
 * bytes were cut into chunks.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Reading		in_chunks;
	Reading		whole;

	if (size < 4)
		return 0;
	in_chunks = read_in_chunks(data, data + 4, size - 4, 1 + data[2]);
	whole = read_in_chunks(data, data + 4, size - 4, size);
	CHECK(in_chunks.digest == whole.digest);
	CHECK(in_chunks.status == whole.status);
	CHECK(in_chunks.error_line == whole.error_line);
	return 0;
}
