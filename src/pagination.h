/*
 * pagination.h
 *		Where a paged export's next page is.
 */
#ifndef CSV_EXPORT_PAGINATION_H
#define CSV_EXPORT_PAGINATION_H

#include "http.h"
#include "option.h"

extern char *pagination_first_url(const CsvExportOptions *options, const char *url);
extern char *pagination_next_url(const CsvExportOptions *options, int page,
								 const char *first_url, const HttpTransfer *transfer,
								 uint64 records);
extern const char *pagination_mode_name(PaginationMode mode);

#endif							/* CSV_EXPORT_PAGINATION_H */
