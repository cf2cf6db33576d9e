/*
 * convert.c
 *		Turning CSV field text into column values.
 *
 * Each value goes through its column type's own input function, after the
 * bytes are checked (and if need be converted) from the export's encoding to
 * the database encoding.  The lookups that conversion needs are done once per
 * scan, not per value.
 */
#include "postgres.h"

#include "access/transam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"
#include "mb/pg_wchar.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "compat.h"
#include "csv_export_fdw.h"
#include "convert.h"

typedef struct ColumnInput
{
	FmgrInfo	function;
	Oid			ioparam;
	int32		typmod;
	bool		utc_timestamp_fast_path;	/* timestamptz without typmod */
	bool		text_fast_path; /* text: textin would only copy the bytes */
	bool		reports_softly; /* a bad value is reported, not raised (16+) */
} ColumnInput;

struct ValueConverter
{
	ColumnInput *columns;		/* by attribute index; unused for dropped ones */

	int			source_encoding;
	int			server_encoding;
	Oid			conversion_proc;	/* InvalidOid: only verify */
	int			verify_encoding;

	const char *null_string;	/* NULL: unquoted empty field is NULL */
};

static void
set_up_encoding(ValueConverter *converter, int source_encoding)
{
	int			server_encoding = GetDatabaseEncoding();

	converter->source_encoding = source_encoding;
	converter->server_encoding = server_encoding;
	converter->conversion_proc = InvalidOid;

	/* as pg_any_to_server: these cases need no conversion, only a check */
	if (source_encoding == server_encoding || source_encoding == PG_SQL_ASCII)
		converter->verify_encoding = server_encoding;
	else if (server_encoding == PG_SQL_ASCII)
		converter->verify_encoding = source_encoding;
	else
	{
		converter->conversion_proc = FindDefaultConversionProc(source_encoding,
															   server_encoding);
		if (!OidIsValid(converter->conversion_proc))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("default conversion function for encoding \"%s\" to \"%s\" does not exist",
							pg_encoding_to_char(source_encoding),
							pg_encoding_to_char(server_encoding))));
	}
}

/*
 * A converter for the columns of tupdesc, or, with tupdesc NULL, one that
 * only converts text to the database encoding.
 */
ValueConverter *
value_converter_create(TupleDesc tupdesc, int source_encoding, const char *null_string)
{
	ValueConverter *converter = palloc0(sizeof(ValueConverter));
	int			natts = tupdesc ? tupdesc->natts : 0;
	int			i;

	converter->columns = palloc0(sizeof(ColumnInput) * Max(natts, 1));
	for (i = 0; i < natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);
		Oid			function;

		if (attr->attisdropped)
			continue;
		getTypeInputInfo(attr->atttypid, &function, &converter->columns[i].ioparam);
		fmgr_info(function, &converter->columns[i].function);
		converter->columns[i].typmod = attr->atttypmod;
		converter->columns[i].utc_timestamp_fast_path =
			(attr->atttypid == TIMESTAMPTZOID && attr->atttypmod < 0);
		converter->columns[i].text_fast_path = (attr->atttypid == TEXTOID);

		/*
		 * Core types' input functions report bad values softly from 16 on;
		 * an extension's type, a domain (whose CHECK may raise) or a
		 * composite (whose fields may be of either) might raise instead.
		 */
		converter->columns[i].reports_softly = COMPAT_SOFT_INPUT_ERRORS &&
			attr->atttypid < FirstGenbkiObjectId &&
			function < FirstGenbkiObjectId;
	}
	set_up_encoding(converter, source_encoding);
	converter->null_string = null_string ? pstrdup(null_string) : NULL;
	return converter;
}

/*
 * Whether len bytes at s are all ASCII without a zero byte, which every
 * server encoding accepts as is.  Most export fields are short and ASCII,
 * and this is several times cheaper for them than pg_verify_mbstr().
 */
static inline bool
is_plain_ascii(const char *s, size_t len)
{
	const uint64 high_bits = UINT64CONST(0x8080808080808080);
	const uint64 low_bits = UINT64CONST(0x0101010101010101);
	size_t		i = 0;

	for (; i + sizeof(uint64) <= len; i += sizeof(uint64))
	{
		uint64		word;

		memcpy(&word, s + i, sizeof(word));
		/* a byte >= 0x80 sets its high bit; so does a zero byte, less one */
		if ((word | (word - low_bits)) & high_bits)
			return false;
	}
	for (; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == 0 || c >= 0x80)
			return false;
	}
	return true;
}

/*
 * value in the database encoding: checked, and converted if the export is in
 * another encoding.  The result is NUL-terminated; it may be value itself.
 * With softly, a byte sequence invalid in the export's encoding gives NULL
 * instead of an ERROR.
 */
static const char *
to_server(ValueConverter *converter, const char *value, size_t len, bool softly)
{
	char	   *converted;
	size_t		converted_size;

	if (!OidIsValid(converter->conversion_proc))
	{
		if (is_plain_ascii(value, len))
			return value;
		if (softly)
			return pg_verify_mbstr(converter->verify_encoding, value, len, true) ? value : NULL;
		pg_verify_mbstr(converter->verify_encoding, value, len, false);
		return value;
	}

	if (len >= MaxAllocSize / MAX_CONVERSION_GROWTH)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("field value is too long to convert between encodings")));
	converted_size = len * MAX_CONVERSION_GROWTH + 1;
	converted = palloc(converted_size);
	/* with noError, it converts up to the first bad byte */
	if (pg_do_encoding_conversion_buf(converter->conversion_proc,
									  converter->source_encoding,
									  converter->server_encoding,
									  (unsigned char *) value, len,
									  (unsigned char *) converted, converted_size,
									  softly) < (int) len)
		return NULL;
	return converted;
}

const char *
value_converter_to_server(ValueConverter *converter, const char *value, size_t len)
{
	return to_server(converter, value, len, false);
}

/* whether value is valid text in the export's encoding; never raises for it */
bool
value_converter_check_encoding(ValueConverter *converter, const char *value, size_t len)
{
	return to_server(converter, value, len, true) != NULL;
}

/*
 * Whether s starts with an ISO 8601 calendar date, "YYYY-MM-DD", that is a
 * real date (year 1 on); its parts then in year, month and day.  The one
 * reading of dates for the timestamp fast path and IMPORT's inference.
 */
bool
parse_iso_date(const char *s, size_t len, int *year, int *month, int *day)
{
	if (len < 10 || s[4] != '-' || s[7] != '-')
		return false;
	*year = parse_digits(s, 4);
	*month = parse_digits(s + 5, 2);
	*day = parse_digits(s + 8, 2);
	return *year >= 1 && *month >= 1 && *month <= 12 && *day >= 1 &&
		*day <= day_tab[isleap(*year)][*month - 1];
}

/*
 * The commonest timestamp of exports, "2024-12-01T10:15:30Z" (optionally
 * with up to six fraction digits, a space for the T, or "+00:00"), parsed
 * directly.  timestamptz_in costs about half a second per million values;
 * this costs a tenth of that.  Anything else, including forms this could
 * read but timestamptz_in would round or reject (a 60th second, more
 * fraction digits), returns false and goes to timestamptz_in, so the
 * result is always the one timestamptz_in gives: for a UTC time it depends
 * on neither TimeZone nor DateStyle.
 */
static bool
parse_iso_utc_timestamp(const char *s, size_t len, TimestampTz *result)
{
	int			year,
				month,
				day,
				hour,
				minute,
				second;
	int			usec = 0;
	size_t		pos = 19;

	if (len < 20 || !parse_iso_date(s, len, &year, &month, &day) ||
		(s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
		return false;
	hour = parse_digits(s + 11, 2);
	minute = parse_digits(s + 14, 2);
	second = parse_digits(s + 17, 2);
	if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59)
		return false;

	if (s[pos] == '.')
	{
		int			digits = 0;

		for (pos++; pos < len && s[pos] >= '0' && s[pos] <= '9'; pos++, digits++)
			usec = usec * 10 + (s[pos] - '0');
		if (digits == 0 || digits > 6)
			return false;
		for (; digits < 6; digits++)
			usec *= 10;
	}
	if (!((len - pos == 1 && s[pos] == 'Z') ||
		  (len - pos == 6 && strncmp(s + pos, "+00:00", 6) == 0) ||
		  (len - pos == 3 && strncmp(s + pos, "+00", 3) == 0)))
		return false;

	*result = (TimestampTz) (date2j(year, month, day) - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY +
		(((int64) hour * MINS_PER_HOUR + minute) * SECS_PER_MINUTE + second) * USECS_PER_SEC +
		usec;
	return true;
}

/*
 * The value of attribute attindex for one CSV field.  unquoted_empty says
 * the field was empty and unquoted, which is NULL unless a null string is
 * set (libcsv cannot tell whether a non-empty field was quoted, so the null
 * string matches either way).  With softly, see value_converter_try_datum().
 */
static bool
convert_value(ValueConverter *converter, int attindex, const char *value, size_t len,
			  bool unquoted_empty, bool softly, Datum *result, bool *isnull)
{
	ColumnInput *column = &converter->columns[attindex];
	const char *text;

	if (converter->null_string == NULL ? unquoted_empty
		: strcmp(value, converter->null_string) == 0)
	{
		*isnull = true;
		*result = (Datum) 0;
		return true;
	}

	*isnull = false;
	text = to_server(converter, value, len, softly);
	if (text == NULL)
		return false;
	/* text is value itself unless converted, and then its length differs */
	if (text != value)
		len = strlen(text);
	if (column->text_fast_path)
	{
		*result = PointerGetDatum(cstring_to_text_with_len(text, len));
		return true;
	}
	if (column->utc_timestamp_fast_path)
	{
		TimestampTz timestamp;

		if (parse_iso_utc_timestamp(text, len, &timestamp))
		{
			*result = TimestampTzGetDatum(timestamp);
			return true;
		}
	}
	if (softly)
	{
		/* a value only an input function that may raise can judge: unknown */
		if (!column->reports_softly)
			return false;
		return compat_input_function_call_safe(&column->function, unconstify(char *, text),
											   column->ioparam, column->typmod, result);
	}
	*result = InputFunctionCall(&column->function, unconstify(char *, text),
								column->ioparam, column->typmod);
	return true;
}

Datum
value_converter_datum(ValueConverter *converter, int attindex,
					  const char *value, size_t len, bool unquoted_empty,
					  bool *isnull)
{
	Datum		result;

	(void) convert_value(converter, attindex, value, len, unquoted_empty, false,
						 &result, isnull);
	return result;
}

/*
 * value_converter_datum() that never raises an ERROR for a bad value: it
 * returns false for one, and also for a value that only an input function
 * that might raise could judge (a column that does not report softly, past
 * its fast path).  Other errors raise.
 */
bool
value_converter_try_datum(ValueConverter *converter, int attindex,
						  const char *value, size_t len, bool unquoted_empty,
						  Datum *result, bool *isnull)
{
	return convert_value(converter, attindex, value, len, unquoted_empty, true,
						 result, isnull);
}

/*
 * Whether value_converter_try_datum() can usually convert a good value of
 * attribute attindex: its input reports bad values softly (core types from
 * PostgreSQL 16 on), or its fast path, which never raises, takes most
 * values (text, and ISO 8601 UTC timestamps for timestamptz).
 */
bool
value_converter_converts_softly(ValueConverter *converter, int attindex)
{
	ColumnInput *column = &converter->columns[attindex];

	return column->text_fast_path || column->utc_timestamp_fast_path ||
		column->reports_softly;
}

/*
 * A value as text for a URL query parameter, or NULL if it has none (an
 * infinite timestamp).  Dates and times are ISO 8601, whatever DateStyle and
 * TimeZone say, and timestamptz is given in UTC with a "Z", which is what
 * export APIs understand; other types use their output function.
 */
char *
value_to_query_text(Datum value, Oid type)
{
	struct pg_tm tm;
	fsec_t		fsec;
	char		buf[MAXDATELEN + 2];
	Oid			output_function;
	bool		is_varlena;

	switch (type)
	{
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
			if (TIMESTAMP_NOT_FINITE(DatumGetTimestamp(value)) ||
				timestamp2tm(DatumGetTimestamp(value), NULL, &tm, &fsec, NULL, NULL) != 0)
				return NULL;
			EncodeDateTime(&tm, fsec, false, 0, NULL, USE_XSD_DATES, buf);
			if (type == TIMESTAMPTZOID)
				strlcat(buf, "Z", sizeof(buf));
			return pstrdup(buf);
		case DATEOID:
			if (DATE_NOT_FINITE(DatumGetDateADT(value)))
				return NULL;
			j2date(DatumGetDateADT(value) + POSTGRES_EPOCH_JDATE,
				   &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
			EncodeDateOnly(&tm, USE_XSD_DATES, buf);
			return pstrdup(buf);
		default:
			getTypeOutputInfo(type, &output_function, &is_varlena);
			return OidOutputFunctionCall(output_function, value);
	}
}
