/*
 * csv_reader_test.c
 *		Unit tests of src/csv_reader.c, outside the server.
 *
 * Every input is parsed whole, split in two at every byte position, and one
 * byte at a time; all three must give exactly the expected records (or the
 * expected error), which is what makes chunk boundaries safe.
 *
 * Output: one line per case, then "N passed, N failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/csv_reader.h"

typedef struct TestCase
{
	const char *name;
	const char *input;
	size_t		input_len;		/* 0: strlen(input) */
	const bool *keep;			/* NULL: keep every field */
	int			nkeep;
	const char *expected;		/* dump of the records, see dump_record() */
	CsvReaderStatus expected_status;
	size_t		max_record_bytes;	/* 0: no limit */
	bool		skip_long;
} TestCase;

/* 8 bytes of field data in two fields, each counting its overhead too */
#define LIMIT_8_IN_2 (8 + 2 * CSV_READER_FIELD_OVERHEAD)

static const bool keep_second[] = {false, true};

static const TestCase cases[] = {
	{"simple", "a,b\n1,2\n", 0, NULL, 0, "1:[a|b] 2:[1|2] ", CSV_READER_OK, 0, false},
	{"crlf records", "a,b\r\n1,2\r\n", 0, NULL, 0, "1:[a|b] 2:[1|2] ", CSV_READER_OK, 0, false},
	{"cr records", "a,b\r1,2\r", 0, NULL, 0, "1:[a|b] 2:[1|2] ", CSV_READER_OK, 0, false},
	{"no final newline", "a,b\n1,2", 0, NULL, 0, "1:[a|b] 2:[1|2] ", CSV_READER_OK, 0, false},
	{"quoted delimiter and escapes", "\"x,y\",\"say \"\"hi\"\"\"\n", 0, NULL, 0,
	"1:[x,y|say \"hi\"] ", CSV_READER_OK, 0, false},
	{"newlines in quotes count as lines", "\"a\nb\",c\n\"d\r\ne\",f\ng,h\n", 0, NULL, 0,
	"1:[a\nb|c] 3:[d\r\ne|f] 5:[g|h] ", CSV_READER_OK, 0, false},
	{"empty unquoted is null, quoted is empty", ",\"\",x\n", 0, NULL, 0,
	"1:[<NULL>||x] ", CSV_READER_OK, 0, false},
	{"trailing delimiter gives a null field", "a,\n", 0, NULL, 0, "1:[a|<NULL>] ", CSV_READER_OK, 0, false},
	{"spaces are data", " a , b \n", 0, NULL, 0, "1:[ a | b ] ", CSV_READER_OK, 0, false},
	{"blank lines skipped but counted", "a\n\n\nb\r\n\r\nc\n", 0, NULL, 0,
	"1:[a] 4:[b] 6:[c] ", CSV_READER_OK, 0, false},
	{"utf-8 bom dropped", "\xEF\xBB\xBFid,x\n1,2\n", 0, NULL, 0, "1:[id|x] 2:[1|2] ", CSV_READER_OK, 0, false},
	{"partial bom is data", "\xEF\xBBid\n", 0, NULL, 0, "1:[\xEF\xBBid] ", CSV_READER_OK, 0, false},
	{"stream shorter than a bom", "\xEF\xBB", 0, NULL, 0, "1:[\xEF\xBB] ", CSV_READER_OK, 0, false},
	{"empty stream", "", 0, NULL, 0, "", CSV_READER_OK, 0, false},
	{"utf-16le bom refused", "\xFF\xFEi\0d\0\n\0", 8, NULL, 0, "!1", CSV_READER_UTF16, 0, false},
	{"utf-16be bom refused", "\xFE\xFF\0i\0d\0\n", 8, NULL, 0, "!1", CSV_READER_UTF16, 0, false},
	{"0xff then other bytes is data", "\xFFx,\xFE\n1,2\n", 0, NULL, 0, "1:[\xFFx|\xFE] 2:[1|2] ",
	CSV_READER_OK, 0, false},
	{"stream of one 0xfe byte", "\xFE", 0, NULL, 0, "1:[\xFE] ", CSV_READER_OK, 0, false},
	{"nul byte kept in value", "a\0b,c\n", 6, NULL, 0, "1:[a?b|c] ", CSV_READER_OK, 0, false},
	{"kept fields only", "a,b,c\n1,2,3\n", 0, keep_second, 2, "1:[#1=b] 2:[#1=2] ", CSV_READER_OK, 0, false},
	{"no fields kept still counts", "a,b\n1,2,3\n", 0, keep_second, 0, "1:{2} 2:{3} ", CSV_READER_OK, 0, false},
	{"long field", NULL, 0, NULL, 0, NULL, CSV_READER_OK, 0, false},
	{"unterminated quote", "a\n\"open\n", 0, NULL, 0, "1:[a] !2", CSV_READER_UNTERMINATED_QUOTE, 0, false},
	{"quote in unquoted field", "a\nb\"c\n", 0, NULL, 0, "1:[a] !2", CSV_READER_QUOTE_IN_UNQUOTED_FIELD, 0, false},
	{"space before an opening quote", "a,b\n1, \"x\"\n", 0, NULL, 0, "1:[a|b] !2",
	CSV_READER_SPACE_BEFORE_QUOTE, 0, false},
	{"quote after spaces and text", "a\n  b\"\n", 0, NULL, 0, "1:[a] !2",
	CSV_READER_QUOTE_IN_UNQUOTED_FIELD, 0, false},
	/* skipping: a malformed record is handed out as such, and reading goes on at the next line */
	{"stray quote skipped", "a,b\n1,x\"y\n2,z\n", 0, NULL, 0, "1:[a|b] 2:<malformed 2> 3:[2|z] ",
	CSV_READER_OK, 0, true},
	{"text after closing quote skipped, quotes after it ignored", "a,b\n\"1\"x,\"q\n3,4\n5,6",
	0, NULL, 0, "1:[a|b] 2:<malformed 4> 3:[3|4] 4:[5|6] ", CSV_READER_OK, 0, true},
	{"malformed last line without newline", "a\nb\"c", 0, NULL, 0, "1:[a] 2:<malformed 2> ",
	CSV_READER_OK, 0, true},
	{"malformed after quoted newlines", "\"a\nb\",1\nx\"y,2\nc,3\n", 0, NULL, 0,
	"1:[a\nb|1] 3:<malformed 2> 4:[c|3] ", CSV_READER_OK, 0, true},
	{"unterminated quote still stops", "a\n\"open\n", 0, NULL, 0, "1:[a] !2",
	CSV_READER_UNTERMINATED_QUOTE, 0, true},
	{"text after closing quote", "\"a\"b\n", 0, NULL, 0, "!1", CSV_READER_TEXT_AFTER_CLOSING_QUOTE, 0, false},
	/* records over a limit of 8 bytes of field data in two fields */
	{"long record stops", "a,b\n1234,56789\nc,d\n", 0, NULL, 0, "1:[a|b] !2",
	CSV_READER_RECORD_TOO_LONG, LIMIT_8_IN_2, false},
	{"long record of short fields skipped", "a,b\n1234,56789\nc,d\n", 0, NULL, 0,
	"1:[a|b] 2:<too long> 3:[c|d] ", CSV_READER_OK, LIMIT_8_IN_2, true},
	{"long quoted field skipped", "a,b\n\"12\n34\"\"56,78\",x\ny,\"z\"\r\nc,d",
	0, NULL, 0, "1:[a|b] 2:<too long> 4:[y|z] 5:[c|d] ", CSV_READER_OK, LIMIT_8_IN_2, true},
	{"long unquoted field skipped", "a,b\n123456789012,x,\"q\"\"\"\nc,d\n", 0, NULL, 0,
	"1:[a|b] 2:<too long> 3:[c|d] ", CSV_READER_OK, LIMIT_8_IN_2, true},
	{"long field at end of data", "a,b\n" "1234567890123456789012345678901234567890"
	"1234567890123456789012345678901234567890", 0, NULL, 0,
	"1:[a|b] 2:<too long> ", CSV_READER_OK, LIMIT_8_IN_2, true},
	{"unterminated quote in a skipped record", "a,b\n\"123456789012\n", 0, NULL, 0,
	"1:[a|b] !2", CSV_READER_UNTERMINATED_QUOTE, LIMIT_8_IN_2, true},
	{"error line after quoted newlines", "\"a\nb\",1\n\"c\n\nd\",2\nx\"y\n", 0, NULL, 0,
	"1:[a\nb|1] 3:[c\n\nd|2] !6", CSV_READER_QUOTE_IN_UNQUOTED_FIELD, 0, false},
	{"long record line after quoted newline", "\"a\nb\",c\n\"1\n2\",345678901\n", 0, NULL, 0,
	"1:[a\nb|c] !3", CSV_READER_RECORD_TOO_LONG, LIMIT_8_IN_2, false},
	{"quoted newlines and escaped quotes across lines", "\"\"\"\n\",\"\n\"\"\"\nx\ny,\"\"\n", 0, NULL, 0,
	"1:[\"\n|\n\"] 4:[x] 5:[y|] ", CSV_READER_OK, 0, false},
	{"record exactly at the limit", "1234,5678\n", 0, NULL, 0, "1:[1234|5678] ",
	CSV_READER_OK, LIMIT_8_IN_2, true},
};

/* the same, parsed with csv_reader_trim_spaces() */
static const TestCase trim_cases[] = {
	{"trimmed: space before an opening quote", "a,b\n1, \"x\"\n", 0, NULL, 0, "1:[a|b] 2:[1|x] ",
	CSV_READER_OK, 0, false},
	{"trimmed: unquoted ends, not quoted spaces", " a , \" b \" ,c\n", 0, NULL, 0,
	"1:[a| b |c] ", CSV_READER_OK, 0, false},
	{"trimmed: spaces alone are an empty, null field", "a,   ,\"  \"\n", 0, NULL, 0,
	"1:[a|<NULL>|  ] ", CSV_READER_OK, 0, false},
	{"trimmed: text after spaces and a quote", "a\n  \"b\"c\n", 0, NULL, 0, "1:[a] !2",
	CSV_READER_TEXT_AFTER_CLOSING_QUOTE, 0, false},
};

/* whether parse_in_chunks() trims spaces: while trim_cases run */
static bool trim_spaces;

typedef struct Buffer
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Buffer;

static void
append(Buffer *buf, const char *data, size_t len)
{
	if (buf->len + len + 1 > buf->cap)
	{
		buf->cap = (buf->len + len + 1) * 2;
		buf->data = realloc(buf->data, buf->cap);
		if (buf->data == NULL)
			abort();
	}
	memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
}

static void
append_str(Buffer *buf, const char *s)
{
	append(buf, s, strlen(s));
}

/*
 * "LINE:[f0|f1]" with every field kept; "LINE:[#N=value]" naming the field
 * number when only some are; "LINE:{NFIELDS}" when none are.
 */
static void
dump_record(Buffer *out, const CsvRecord *record, bool numbered)
{
	char		prefix[64];
	int			i;

	if (record->too_long)
	{
		snprintf(prefix, sizeof(prefix), "%llu:<too long> ", (unsigned long long) record->line);
		append_str(out, prefix);
		return;
	}
	if (record->malformed != CSV_READER_OK)
	{
		snprintf(prefix, sizeof(prefix), "%llu:<malformed %d> ",
				 (unsigned long long) record->line, (int) record->malformed);
		append_str(out, prefix);
		return;
	}
	if (record->nkept == 0)
	{
		snprintf(prefix, sizeof(prefix), "%llu:{%d} ",
				 (unsigned long long) record->line, record->nfields);
		append_str(out, prefix);
		return;
	}
	snprintf(prefix, sizeof(prefix), "%llu:[", (unsigned long long) record->line);
	append_str(out, prefix);
	for (i = 0; i < record->nkept; i++)
	{
		const CsvField *field = &record->fields[i];
		size_t		j;

		if (i > 0)
			append_str(out, "|");
		if (numbered)
		{
			snprintf(prefix, sizeof(prefix), "#%d=", field->number);
			append_str(out, prefix);
		}
		if (field->is_null)
			append_str(out, "<NULL>");
		for (j = 0; j < field->len; j++)
			append(out, field->value[j] ? &field->value[j] : "?", 1);
	}
	append_str(out, "] ");
}

static void
drain(CsvReader *reader, Buffer *out, bool numbered)
{
	CsvRecord	record;

	while (csv_reader_next(reader, &record))
		dump_record(out, &record, numbered);
}

/*
 * Parse input in chunks of the given sizes (the last one repeats).
 * Pipelined, each chunk is parsed before the records of the chunk before
 * are read, as when a thread parses ahead of the reading one; otherwise
 * each chunk is read as soon as it is parsed.
 */
static CsvReaderStatus
parse_in_chunks(const TestCase *tc, const char *input, size_t len,
				size_t first_chunk, size_t chunk, bool pipelined, Buffer *out)
{
	CsvReader  *reader = csv_reader_create(',', '"', true);
	CsvReaderStatus status = CSV_READER_OK;
	CsvReaderStatus published;
	size_t		pos = 0;

	if (reader == NULL)
		abort();
	if (tc->keep && !csv_reader_keep_fields(reader, tc->keep, tc->nkeep))
		abort();
	if (tc->max_record_bytes)
		csv_reader_limit_record(reader, tc->max_record_bytes, tc->skip_long);
	csv_reader_skip_malformed(reader, tc->skip_long);
	csv_reader_trim_spaces(reader, trim_spaces);
	out->len = 0;
	append_str(out, "");
	while (pos < len && status == CSV_READER_OK)
	{
		size_t		n = (pos == 0) ? first_chunk : chunk;

		if (n > len - pos)
			n = len - pos;
		status = csv_reader_parse(reader, input + pos, n);
		pos += n;
		if (pipelined)
			drain(reader, out, tc->keep != NULL);
		published = csv_reader_publish(reader);
		if (status == CSV_READER_OK)
			status = published;
		if (!pipelined)
			drain(reader, out, tc->keep != NULL);
	}
	if (status == CSV_READER_OK)
	{
		status = csv_reader_parse_end(reader);
		drain(reader, out, tc->keep != NULL);
		published = csv_reader_publish(reader);
		if (status == CSV_READER_OK)
			status = published;
	}
	drain(reader, out, tc->keep != NULL);
	if (status != CSV_READER_OK)
	{
		char		where[32];

		snprintf(where, sizeof(where), "!%llu",
				 (unsigned long long) csv_reader_current_line(reader));
		append_str(out, where);
	}
	csv_reader_destroy(reader);
	return status;
}

static bool
check(const TestCase *tc, const char *input, size_t len, const char *expected,
	  size_t first_chunk, size_t chunk, const char *how)
{
	Buffer		out = {0};
	bool		all_ok = true;
	int			pipelined;

	for (pipelined = 0; pipelined <= 1; pipelined++)
	{
		CsvReaderStatus status = parse_in_chunks(tc, input, len, first_chunk, chunk,
												 pipelined, &out);
		bool		ok = (status == tc->expected_status && strcmp(out.data, expected) == 0);

		if (!ok)
			printf("  %s (%s%s, first chunk %zu): got status %d \"%s\", expected %d \"%s\"\n",
				   tc->name, how, pipelined ? ", pipelined" : "", first_chunk, status,
				   out.data, tc->expected_status, expected);
		all_ok &= ok;
	}
	free(out.data);
	return all_ok;
}

static bool
run_case(const TestCase *tc)
{
	Buffer		long_input = {0};
	Buffer		long_expected = {0};
	const char *input = tc->input;
	const char *expected = tc->expected;
	size_t		len;
	size_t		split;
	bool		ok = true;

	if (input == NULL)
	{
		/* a field much longer than any chunk or parser block */
		int			i;

		append_str(&long_input, "\"");
		append_str(&long_expected, "1:[");
		for (i = 0; i < 300000; i++)
		{
			append_str(&long_input, i % 1000 ? "x" : "\"\"");
			append_str(&long_expected, i % 1000 ? "x" : "\"");
		}
		append_str(&long_input, "\",end\n");
		append_str(&long_expected, "|end] ");
		input = long_input.data;
		expected = long_expected.data;
	}
	len = tc->input_len ? tc->input_len : strlen(input);

	ok &= check(tc, input, len, expected, len ? len : 1, len ? len : 1, "whole");
	if (len < 1000)
	{
		for (split = 1; split < len; split++)
			ok &= check(tc, input, len, expected, split, len, "split in two");
		ok &= check(tc, input, len, expected, 1, 1, "byte by byte");
	}
	else
		ok &= check(tc, input, len, expected, 4096, 4096, "4 kB chunks");

	free(long_input.data);
	free(long_expected.data);
	return ok;
}

static void
run_cases(const TestCase *list, size_t n, int *passed, int *failed)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		bool		ok = run_case(&list[i]);

		printf("csv_reader %-45s %s\n", list[i].name, ok ? "ok" : "FAILED");
		if (ok)
			(*passed)++;
		else
			(*failed)++;
	}
}

/*
 * Generated inputs: records of quoted and unquoted fields with commas,
 * escaped quotes and line breaks at every place of the 64-byte blocks in
 * which the reader finds quotes and line feeds.  Each record's expected
 * line is 1 + the line feeds before its first byte, counted here.
 */
static uint32_t
next_random(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return *state >> 16;
}

static void
generate_field(uint32_t *state, Buffer *input, Buffer *expected, unsigned long long *line)
{
	static const char alphabet[] = "xxx,\"\n";
	Buffer		value = {0};
	size_t		len = next_random(state) % 45;
	size_t		i;
	bool		quoted;

	append_str(&value, "");
	for (i = 0; i < len; i++)
		append(&value, &alphabet[next_random(state) % (sizeof(alphabet) - 1)], 1);
	quoted = len == 0 || strpbrk(value.data, ",\"\n") != NULL || next_random(state) % 2;
	if (quoted)
		append_str(input, "\"");
	for (i = 0; i < len; i++)
	{
		if (value.data[i] == '"')
			append_str(input, "\"");
		if (value.data[i] == '\n')
			(*line)++;
		append(input, &value.data[i], 1);
	}
	if (quoted)
		append_str(input, "\"");
	append(expected, value.data, len);
	free(value.data);
}

static void
generate_records(uint32_t seed, Buffer *input, Buffer *expected)
{
	uint32_t	state = seed;
	unsigned long long line = 1;
	int			nrecords = 2 + next_random(&state) % 4;
	int			r;

	append_str(input, "");
	append_str(expected, "");
	for (r = 0; r < nrecords; r++)
	{
		int			nfields = 1 + next_random(&state) % 4;
		char		prefix[32];
		int			f;

		snprintf(prefix, sizeof(prefix), "%llu:[", line);
		append_str(expected, prefix);
		for (f = 0; f < nfields; f++)
		{
			if (f > 0)
			{
				append_str(input, ",");
				append_str(expected, "|");
			}
			generate_field(&state, input, expected, &line);
		}
		append_str(input, "\n");
		append_str(expected, "] ");
		line++;
	}
}

static void
run_generated_cases(int *passed, int *failed)
{
	uint32_t	seed;
	bool		ok = true;

	for (seed = 1; seed <= 60; seed++)
	{
		Buffer		input = {0};
		Buffer		expected = {0};
		TestCase	tc = {"generated quoted line breaks", NULL, 0, NULL, 0, NULL,
		CSV_READER_OK, 0, false};

		generate_records(seed, &input, &expected);
		tc.input = input.data;
		tc.expected = expected.data;
		ok &= run_case(&tc);
		free(input.data);
		free(expected.data);
	}
	printf("csv_reader %-45s %s\n", "generated quoted line breaks (60 inputs)",
		   ok ? "ok" : "FAILED");
	if (ok)
		(*passed)++;
	else
		(*failed)++;
}

int
main(void)
{
	int			passed = 0;
	int			failed = 0;

	run_cases(cases, sizeof(cases) / sizeof(cases[0]), &passed, &failed);
	run_generated_cases(&passed, &failed);
	trim_spaces = true;
	run_cases(trim_cases, sizeof(trim_cases) / sizeof(trim_cases[0]), &passed, &failed);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
