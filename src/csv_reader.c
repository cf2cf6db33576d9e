/*
 * csv_reader.c
 *		Incremental RFC 4180 record reader on top of libcsv.
 *
 * Bytes arrive in arbitrary chunks; libcsv calls us back once per field and
 * once per record end, possibly many times within one chunk.  We collect the
 * complete records of a chunk in a batch; publishing it hands the batch to
 * csv_reader_next() while the next chunk goes into the other batch.  A
 * record that straddles two chunks is carried over to the next batch, so
 * chunk boundaries never change what a record contains.
 *
 * Only the fields the caller asked for are copied; the rest are counted, so
 * that a count(*) touches no field bytes beyond what libcsv itself does.
 *
 * No PostgreSQL here: this file is built on its own for fuzzing.
 */
#include "csv_reader.h"

#include <csv.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

/* SSE2 is part of x86-64; CSV_READER_NO_SIMD tests the portable code there */
#if defined(__SSE2__) && !defined(CSV_READER_NO_SIMD)
#define CSV_READER_SSE2
#include <emmintrin.h>
#endif

#define CACHE_LINE	64

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
	CsvReaderStatus malformed;	/* CSV_READER_OK, or why it was skipped */
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
	SKIP_AFTER_QUOTE,
	SKIP_TO_LINE_END			/* a malformed record: quotes mean nothing */
} SkipState;

/*
 * Complete records, with the fields kept of them, and how many of them were
 * handed out.  A reader has two: one is read by csv_reader_next() while
 * libcsv fills the other, so that parsing a chunk may run on another thread
 * while the records of the chunk before are used (see csv_reader_publish()).
 */
typedef struct RecordBatch
{
	/* kept field values, NUL-terminated, back to back */
	alignas(CACHE_LINE) char *bytes;
	size_t		bytes_len;
	size_t		bytes_cap;

	/* kept fields; offsets[i] locates fields[i].value */
	CsvField   *fields;
	size_t	   *offsets;
	size_t		nfields;
	size_t		fields_cap;

	BatchRecord *records;
	size_t		nrecords;
	size_t		records_cap;
	size_t		next_record;
} RecordBatch;

/*
 * What the reading side and the parsing side write sits on cache lines of
 * its own (the batches, the parser state): with the two on different
 * threads, sharing a line would bounce it between the cores at every field.
 */
struct CsvReader
{
	RecordBatch batches[2];
	RecordBatch *reading;		/* csv_reader_next() hands out this one */

	alignas(CACHE_LINE) RecordBatch *parsing;	/* libcsv's callbacks add to this one */
	struct csv_parser parser;

	/* which field numbers to copy out */
	bool		keep_all;
	bool	   *keep;
	int			nkeep;

	/* the record being assembled, in *parsing; may continue into the next chunk */
	BatchRecord current;

	/* physical line accounting (see account_quoted_newlines()) */
	uint64_t	line;
	bool		after_cr;
	uint64_t	terminators;	/* every line end libcsv reported */
	uint64_t	lf_terminators; /* those that were a '\n' */

	/* UTF-8 byte-order mark at the start of the stream */
	bool		bom_pending;
	int			bom_matched;

	/* a UTF-16 byte-order mark at the start: 0xFF or 0xFE held back, or -1 */
	bool		utf16_checked;
	int			held_first_byte;

	/* longest record, and what to do with a longer one */
	size_t		max_record_bytes;
	bool		skip_long_records;
	bool		skip_malformed_records;
	bool		trim_spaces;
	SkipState	skip_state;		/* SKIP_NONE unless skipping a long record */
	bool		record_too_long;	/* stop: a record was too long */
	uint64_t	long_record_line;	/* ... starting on this line */
	uint64_t	long_record_terminators_before;

	bool		out_of_memory;
};

/*
 * libcsv's field buffer may not grow past this (see limited_realloc()).
 * Per thread: readers may parse on a thread of their own.
 */
static _Thread_local size_t field_buffer_limit = SIZE_MAX;
static _Thread_local bool field_buffer_limit_hit = false;

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
 * has no context pointer for it, hence the thread-local limit, set around
 * each csv_parse() call.
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

/* with trim_spaces, libcsv's own rule for the space character */
static int
space_char(unsigned char c)
{
	return c == ' ';
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
ensure_field_slots(RecordBatch *batch, size_t needed)
{
	size_t		cap = batch->fields_cap;

	if (!ensure_capacity((void **) &batch->fields, &cap, needed, sizeof(CsvField)))
		return false;
	cap = batch->fields_cap;
	if (!ensure_capacity((void **) &batch->offsets, &cap, needed, sizeof(size_t)))
		return false;
	batch->fields_cap = cap;
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
	RecordBatch *batch = reader->parsing;
	CsvField   *field;

	if (!ensure_field_slots(batch, batch->nfields + 1) ||
		(value != NULL &&
		 !ensure_capacity((void **) &batch->bytes, &batch->bytes_cap,
						  batch->bytes_len + len + 1, 1)))
	{
		reader->out_of_memory = true;
		return;
	}

	field = &batch->fields[batch->nfields];
	field->number = number;
	field->is_null = (value == NULL);
	field->len = len;
	field->value = NULL;		/* resolved in csv_reader_next() */
	batch->offsets[batch->nfields] = batch->bytes_len;
	if (value != NULL)
	{
		memcpy(batch->bytes + batch->bytes_len, value, len);
		batch->bytes[batch->bytes_len + len] = '\0';
		batch->bytes_len += len + 1;
	}
	batch->nfields++;
	reader->current.nkept++;
}

static void
on_field(void *value, size_t len, void *arg)
{
	CsvReader  *reader = arg;
	int			number = reader->current.nfields++;

	reader->after_cr = false;
	reader->current.bytes += len + CSV_READER_FIELD_OVERHEAD;
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
	reader->current.malformed = CSV_READER_OK;
	reader->current.bytes = 0;
	reader->current.nfields = 0;
	reader->current.nkept = 0;
	reader->current.first_field = reader->parsing->nfields;
	reader->current.first_byte = reader->parsing->bytes_len;
}

static void
push_record(CsvReader *reader)
{
	RecordBatch *batch = reader->parsing;

	if (ensure_capacity((void **) &batch->records, &batch->records_cap,
						batch->nrecords + 1, sizeof(BatchRecord)))
		batch->records[batch->nrecords++] = reader->current;
	else
		reader->out_of_memory = true;
}

/*
 * A record went over max_record_bytes, or was malformed and skipped: drop
 * what was kept of it, and either hand it out as a marker without fields
 * (skip) or stop.
 */
static void
end_long_record(CsvReader *reader)
{
	reader->parsing->nfields = reader->current.first_field;
	reader->parsing->bytes_len = reader->current.first_byte;
	if (reader->current.malformed == CSV_READER_OK && !reader->skip_long_records)
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
	csv_set_space_func(&reader->parser, reader->trim_spaces ? space_char : no_space_chars);
	csv_set_realloc_func(&reader->parser, limited_realloc);
}

CsvReader *
csv_reader_create(char delimiter, char quote, bool strip_utf8_bom)
{
	CsvReader  *reader = aligned_alloc(CACHE_LINE, sizeof(CsvReader));

	if (reader == NULL)
		return NULL;
	memset(reader, 0, sizeof(CsvReader));
	set_up_parser(reader, delimiter, quote);
	reader->max_record_bytes = SIZE_MAX;
	reader->keep_all = true;
	reader->parsing = &reader->batches[0];
	reader->reading = &reader->batches[1];
	reader->line = 1;
	reader->bom_pending = strip_utf8_bom;
	reader->held_first_byte = -1;
	start_record(reader);
	return reader;
}

void
csv_reader_destroy(CsvReader *reader)
{
	int			i;

	if (reader == NULL)
		return;
	csv_free(&reader->parser);
	free(reader->keep);
	for (i = 0; i < 2; i++)
	{
		free(reader->batches[i].bytes);
		free(reader->batches[i].fields);
		free(reader->batches[i].offsets);
		free(reader->batches[i].records);
	}
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

/*
 * No record may hold more than max_bytes of field data, counting
 * CSV_READER_FIELD_OVERHEAD for each field, nor make the reader allocate more
 * than that for it.  A longer one stops the reader
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
 * With skip, a malformed record (a quote inside an unquoted field, text
 * after a closing quote) does not stop the reader: it is handed out as a
 * record with malformed set and no fields, and reading starts again on the
 * next line, whatever quotes the rest of the broken line holds (as DuckDB's
 * ignore_errors does).  A quoted field with a line break after the fault
 * can make the next line malformed too, and it is skipped in turn.
 */
void
csv_reader_skip_malformed(CsvReader *reader, bool skip)
{
	reader->skip_malformed_records = skip;
}

/*
 * With trim, spaces before and after an unquoted field's text are no part
 * of it, and spaces may stand between a delimiter and a quoted field
 * (1, "x" reads as 1 and x); a field of spaces alone is empty.  Before the
 * first byte is parsed.
 */
void
csv_reader_trim_spaces(CsvReader *reader, bool trim)
{
	reader->trim_spaces = trim;
	csv_set_space_func(&reader->parser, trim ? space_char : no_space_chars);
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
			case SKIP_TO_LINE_END:
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
		if (reader->skip_state != SKIP_TO_LINE_END)
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
	RecordBatch *batch = reader->parsing;

	while (*next_record < batch->nrecords &&
		   batch->records[*next_record].terminators_before == terminators_before)
		batch->records[(*next_record)++].line += lines;
	if (reader->current.terminators_before == terminators_before)
		reader->current.line += lines;
	if (reader->record_too_long &&
		reader->long_record_terminators_before == terminators_before)
		reader->long_record_line += lines;
}

/* Where the walk over a chunk's quotes and line breaks is. */
typedef struct QuoteWalk
{
	bool		inside;			/* a quoted field */
	uint64_t	terminators;	/* line ends outside quotes so far */
	uint64_t	quoted_newlines;
	size_t		next_record;	/* the first record not moved down yet */
} QuoteWalk;

/* one byte of a chunk that has carriage returns, which end records too */
static inline void
walk_byte(CsvReader *reader, QuoteWalk *walk, unsigned char c, unsigned char quote)
{
	if (c == quote)
		walk->inside = !walk->inside;
	else if (walk->inside)
	{
		if (c == '\n')
			walk->quoted_newlines++;
	}
	else if (c == '\n' || c == '\r')
		move_records_down(reader, &walk->next_record, ++walk->terminators,
						  walk->quoted_newlines);
}

/*
 * Quotes and line feeds of 64 bytes as bit masks, bit i for byte i: with
 * SSE2, 16 bytes a comparison; elsewhere, 8 bytes a word.  The bytes
 * after the last whole block go a byte at a time.
 */
typedef struct QuoteLineMasks
{
	uint64_t	quotes;
	uint64_t	line_feeds;
} QuoteLineMasks;

#define MASK_BLOCK	64

static QuoteLineMasks
quote_line_masks_bytewise(const char *p, size_t len, unsigned char quote)
{
	QuoteLineMasks masks = {0, 0};
	size_t		i;

	for (i = 0; i < len; i++)
	{
		masks.quotes |= (uint64_t) ((unsigned char) p[i] == quote) << i;
		masks.line_feeds |= (uint64_t) (p[i] == '\n') << i;
	}
	return masks;
}

#ifdef CSV_READER_SSE2
/* 16 bytes compared with byte (repeated): bit i for byte i */
static inline uint64_t
sse2_mask16(const char *p, __m128i byte)
{
	__m128i		bytes = _mm_loadu_si128((const __m128i *) p);

	return (uint32_t) _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, byte));
}

static inline uint64_t
sse2_byte_mask(const char *p, __m128i byte)
{
	return sse2_mask16(p, byte) | (sse2_mask16(p + 16, byte) << 16) |
		(sse2_mask16(p + 32, byte) << 32) | (sse2_mask16(p + 48, byte) << 48);
}

static inline QuoteLineMasks
quote_line_masks(const char *p, unsigned char quote)
{
	QuoteLineMasks masks;

	masks.quotes = sse2_byte_mask(p, _mm_set1_epi8((char) quote));
	masks.line_feeds = sse2_byte_mask(p, _mm_set1_epi8('\n'));
	return masks;
}
#else
/*
 * Bit 7 of each byte of word that equals pattern's (the byte repeated),
 * and no other bit: no carry crosses from one byte into the next.
 */
static inline uint64_t
bytes_equal_to(uint64_t word, uint64_t pattern)
{
	const uint64_t low7 = UINT64_C(0x7F7F7F7F7F7F7F7F);
	uint64_t	zero_where_equal = word ^ pattern;

	return ~(((zero_where_equal & low7) + low7) | zero_where_equal | low7);
}

/* eight bytes' bits as in bytes_equal_to, gathered into the lowest 8 bits */
static inline uint64_t
gather_byte_bits(uint64_t bits)
{
	return ((bits >> 7) * UINT64_C(0x0102040810204080)) >> 56;
}

static inline QuoteLineMasks
quote_line_masks(const char *p, unsigned char quote)
{
	const uint64_t quotes = UINT64_C(0x0101010101010101) * quote;
	const uint64_t line_feeds = UINT64_C(0x0101010101010101) * '\n';
	QuoteLineMasks masks = {0, 0};
	int			i;

	for (i = 0; i < MASK_BLOCK; i += 8)
	{
		uint64_t	word;

		memcpy(&word, p + i, sizeof(word));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		word = __builtin_bswap64(word); /* the first byte lowest, as gathered */
#endif
		masks.quotes |= gather_byte_bits(bytes_equal_to(word, quotes)) << i;
		masks.line_feeds |= gather_byte_bits(bytes_equal_to(word, line_feeds)) << i;
	}
	return masks;
}
#endif

/* bit i: whether an odd number of quotes is at or before byte i */
static inline uint64_t
quote_parity(uint64_t quotes)
{
	quotes ^= quotes << 1;
	quotes ^= quotes << 2;
	quotes ^= quotes << 4;
	quotes ^= quotes << 8;
	quotes ^= quotes << 16;
	quotes ^= quotes << 32;
	return quotes;
}

/*
 * One block's line feeds in order: one inside quotes is counted, one
 * outside (a line end libcsv reported) moves down the records after it by
 * the quoted ones before it.
 */
static inline void
walk_block(CsvReader *reader, QuoteWalk *walk, QuoteLineMasks masks, size_t len)
{
	uint64_t	parity = quote_parity(masks.quotes);
	uint64_t	inside = walk->inside ? ~parity : parity;
	uint64_t	line_feeds;

	for (line_feeds = masks.line_feeds; line_feeds != 0; line_feeds &= line_feeds - 1)
	{
		if (inside & line_feeds & -line_feeds)
			walk->quoted_newlines++;
		else
			move_records_down(reader, &walk->next_record, ++walk->terminators,
							  walk->quoted_newlines);
	}
	if ((parity >> (len - 1)) & 1)
		walk->inside = !walk->inside;
}

/*
 * Quotes and line feeds 64 bytes at a time, as bit masks, the quotes
 * taken only through their parity and the line feeds one by one: with a
 * quoted field every few dozen bytes, a memchr() call per quote and per
 * stretch between quotes made this walk about a tenth of a count(*) scan.
 */
static void
walk_quotes_and_line_feeds(CsvReader *reader, QuoteWalk *walk, const char *data, size_t len)
{
	unsigned char quote = reader->parser.quote_char;
	size_t		i;

	for (i = 0; i + MASK_BLOCK <= len; i += MASK_BLOCK)
		walk_block(reader, walk, quote_line_masks(data + i, quote), MASK_BLOCK);
	if (i < len)
		walk_block(reader, walk, quote_line_masks_bytewise(data + i, len - i, quote), len - i);
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
	const RecordBatch *batch = reader->parsing;
	QuoteWalk	walk;
	size_t		i;

	if (count_newlines(data, len) == reader->lf_terminators - mark->lf_terminators)
		return;

	walk.inside = mark->inside_quotes;
	walk.terminators = mark->terminators;
	walk.quoted_newlines = 0;
	walk.next_record = batch->nrecords;
	while (walk.next_record > 0 &&
		   batch->records[walk.next_record - 1].terminators_before > mark->terminators)
		walk.next_record--;
	if (memchr(data, '\r', len) != NULL)
	{
		/* a CR ends a record too: byte by byte */
		for (i = 0; i < len; i++)
			walk_byte(reader, &walk, (unsigned char) data[i], reader->parser.quote_char);
	}
	else
		walk_quotes_and_line_feeds(reader, &walk, data, len);
	reader->line += walk.quoted_newlines;
}

/*
 * Whether the unquoted field a quote error stopped in holds only spaces:
 * a space between the delimiter and an opening quote (1, "x"), which
 * hand-made exports have and RFC 4180 does not allow.
 */
static bool
only_spaces_so_far(const struct csv_parser *parser)
{
	size_t		i;

	if (parser->entry_pos == 0)
		return false;
	for (i = 0; i < parser->entry_pos; i++)
		if (parser->entry_buf[i] != ' ')
			return false;
	return true;
}

/* what libcsv's parse error was; it leaves the offending field's state */
static CsvReaderStatus
parse_error_status(const struct csv_parser *parser)
{
	if (parser->quoted)
		return CSV_READER_TEXT_AFTER_CLOSING_QUOTE;
	return only_spaces_so_far(parser) ? CSV_READER_SPACE_BEFORE_QUOTE
		: CSV_READER_QUOTE_IN_UNQUOTED_FIELD;
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
			CsvReaderStatus status = parse_error_status(&reader->parser);

			if (!reader->skip_malformed_records)
				return status;
			reader->current.malformed = status;
			reader->skip_state = SKIP_TO_LINE_END;
			data += parsed;
			len -= parsed;
			continue;
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
 * Parse one chunk.  The records it completes are kept back until
 * csv_reader_publish(): until then csv_reader_next() goes on handing out
 * the records published before, and the two may run on different threads.
 */
/*
 * UTF-16 is no encoding PostgreSQL has, and read as bytes it fails with
 * a puzzling quote error, or gives fields full of NUL bytes: a stream that
 * starts with a UTF-16 byte-order mark (FF FE or FE FF, never valid UTF-8)
 * is refused as such.  A first byte that could start one is held back
 * until the second arrives.  Returns how many bytes of data it took.
 */
static CsvReaderStatus release_held_byte(CsvReader *reader);

static size_t
check_utf16_bom(CsvReader *reader, const char *data, size_t len, CsvReaderStatus *status)
{
	unsigned char first;
	unsigned char second;

	size_t		taken = 0;

	*status = CSV_READER_OK;
	if (reader->utf16_checked || len == 0)
		return 0;
	if (reader->held_first_byte < 0)
	{
		first = (unsigned char) data[0];
		if (first != 0xFF && first != 0xFE)
		{
			reader->utf16_checked = true;
			return 0;
		}
		reader->held_first_byte = first;
		taken = 1;
		if (len == 1)
			return taken;
	}
	first = (unsigned char) reader->held_first_byte;
	second = (unsigned char) data[taken];
	if ((first == 0xFF && second == 0xFE) || (first == 0xFE && second == 0xFF))
		*status = CSV_READER_UTF16;
	else
		*status = release_held_byte(reader);
	return taken;
}

/*
 * The byte check_utf16_bom() held back is data after all; a stream that
 * starts with it has no UTF-8 byte-order mark either.
 */
static CsvReaderStatus
release_held_byte(CsvReader *reader)
{
	char		held = (char) reader->held_first_byte;

	reader->utf16_checked = true;
	reader->held_first_byte = -1;
	reader->bom_pending = false;
	return parse_bytes(reader, &held, 1);
}

CsvReaderStatus
csv_reader_parse(CsvReader *reader, const char *data, size_t len)
{
	CsvReaderStatus status;
	size_t		taken;

	taken = check_utf16_bom(reader, data, len, &status);
	data += taken;
	len -= taken;
	if (status != CSV_READER_OK || len == 0)
		return status;
	status = skip_utf8_bom(reader, &data, &len);
	if (status != CSV_READER_OK || len == 0)
		return status;
	return parse_bytes(reader, data, len);
}

/* End of data: completes a last record that has no line terminator. */
CsvReaderStatus
csv_reader_parse_end(CsvReader *reader)
{
	CsvReaderStatus status;

	if (reader->held_first_byte >= 0)
	{
		/* a stream of one byte */
		status = release_held_byte(reader);
		if (status != CSV_READER_OK)
			return status;
	}
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
 * Make the records parsed since the last call available to
 * csv_reader_next(), in place of the ones published before, which must all
 * have been handed out.  The two batches swap roles; the record still being
 * assembled moves over to the batch that libcsv fills next.
 */
CsvReaderStatus
csv_reader_publish(CsvReader *reader)
{
	RecordBatch *parsed = reader->parsing;
	RecordBatch *next = reader->reading;
	size_t		first_field = reader->current.first_field;
	size_t		first_byte = reader->current.first_byte;
	size_t		partial_fields = parsed->nfields - first_field;
	size_t		partial_bytes = parsed->bytes_len - first_byte;
	size_t		i;

	if (!ensure_field_slots(next, partial_fields) ||
		!ensure_capacity((void **) &next->bytes, &next->bytes_cap, partial_bytes, 1))
	{
		reader->out_of_memory = true;
		return CSV_READER_OUT_OF_MEMORY;
	}
	if (partial_fields > 0)
		memcpy(next->fields, parsed->fields + first_field, partial_fields * sizeof(CsvField));
	for (i = 0; i < partial_fields; i++)
		next->offsets[i] = parsed->offsets[first_field + i] - first_byte;
	if (partial_bytes > 0)
		memcpy(next->bytes, parsed->bytes + first_byte, partial_bytes);
	next->nfields = partial_fields;
	next->bytes_len = partial_bytes;
	next->nrecords = 0;
	next->next_record = 0;

	parsed->nfields = first_field;
	parsed->bytes_len = first_byte;
	reader->current.first_field = 0;
	reader->current.first_byte = 0;
	reader->reading = parsed;
	reader->parsing = next;
	return CSV_READER_OK;
}

/*
 * Hand out the next published record.  Its field values stay valid until
 * the next csv_reader_publish().
 */
bool
csv_reader_next(CsvReader *reader, CsvRecord *record)
{
	RecordBatch *batch = reader->reading;
	const BatchRecord *batch_record;
	size_t		i;

	if (batch->next_record >= batch->nrecords)
		return false;
	batch_record = &batch->records[batch->next_record++];

	for (i = batch_record->first_field;
		 i < batch_record->first_field + batch_record->nkept; i++)
		batch->fields[i].value = batch->fields[i].is_null ? ""
			: batch->bytes + batch->offsets[i];

	record->line = batch_record->line;
	record->too_long = batch_record->too_long;
	record->malformed = batch_record->malformed;
	record->nfields = batch_record->nfields;
	record->nkept = batch_record->nkept;
	/* fields may still be unallocated when no record kept a field */
	record->fields = batch_record->nkept > 0
		? batch->fields + batch_record->first_field : NULL;
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
		case CSV_READER_SPACE_BEFORE_QUOTE:
			return "space before the opening quote of a field";
		case CSV_READER_UTF16:
			return "the data is UTF-16 (it starts with a UTF-16 byte-order mark)";
	}
	return "unknown error";
}
