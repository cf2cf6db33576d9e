/*
 * convert.h
 *		CSV field text into column values, and values into query text.
 */
#ifndef CSV_EXPORT_CONVERT_H
#define CSV_EXPORT_CONVERT_H

#include "access/tupdesc.h"

typedef struct ValueConverter ValueConverter;

extern ValueConverter *value_converter_create(TupleDesc tupdesc, int source_encoding,
											  const char *null_string);
extern Datum value_converter_datum(ValueConverter *converter, int attindex,
								   const char *value, size_t len, bool unquoted_empty,
								   bool *isnull);
extern char *value_to_query_text(Datum value, Oid type);
extern bool parse_iso_date(const char *s, size_t len, int *year, int *month, int *day);
extern bool value_converter_try_datum(ValueConverter *converter, int attindex,
									  const char *value, size_t len, bool unquoted_empty,
									  Datum *result, bool *isnull);
extern bool value_converter_converts_softly(ValueConverter *converter, int attindex);
extern const char *value_converter_to_server(ValueConverter *converter,
											 const char *value, size_t len);
extern bool value_converter_check_encoding(ValueConverter *converter,
										   const char *value, size_t len);

/*
 * The number written by the n decimal digits at s, or -1 if they are not
 * digits.  Inline: the timestamp fast path calls it six times per value.
 */
static inline int
parse_digits(const char *s, int n)
{
	int			value = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return -1;
		value = value * 10 + (s[i] - '0');
	}
	return value;
}

#endif							/* CSV_EXPORT_CONVERT_H */
