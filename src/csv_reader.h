/*
 * csv_reader.h
 *		Incremental RFC 4180 record reader on top of libcsv.
 *
 * This header is deliberately free of PostgreSQL: the reader is compiled on
 * its own for fuzzing, so it allocates with malloc and reports errors as
 * codes that the caller turns into ereports.
 */
#ifndef CSV_READER_H
#define CSV_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct CsvReader CsvReader;

/*
 * What a field costs besides its bytes, counted toward a record's limit
 * (csv_reader_limit_record): its CsvField and offset, its terminating NUL,
 * and the slack of arrays that grow by doubling, rounded up.  Without it a
 * record made only of delimiters (no field bytes at all) would grow
 * without limit.
 */
#define CSV_READER_FIELD_OVERHEAD 64

typedef enum CsvReaderStatus
{
	CSV_READER_OK = 0,
	CSV_READER_OUT_OF_MEMORY,
	CSV_READER_QUOTE_IN_UNQUOTED_FIELD,
	CSV_READER_SPACE_BEFORE_QUOTE,	/* that quote follows only spaces */
	CSV_READER_TEXT_AFTER_CLOSING_QUOTE,
	CSV_READER_UNTERMINATED_QUOTE,
	CSV_READER_RECORD_TOO_LONG,
	CSV_READER_UTF16			/* starts with a UTF-16 byte-order mark */
} CsvReaderStatus;

/* One field of a record, as handed out by csv_reader_next(). */
typedef struct CsvField
{
	int			number;			/* 0-based position in the record */
	bool		is_null;		/* an unquoted empty field */
	size_t		len;
	const char *value;			/* NUL-terminated; "" when is_null */
} CsvField;

typedef struct CsvRecord
{
	uint64_t	line;			/* physical line the record starts on, 1-based */
	bool		too_long;		/* over the byte limit and skipped: no fields */
	CsvReaderStatus malformed;	/* CSV_READER_OK, or why it was skipped: no fields */
	int			nfields;		/* fields in the record, kept or not */
	int			nkept;			/* entries in fields[] */
	const CsvField *fields;		/* only the fields the caller asked to keep */
} CsvRecord;

extern CsvReader *csv_reader_create(char delimiter, char quote, bool strip_utf8_bom);
extern void csv_reader_destroy(CsvReader *reader);
extern bool csv_reader_keep_fields(CsvReader *reader, const bool *keep, int nkeep);
extern void csv_reader_limit_record(CsvReader *reader, size_t max_bytes, bool skip_longer);
extern void csv_reader_skip_malformed(CsvReader *reader, bool skip);
extern void csv_reader_trim_spaces(CsvReader *reader, bool trim);

/*
 * Parsing and reading may run on two threads: csv_reader_parse() and
 * csv_reader_parse_end() on one, while csv_reader_next() hands out what
 * the last csv_reader_publish() made available on the other.  Everything
 * else, csv_reader_publish() included, needs both sides to be idle, and
 * publishing needs the records published before all handed out.
 */
extern CsvReaderStatus csv_reader_parse(CsvReader *reader, const char *data, size_t len);
extern CsvReaderStatus csv_reader_parse_end(CsvReader *reader);
extern CsvReaderStatus csv_reader_publish(CsvReader *reader);
extern bool csv_reader_next(CsvReader *reader, CsvRecord *record);

extern uint64_t csv_reader_current_line(const CsvReader *reader);
extern const char *csv_reader_status_message(CsvReaderStatus status);

#endif							/* CSV_READER_H */
