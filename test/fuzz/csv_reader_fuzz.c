/*
 * csv_reader_fuzz.c
 *		libFuzzer target for src/csv_reader.c, outside the server.
 *
 * The first four bytes of an input choose the dialect (delimiter, quote,
 * byte-order mark), the record limit and what happens to longer records,
 * the chunk size the rest is fed in, and which of the first eight fields
 * are kept.  Besides crashes and sanitizer reports, it checks what the
 * reader promises about every record it hands out.
 *
 *   make fuzz FUZZ_SECONDS=60
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/csv_reader.h"

#define CHECK(cond) do { if (!(cond)) abort(); } while (0)

static void
check_records(CsvReader *reader, size_t limit, uint64_t *last_line)
{
	CsvRecord	record;

	while (csv_reader_next(reader, &record))
	{
		size_t		bytes = 0;
		int			previous = -1;
		int			i;

		CHECK(record.line >= *last_line);
		*last_line = record.line;
		if (record.too_long)
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
		CHECK(bytes <= limit);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delimiters[] = {',', ';', '|', '\t'};
	CsvReader  *reader;
	CsvReaderStatus status = CSV_READER_OK;
	bool		keep[8];
	size_t		limit;
	size_t		chunk;
	uint64_t	last_line = 0;
	int			i;

	if (size < 4)
		return 0;
	reader = csv_reader_create(delimiters[data[0] & 3], (data[0] & 4) ? '\'' : '"',
							   (data[0] & 8) != 0);
	if (reader == NULL)
		return 0;
	limit = data[1] ? (size_t) data[1] * 4 : SIZE_MAX;
	if (data[1])
		csv_reader_limit_record(reader, limit, (data[0] & 16) != 0);
	chunk = 1 + data[2];
	if (data[3] != 0xff)
	{
		for (i = 0; i < 8; i++)
			keep[i] = (data[3] >> i) & 1;
		CHECK(csv_reader_keep_fields(reader, keep, 8));
	}
	data += 4;
	size -= 4;

	while (size > 0 && status == CSV_READER_OK)
	{
		size_t		n = size < chunk ? size : chunk;

		status = csv_reader_feed(reader, (const char *) data, n);
		check_records(reader, limit, &last_line);
		data += n;
		size -= n;
	}
	if (status == CSV_READER_OK)
	{
		csv_reader_finish(reader);
		check_records(reader, limit, &last_line);
	}
	csv_reader_destroy(reader);
	return 0;
}
