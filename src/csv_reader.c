/*
 * csv_reader.c
 *		Incremental RFC 4180 record reader on top of libcsv.
 *
 * Bytes arrive in arbitrary chunks; libcsv calls us back once per field and
 * once per record end, possibly many times within one chunk.  We collect the
 * complete records of a chunk in a batch that the caller drains with
 * csv_reader_next() before feeding the next chunk.  A record that straddles
 * two chunks stays at the tail of the batch and is carried forward, so
 * chunk boundaries never change what a record contains.
 *
 * Only the fields the caller asked for are copied; the rest are counted, so
 * that a count(*) touches no field bytes beyond what libcsv itself does.
 *
 * No PostgreSQL here: this file is built on its own for fuzzing.
 */
#include "csv_reader.h"

#include <csv.h>
#include <stdlib.h>
#include <string.h>

#ifdef __GNUC__
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

/* Smallest growth step for libcsv's field buffer; see grow_parser_buffer(). */
#define MIN_PARSER_BLOCK	(64 * 1024)

typedef struct BatchRecord
{
	uint64_t	line;
	uint64_t	terminators_before; /* line ends libcsv reported before it */
	bool		too_long;
	size_t		bytes;			/* field bytes so far */
	int			nfields;
	int			nkept;
	size_t		first_field;	/* index into fields[] */
	size_t		first_byte;		/* offset into bytes[] */
} BatchRecord;

/* Where skip_long_record() is in the record it skips. */
typedef enum SkipState
{
	SKIP_NONE,
	SKIP_FIELD_START,
	SKIP_UNQUOTED,
	SKIP_QUOTED,
	SKIP_AFTER_QUOTE
} SkipState;

struct CsvReader
{
	struct csv_parser parser;

	/* which field numbers to copy out */
	bool		keep_all;
	bool	   *keep;
	int			nkeep;

	/* kept field values of the batch, NUL-terminated, back to back */
	char	   *bytes;
	size_t		bytes_len;
	size_t		bytes_cap;

	/* kept fields of the batch; offsets[i] locates fields[i].value */
	CsvField   *fields;
	size_t	   *offsets;
	size_t		nfields;
	size_t		fields_cap;

	/* complete records of the batch, and how many were handed out */
	BatchRecord *records;
	size_t		nrecords;
	size_t		records_cap;
	size_t		next_record;

	/* the record being assembled; may continue into the next chunk */
	BatchRecord current;

	/* physical line accounting (see account_quoted_newlines()) */
	uint64_t	line;
	bool		after_cr;
	uint64_t	terminators;	/* every line end libcsv reported */
	uint64_t	lf_terminators; /* those that were a '\n' */

	/* UTF-8 byte-order mark at the start of the stream */
	bool		bom_pending;
	int			bom_matched;

	/* longest record, and what to do with a longer one */
	size_t		max_record_bytes;
	bool		skip_long_records;
	SkipState	skip_state;		/* SKIP_NONE unless skipping a long record */
	bool		record_too_long;	/* stop: a record was too long */
	uint64_t	long_record_line;	/* ... starting on this line */
	uint64_t	long_record_terminators_before;

	bool		out_of_memory;
};

/* libcsv's field buffer may not grow past this (see limited_realloc()). */
static size_t field_buffer_limit = SIZE_MAX;
static bool field_buffer_limit_hit = false;

static const unsigned char utf8_bom[3] = {0xEF, 0xBB, 0xBF};

/*
 * libcsv's parser states (libcsv.c, unchanged since 2008): where a field
 * stopped when its buffer could not grow, for skip_long_record().
 */
#define LIBCSV_FIELD_BEGUN				2
#define LIBCSV_FIELD_MIGHT_HAVE_ENDED	3

/*
 * libcsv grows its field buffer through this: refusing to grow past the
 * record limit is what keeps one huge field from taking all memory.  libcsv
 * has no context pointer for it, hence the static limit, set around each
 * csv_parse() call (a backend, and the fuzzer, parse on one thread).
 */
static void *
limited_realloc(void *ptr, size_t size)
{
	if (size > field_buffer_limit)
	{
		field_buffer_limit_hit = true;
		return NULL;
	}
	return realloc(ptr, size);
}

/*
 * RFC 4180 says spaces are part of a field; libcsv trims them unless a
 * space function says no character is a space.
 */
static int
no_space_chars(unsigned char c)
{
	(void) c;
	return 0;
}

static bool
ensure_capacity(void **array, size_t *cap, size_t needed, size_t elem_size)
{
	size_t		new_cap;
	void	   *grown;

	if (needed <= *cap)
		return true;
	new_cap = *cap ? *cap : 64;
	while (new_cap < needed)
		new_cap *= 2;
	grown = realloc(*array, new_cap * elem_size);
	if (grown == NULL)
		return false;
	*array = grown;
	*cap = new_cap;
	return true;
}

static bool
ensure_field_slots(CsvReader *reader, size_t needed)
{
	size_t		cap = reader->fields_cap;

	if (!ensure_capacity((void **) &reader->fields, &cap, needed, sizeof(CsvField)))
		return false;
	cap = reader->fields_cap;
	if (!ensure_capacity((void **) &reader->offsets, &cap, needed, sizeof(size_t)))
		return false;
	reader->fields_cap = cap;
	return true;
}

static bool
keeps_field(const CsvReader *reader, int number)
{
	return reader->keep_all ||
		(number < reader->nkeep && reader->keep[number]);
}

static uint64_t
count_newlines(const char *data, size_t len)
{
	const char *end = data + len;
	const char *nl = data;
	uint64_t	count = 0;

	while ((nl = memchr(nl, '\n', end - nl)) != NULL)
	{
		count++;
		nl++;
	}
	return count;
}

/*
 * Copy a field into the batch.  Kept out of line: on_field() runs for every
 * field, kept or not, and stays a leaf function without it.
 */
static NOINLINE void
keep_field(CsvReader *reader, int number, const void *value, size_t len)
{
	CsvField   *field;

	if (!ensure_field_slots(reader, reader->nfields + 1) ||
		(value != NULL &&
		 !ensure_capacity((void **) &reader->bytes, &reader->bytes_cap,
						  reader->bytes_len + len + 1, 1)))
	{
		reader->out_of_memory = true;
		return;
	}

	field = &reader->fields[reader->nfields];
	field->number = number;
	field->is_null = (value == NULL);
	field->len = len;
	field->value = NULL;		/* resolved in csv_reader_next() */
	reader->offsets[reader->nfields] = reader->bytes_len;
	if (value != NULL)
	{
		memcpy(reader->bytes + reader->bytes_len, value, len);
		reader->bytes[reader->bytes_len + len] = '\0';
		reader->bytes_len += len + 1;
	}
	reader->nfields++;
	reader->current.nkept++;
}

static void
on_field(void *value, size_t len, void *arg)
{
	CsvReader  *reader = arg;
	int			number = reader->current.nfields++;

	reader->after_cr = false;
	reader->current.bytes += len;
	if (reader->current.bytes > reader->max_record_bytes)
		reader->current.too_long = true;
	if (reader->out_of_memory || reader->current.too_long ||
		reader->record_too_long || !keeps_field(reader, number))
		return;
	keep_field(reader, number, value, len);
}

static void
start_record(CsvReader *reader)
{
	reader->current.line = reader->line;
	reader->current.terminators_before = reader->terminators;
	reader->current.too_long = false;
	reader->current.bytes = 0;
	reader->current.nfields = 0;
	reader->current.nkept = 0;
	reader->current.first_field = reader->nfields;
	reader->current.first_byte = reader->bytes_len;
}

static void
push_record(CsvReader *reader)
{
	if (ensure_capacity((void **) &reader->records, &reader->records_cap,
						reader->nrecords + 1, sizeof(BatchRecord)))
		reader->records[reader->nrecords++] = reader->current;
	else
		reader->out_of_memory = true;
}

/*
 * A record went over max_record_bytes: drop what was kept of it, and either
 * hand it out as a too_long marker (skip) or stop.
 */
static void
end_long_record(CsvReader *reader)
{
	reader->nfields = reader->current.first_field;
	reader->bytes_len = reader->current.first_byte;
	if (!reader->skip_long_records)
	{
		reader->record_too_long = true;
		reader->long_record_line = reader->current.line;
		reader->long_record_terminators_before = reader->current.terminators_before;
		return;
	}
	reader->current.nfields = 0;
	reader->current.nkept = 0;
	push_record(reader);
}

/*
 * End of a record, or (with CSV_REPALL_NL) of an empty line.  libcsv ends a
 * record at CR and then reports the LF of a CRLF as an empty line: that LF
 * is not a line of its own.
 */
static void
on_record(int terminator, void *arg)
{
	CsvReader  *reader = arg;
	bool		lf_of_crlf;

	lf_of_crlf = (terminator == '\n' && reader->after_cr &&
				  reader->current.nfields == 0);

	/* after a record too long to go on, nothing more is handed out */
	if (reader->record_too_long)
		;
	else if (reader->current.too_long)
		end_long_record(reader);
	else if (reader->current.nfields > 0 && !reader->out_of_memory)
		push_record(reader);

	reader->after_cr = (terminator == '\r');
	if ((terminator == '\n' || terminator == '\r') && !lf_of_crlf)
		reader->line++;
	reader->terminators++;
	if (terminator == '\n')
		reader->lf_terminators++;
	start_record(reader);
}

static void
set_up_parser(CsvReader *reader, char delimiter, char quote)
{
	csv_init(&reader->parser, CSV_STRICT | CSV_STRICT_FINI |
			 CSV_EMPTY_IS_NULL | CSV_REPALL_NL);
	csv_set_delim(&reader->parser, (unsigned char) delimiter);
	csv_set_quote(&reader->parser, (unsigned char) quote);
	csv_set_space_func(&reader->parser, no_space_chars);
	csv_set_realloc_func(&reader->parser, limited_realloc);
}

CsvReader *
csv_reader_create(char delimiter, char quote, bool strip_utf8_bom)
{
	CsvReader  *reader = calloc(1, sizeof(CsvReader));

	if (reader == NULL)
		return NULL;
	set_up_parser(reader, delimiter, quote);
	reader->max_record_bytes = SIZE_MAX;
	reader->keep_all = true;
	reader->line = 1;
	reader->bom_pending = strip_utf8_bom;
	start_record(reader);
	return reader;
}

void
csv_reader_destroy(CsvReader *reader)
{
	if (reader == NULL)
		return;
	csv_free(&reader->parser);
	free(reader->keep);
	free(reader->bytes);
	free(reader->fields);
	free(reader->offsets);
	free(reader->records);
	free(reader);
}

/*
 * From now on copy only the fields whose keep[] entry is true; fields past
 * nkeep are dropped.  Records already in the batch keep what they have, so
 * consumers must look at CsvField.number rather than the array position.
 */
bool
csv_reader_keep_fields(CsvReader *reader, const bool *keep, int nkeep)
{
	bool	   *copy = NULL;

	if (nkeep > 0)
	{
		copy = malloc(nkeep * sizeof(bool));
		if (copy == NULL)
			return false;
		memcpy(copy, keep, nkeep * sizeof(bool));
	}
	free(reader->keep);
	reader->keep = copy;
	reader->nkeep = nkeep;
	reader->keep_all = false;
	return true;
}

/* Move elements [from, end) of array to its start. */
static void
move_to_front(void *array, size_t from, size_t end, size_t elem_size)
{
	if (from > 0 && end > from)
		memmove(array, (char *) array + from * elem_size, (end - from) * elem_size);
}

/*
 * No record may hold more than max_bytes of field data, nor make the reader
 * allocate more than that for it.  A longer one stops the reader
 * (CSV_READER_RECORD_TOO_LONG), or with skip_longer is handed out as a
 * record with too_long set and no fields, and reading goes on after it.
 */
void
csv_reader_limit_record(CsvReader *reader, size_t max_bytes, bool skip_longer)
{
	reader->max_record_bytes = max_bytes;
	reader->skip_long_records = skip_longer;
}

/*
 * Drop what the caller has consumed: everything before the first record not
 * yet handed out, or before the partial record if all were.
 */
static void
compact_batch(CsvReader *reader)
{
	size_t		first_field;
	size_t		first_byte;
	size_t		remaining_records = reader->nrecords - reader->next_record;
	size_t		i;

	if (remaining_records > 0)
	{
		first_field = reader->records[reader->next_record].first_field;
		first_byte = reader->records[reader->next_record].first_byte;
	}
	else
	{
		first_field = reader->current.first_field;
		first_byte = reader->current.first_byte;
	}
	if (first_field == 0 && first_byte == 0 && reader->next_record == 0)
		return;

	move_to_front(reader->fields, first_field, reader->nfields, sizeof(CsvField));
	move_to_front(reader->offsets, first_field, reader->nfields, sizeof(size_t));
	for (i = 0; i < reader->nfields - first_field; i++)
		reader->offsets[i] -= first_byte;
	reader->nfields -= first_field;

	move_to_front(reader->bytes, first_byte, reader->bytes_len, 1);
	reader->bytes_len -= first_byte;

	move_to_front(reader->records, reader->next_record, reader->nrecords,
				  sizeof(BatchRecord));
	for (i = 0; i < remaining_records; i++)
	{
		reader->records[i].first_field -= first_field;
		reader->records[i].first_byte -= first_byte;
	}
	reader->nrecords = remaining_records;
	reader->next_record = 0;

	reader->current.first_field -= first_field;
	reader->current.first_byte -= first_byte;
}

/*
 * libcsv grows its field buffer by a fixed block, which is quadratic for a
 * long field.  Making the block as large as the buffer before each chunk
 * turns that into doubling across chunks.
 */
static void
grow_parser_buffer(CsvReader *reader)
{
	size_t		block = csv_get_buffer_size(&reader->parser);

	csv_set_blk_size(&reader->parser, block > MIN_PARSER_BLOCK ? block : MIN_PARSER_BLOCK);
}

/*
 * Skip the rest of a record whose one field outgrew the limit, from where
 * libcsv stopped, following quotes as libcsv would; then restart libcsv
 * after it.  Returns how many bytes of data it consumed; the skip may go on
 * into the next chunk.
 */
static size_t
skip_long_record(CsvReader *reader, const char *data, size_t len)
{
	unsigned char delim = reader->parser.delim_char;
	unsigned char quote = reader->parser.quote_char;
	size_t		pos = 0;

	while (pos < len)
	{
		unsigned char c = (unsigned char) data[pos++];
		bool		newline = (c == '\n' || c == '\r');

		if (c == '\n')
			reader->line++;
		switch (reader->skip_state)
		{
			case SKIP_QUOTED:
				if (c == quote)
					reader->skip_state = SKIP_AFTER_QUOTE;
				continue;
			case SKIP_AFTER_QUOTE:
				if (c == quote)
				{
					reader->skip_state = SKIP_QUOTED;	/* an escaped quote */
					continue;
				}
				break;
			case SKIP_FIELD_START:
				if (c == quote)
				{
					reader->skip_state = SKIP_QUOTED;
					continue;
				}
				break;
			case SKIP_UNQUOTED:
			case SKIP_NONE:
				break;
		}
		if (newline)
		{
			/* the record ends: restart libcsv on a clean state */
			reader->skip_state = SKIP_NONE;
			csv_free(&reader->parser);
			set_up_parser(reader, (char) delim, (char) quote);
			end_long_record(reader);
			reader->after_cr = (c == '\r');
			start_record(reader);
			return pos;
		}
		reader->skip_state = (c == delim) ? SKIP_FIELD_START : SKIP_UNQUOTED;
	}
	return pos;
}

/* Where in its field libcsv stopped, as a SkipState. */
static SkipState
skip_state_of_parser(const struct csv_parser *parser)
{
	if (parser->pstate == LIBCSV_FIELD_MIGHT_HAVE_ENDED)
		return SKIP_AFTER_QUOTE;
	if (parser->pstate == LIBCSV_FIELD_BEGUN && parser->quoted)
		return SKIP_QUOTED;
	return SKIP_UNQUOTED;
}

/*
 * Physical line numbers.  libcsv reports every line end outside quotes
 * (CSV_REPALL_NL), and on_record() counts those; a line break inside a
 * quoted field it passes on as data.  Looking for those in every field
 * would cost a memchr() call per field, so instead the line breaks of each
 * chunk libcsv has read are counted in one pass: if there are no more than
 * libcsv reported, none was inside quotes.  Otherwise (rare) the chunk is
 * read again following the quotes, and the records that started in it after
 * such a line break are moved down.
 */
typedef struct LineAccountingMark
{
	uint64_t	terminators;
	uint64_t	lf_terminators;
	bool		inside_quotes;
} LineAccountingMark;

static LineAccountingMark
line_accounting_mark(const CsvReader *reader)
{
	LineAccountingMark mark;

	mark.terminators = reader->terminators;
	mark.lf_terminators = reader->lf_terminators;
	mark.inside_quotes = (reader->parser.pstate == LIBCSV_FIELD_BEGUN && reader->parser.quoted);
	return mark;
}

/* The records that started after the nth line end since mark get moved down. */
static void
move_records_down(CsvReader *reader, size_t *next_record, uint64_t terminators_before,
				  uint64_t lines)
{
	while (*next_record < reader->nrecords &&
		   reader->records[*next_record].terminators_before == terminators_before)
		reader->records[(*next_record)++].line += lines;
	if (reader->current.terminators_before == terminators_before)
		reader->current.line += lines;
	if (reader->record_too_long &&
		reader->long_record_terminators_before == terminators_before)
		reader->long_record_line += lines;
}

/*
 * The line breaks inside quoted fields in the len bytes libcsv just read.
 * Accepted CSV opens and closes quoted fields at every quote character (an
 * escaped quote closes and reopens), so their parity tells inside from
 * outside; where libcsv stopped at an error, the bytes read so far were
 * still accepted.
 */
static void
account_quoted_newlines(CsvReader *reader, const LineAccountingMark *mark,
						const char *data, size_t len)
{
	unsigned char quote = reader->parser.quote_char;
	bool		inside = mark->inside_quotes;
	uint64_t	terminators = mark->terminators;
	uint64_t	quoted_newlines = 0;
	size_t		next_record = reader->nrecords;
	size_t		i;

	if (count_newlines(data, len) == reader->lf_terminators - mark->lf_terminators)
		return;

	while (next_record > 0 &&
		   reader->records[next_record - 1].terminators_before > mark->terminators)
		next_record--;
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) data[i];

		if (c == quote)
			inside = !inside;
		else if (inside && c == '\n')
			quoted_newlines++;
		else if (!inside && (c == '\n' || c == '\r'))
			move_records_down(reader, &next_record, ++terminators, quoted_newlines);
	}
	reader->line += quoted_newlines;
}

static CsvReaderStatus
parse_bytes(CsvReader *reader, const char *data, size_t len)
{
	size_t		parsed;
	LineAccountingMark before;

	while (len > 0)
	{
		if (reader->skip_state != SKIP_NONE)
		{
			parsed = skip_long_record(reader, data, len);
			data += parsed;
			len -= parsed;
			continue;
		}

		grow_parser_buffer(reader);
		before = line_accounting_mark(reader);
		field_buffer_limit = reader->max_record_bytes;
		field_buffer_limit_hit = false;
		parsed = csv_parse(&reader->parser, data, len, on_field, on_record, reader);
		field_buffer_limit = SIZE_MAX;
		account_quoted_newlines(reader, &before, data, parsed);

		if (reader->out_of_memory)
			return CSV_READER_OUT_OF_MEMORY;
		if (reader->record_too_long)
			return CSV_READER_RECORD_TOO_LONG;
		if (parsed == len)
			return CSV_READER_OK;
		if (csv_error(&reader->parser) == CSV_EPARSE)
		{
			/* libcsv leaves the state of the offending field in place */
			return reader->parser.quoted ? CSV_READER_TEXT_AFTER_CLOSING_QUOTE
				: CSV_READER_QUOTE_IN_UNQUOTED_FIELD;
		}
		if (!field_buffer_limit_hit)
			return CSV_READER_OUT_OF_MEMORY;
		if (!reader->skip_long_records)
			return CSV_READER_RECORD_TOO_LONG;

		/* one field is longer than a record may be: skip its record */
		reader->current.too_long = true;
		reader->skip_state = skip_state_of_parser(&reader->parser);
		data += parsed;
		len -= parsed;
	}
	return CSV_READER_OK;
}

/*
 * The byte-order mark may arrive split across chunks: hold back a prefix
 * of it until we know whether the stream really starts with one.
 */
static CsvReaderStatus
skip_utf8_bom(CsvReader *reader, const char **data, size_t *len)
{
	while (reader->bom_pending && *len > 0)
	{
		if ((unsigned char) **data != utf8_bom[reader->bom_matched])
		{
			reader->bom_pending = false;
			return parse_bytes(reader, (const char *) utf8_bom, reader->bom_matched);
		}
		(*data)++;
		(*len)--;
		if (++reader->bom_matched == sizeof(utf8_bom))
			reader->bom_pending = false;
	}
	return CSV_READER_OK;
}

/*
 * Parse one chunk.  Records completed by it become available from
 * csv_reader_next(); records not yet handed out are kept.
 */
CsvReaderStatus
csv_reader_feed(CsvReader *reader, const char *data, size_t len)
{
	CsvReaderStatus status;

	compact_batch(reader);
	status = skip_utf8_bom(reader, &data, &len);
	if (status != CSV_READER_OK || len == 0)
		return status;
	return parse_bytes(reader, data, len);
}

/* End of data: completes a last record that has no line terminator. */
CsvReaderStatus
csv_reader_finish(CsvReader *reader)
{
	CsvReaderStatus status;

	compact_batch(reader);
	if (reader->bom_pending)
	{
		/* a stream shorter than a byte-order mark */
		reader->bom_pending = false;
		status = parse_bytes(reader, (const char *) utf8_bom, reader->bom_matched);
		if (status != CSV_READER_OK)
			return status;
	}
	if (reader->skip_state != SKIP_NONE)
	{
		/* the data ended inside the long record being skipped */
		if (reader->skip_state == SKIP_QUOTED)
			return CSV_READER_UNTERMINATED_QUOTE;
		reader->skip_state = SKIP_NONE;
		end_long_record(reader);
		return reader->out_of_memory ? CSV_READER_OUT_OF_MEMORY : CSV_READER_OK;
	}
	if (csv_fini(&reader->parser, on_field, on_record, reader) != 0)
		return CSV_READER_UNTERMINATED_QUOTE;
	if (reader->record_too_long)
		return CSV_READER_RECORD_TOO_LONG;
	return reader->out_of_memory ? CSV_READER_OUT_OF_MEMORY : CSV_READER_OK;
}

/*
 * Hand out the next complete record.  Its field values stay valid until the
 * next csv_reader_feed() or csv_reader_finish().
 */
bool
csv_reader_next(CsvReader *reader, CsvRecord *record)
{
	const BatchRecord *batch_record;
	size_t		i;

	if (reader->next_record >= reader->nrecords)
		return false;
	batch_record = &reader->records[reader->next_record++];

	for (i = batch_record->first_field;
		 i < batch_record->first_field + batch_record->nkept; i++)
		reader->fields[i].value = reader->fields[i].is_null ? ""
			: reader->bytes + reader->offsets[i];

	record->line = batch_record->line;
	record->too_long = batch_record->too_long;
	record->nfields = batch_record->nfields;
	record->nkept = batch_record->nkept;
	/* fields may still be unallocated when no record kept a field */
	record->fields = batch_record->nkept > 0
		? reader->fields + batch_record->first_field : NULL;
	return true;
}

/*
 * The line on which the record being assembled (or the next one) starts, or
 * the record that was too long.
 */
uint64_t
csv_reader_current_line(const CsvReader *reader)
{
	return reader->record_too_long ? reader->long_record_line : reader->current.line;
}

const char *
csv_reader_status_message(CsvReaderStatus status)
{
	switch (status)
	{
		case CSV_READER_OK:
			return "no error";
		case CSV_READER_OUT_OF_MEMORY:
			return "out of memory";
		case CSV_READER_QUOTE_IN_UNQUOTED_FIELD:
			return "quote character in an unquoted field";
		case CSV_READER_TEXT_AFTER_CLOSING_QUOTE:
			return "unexpected character after a closing quote";
		case CSV_READER_UNTERMINATED_QUOTE:
			return "unterminated quoted field at end of data";
		case CSV_READER_RECORD_TOO_LONG:
			return "record longer than max_record_bytes";
	}
	return "unknown error";
}
