/*
 * export_scan.h
 *		Rows of a foreign table from the records of its export.
 */
#ifndef CSV_EXPORT_EXPORT_SCAN_H
#define CSV_EXPORT_EXPORT_SCAN_H

#include "option.h"
#include "record_stream.h"
#include "utils/relcache.h"

typedef struct ExportScan ExportScan;

extern ExportScan *export_scan_begin(Relation rel, const CsvExportOptions *options,
									 const char *url, const bool *needed);
extern bool export_scan_next(ExportScan *scan, Datum *values, bool *isnull);
extern void export_scan_rescan(ExportScan *scan);
extern void export_scan_end(ExportScan *scan);
extern void export_scan_stats(const ExportScan *scan, ExportStats *stats, uint64 *records);

#endif							/* CSV_EXPORT_EXPORT_SCAN_H */
