/*
 * rejects.h
 *		Rows skipped by on_error 'skip', recorded in csv_export.rejects.
 */
#ifndef CSV_EXPORT_REJECTS_H
#define CSV_EXPORT_REJECTS_H

#include "csv_reader.h"

extern char *rejects_record_text(const CsvRecord *record, char delimiter, char quote);
extern void rejects_insert(Oid foreign_table, const char *url, int page, uint64 line,
						   const char *column, const char *error, const char *raw_record);

#endif							/* CSV_EXPORT_REJECTS_H */
