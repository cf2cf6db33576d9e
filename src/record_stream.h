/*
 * record_stream.h
 *		The CSV records of an export as the bytes arrive, page after page.
 */
#ifndef CSV_EXPORT_RECORD_STREAM_H
#define CSV_EXPORT_RECORD_STREAM_H

#include "csv_reader.h"
#include "fetch_check.h"
#include "option.h"

typedef struct RecordStream RecordStream;

extern RecordStream *record_stream_open(const CsvExportOptions *options, const char *url,
										FetchCheck *check);
extern bool record_stream_header(RecordStream *stream, CsvRecord *header);
extern void record_stream_keep_fields(RecordStream *stream, const bool *keep, int nkeep);
extern bool record_stream_next(RecordStream *stream, CsvRecord *record);
extern uint64 record_stream_line(const RecordStream *stream);

/* what a stream (or a scan's passes) fetched, for EXPLAIN ANALYZE */
typedef struct ExportStats
{
	int			pages;
	int			requests;
	uint64		bytes;			/* received */
	uint64		bytes_decoded;	/* after Content-Encoding and compression */
	char		compression[32];	/* what the body was decoded from; "" before */
	int			members;		/* of archives, read */
} ExportStats;

extern void record_stream_add_stats(const RecordStream *stream, ExportStats *stats);
extern int	record_stream_page(const RecordStream *stream, const char **display_url);
extern const char *record_stream_member(const RecordStream *stream);
extern void record_stream_close(RecordStream *stream);

#endif							/* CSV_EXPORT_RECORD_STREAM_H */
